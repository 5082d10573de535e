"""The activation judges, fed fabricated child outcomes (no subprocess needed)."""

import numpy as np
import pytest

from grader.checks import activations, status
from grader.engine.activations import ACTIVATIONS, SELU_ALPHA
from grader.sandbox.run import CallOutcome, TaskOutcome


def _judge(function, case, value, warnings=()):
    check = activations.CHECKS[function]
    return check.judge(case, TaskOutcome("ok", (CallOutcome(value, warnings=warnings),)),
                       check.tolerance)


def _cases(function, hidden=0):
    check = activations.CHECKS[function]
    return check.public() + check.hidden(np.random.default_rng(11), hidden)


def _case(function, label_part):
    return next(c for c in _cases(function) if label_part in c.label)


def _apply(fn, case):
    return fn(case.data["z"], **case.data["params"])


@pytest.mark.parametrize("function", activations.FUNCTIONS)
def test_reference_passes_every_case(function):
    base = ACTIVATIONS[function.removesuffix("_grad")]
    fn = base.grad if function.endswith("_grad") else base.fn
    for case in _cases(function, hidden=20):
        result = _judge(function, case, _apply(fn, case))
        assert result.passed, (case.label, result.message)


@pytest.mark.parametrize("function", ["sigmoid_grad", "tanh_grad", "gelu_grad", "silu_grad"])
def test_derivative_at_the_output_is_named(function):
    act = ACTIVATIONS[function.removesuffix("_grad")]
    case = _case(function, "kink")
    result = _judge(function, case, act.grad(act.fn(case.data["z"])))
    assert result.status == status.WRONG
    assert "pre-activation" in result.hint


@pytest.mark.parametrize("name, at_zero", [("relu", 1.0), ("leaky_relu", 1.0), ("elu", 1.0),
                                           ("selu", 1.0507009873554805)])
def test_wrong_kink_is_named(name, at_zero):
    # elu with its default alpha = 1 has no visible kink: the alpha = 0.5 case catches it.
    act = ACTIVATIONS[name]
    kinks = [c for c in _cases(f"{name}_grad") if "around the kink" in c.label]
    case = max(kinks, key=lambda c: bool(c.data["params"]))
    z, params = case.data["z"], case.data["params"]
    value = np.where(z == 0, at_zero, act.grad(z, **params))
    result = _judge(f"{name}_grad", case, value)
    assert result.status == status.WRONG
    assert "z = 0" in result.message and "only z = 0 exactly" in result.hint


def test_forward_returned_for_derivative():
    case = _case("tanh_grad", "3-D")
    result = _judge("tanh_grad", case, np.tanh(case.data["z"]))
    assert "not its derivative" in result.hint


def test_ignored_alpha_is_named():
    case = next(c for c in _cases("leaky_relu_grad") if c.data["params"])
    result = _judge("leaky_relu_grad", case, ACTIVATIONS["leaky_relu"].grad(case.data["z"]))
    assert "ignores its alpha" in result.hint


def test_exact_gelu_is_named():
    case = _case("gelu", "3-D")
    result = _judge("gelu", case, activations._exact_gelu(case.data["z"], False))
    assert "tanh approximation" in result.hint


def test_truncated_selu_constants_are_caught_and_named():
    case = _case("selu", "kink")
    z = case.data["z"]
    value = 1.0507 * np.where(z > 0, z, 1.6733 * np.expm1(np.minimum(z, 0)))
    result = _judge("selu", case, value)
    assert result.status == status.WRONG
    assert str(SELU_ALPHA)[:8] in result.hint


def test_nan_at_large_z_names_the_input():
    case = _case("sigmoid", "large")
    value = ACTIVATIONS["sigmoid"].fn(case.data["z"])
    value[1] = np.nan
    result = _judge("sigmoid", case, value)
    assert result.status == status.NON_FINITE
    assert "z = -1000" in result.message and "stable" in result.hint


def test_overflow_warning_fails_the_case():
    case = _case("sigmoid", "large")
    result = _judge("sigmoid", case, ACTIVATIONS["sigmoid"].fn(case.data["z"]),
                    warnings=("RuntimeWarning: overflow encountered in exp",))
    assert result.status == status.WARNING
    assert "overflow encountered in exp" in result.message


def test_zero_d_input_needs_a_zero_d_array_back():
    case = _case("relu", "0-d array at the kink")
    result = _judge("relu", case, 0.0)
    assert result.status == status.BAD_TYPE and "np.asarray" in result.message
    assert _judge("relu", case, np.array(0.0)).passed


def test_bool_derivative_is_a_dtype_error():
    case = _case("relu_grad", "kink")
    result = _judge("relu_grad", case, case.data["z"] > 0)
    assert result.status == status.BAD_DTYPE and "float64" in result.message


def test_tiny_inputs_catch_a_zeroed_small_output():
    case = _case("relu", "tiny")
    z = case.data["z"]
    result = _judge("relu", case, np.where(np.abs(z) < 1e-6, 0.0, np.maximum(z, 0)))
    assert result.status == status.WRONG


def test_hidden_failure_reveals_no_input_or_expected_value():
    case = _cases("tanh", hidden=1)[-1]
    assert case.hidden
    result = _judge("tanh", case, np.asarray(np.tanh(case.data["z"]) + 0.5))
    assert result.status == status.WRONG
    assert "expected" not in result.message and "z =" not in result.message


def test_modified_input_is_reported():
    case = _case("relu", "kink")
    outcome = TaskOutcome("ok", (CallOutcome(np.maximum(case.data["z"], 0), mutated=((0, 0),)),))
    check = activations.CHECKS["relu"]
    result = check.judge(case, outcome, check.tolerance)
    assert result.status == status.MODIFIED_INPUT and "input z" in result.message
