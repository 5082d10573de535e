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


@pytest.mark.parametrize("function", [f for f in activations.FUNCTIONS if "_grad" not in f])
def test_a_warning_in_a_forward_activation_on_huge_z_fails_the_case(function):
    """The contract: forward activations are safe on huge |z|, without warnings."""
    case = _case(function, "large")
    result = _judge(function, case, _apply(ACTIVATIONS[function].fn, case),
                    warnings=("RuntimeWarning: overflow encountered in exp",))
    assert result.status == status.WARNING
    assert "overflow encountered in exp" in result.message and "stable" in result.hint


@pytest.mark.parametrize("function", activations.FUNCTIONS)
def test_a_warning_elsewhere_costs_nothing_when_the_values_are_right(function):
    base = ACTIVATIONS[function.removesuffix("_grad")]
    fn = base.grad if function.endswith("_grad") else base.fn
    label = "large" if function.endswith("_grad") else "around the kink"
    case = _case(function, label)
    result = _judge(function, case, _apply(fn, case),
                    warnings=("RuntimeWarning: overflow encountered in exp",))
    assert result.passed
    assert f"{function} warned (RuntimeWarning: overflow encountered in exp) on " in result.note
    assert "no marks are lost" in result.note
    if function.endswith("_grad"):
        assert "np.exp(np.minimum(z, 0))" in result.note


def test_a_warning_with_wrong_values_is_a_wrong_answer():
    case = _case("elu_grad", "large")
    result = _judge("elu_grad", case, np.zeros_like(case.data["z"]),
                    warnings=("RuntimeWarning: overflow encountered in exp",))
    assert result.status == status.WRONG


def test_a_hidden_case_notes_nothing():
    case = next(c for c in _cases("elu_grad", hidden=5) if c.hidden)
    result = _judge("elu_grad", case, _apply(ACTIVATIONS["elu"].grad, case),
                    warnings=("UserWarning: z[0] = 1.2345678",))
    assert result.passed and result.note == ""


@pytest.mark.parametrize("function", activations.FUNCTIONS)
def test_a_0_d_input_may_give_back_a_numpy_scalar_or_a_python_float(function):
    """np.tanh of a 0-d array is a numpy float64: numpy converts it to a 0-d array exactly."""
    base = ACTIVATIONS[function.removesuffix("_grad")]
    fn = base.grad if function.endswith("_grad") else base.fn
    cases = [c for c in _cases(function, hidden=60) if c.data["z"].ndim == 0]
    assert len(cases) >= 5
    for case in cases:
        value = _apply(fn, case)
        for style in (value[()], float(value), value):
            assert _judge(function, case, style).passed, (case.label, type(style))


def test_a_0_d_answer_of_another_kind_still_fails():
    case = _case("relu", "0-d array at the kink")
    assert _judge("relu", case, np.float32(0.0)).status == status.BAD_DTYPE
    assert _judge("relu", case, np.bool_(False)).status == status.BAD_DTYPE
    assert _judge("relu", case, False).status == status.BAD_TYPE
    assert _judge("relu", case, np.zeros(1)).status == status.WRONG_SHAPE
    assert _judge("relu", case, [0.0]).status == status.WRONG_SHAPE
    assert _judge("relu", case, 1.0).status == status.WRONG


def test_a_list_where_an_array_is_due_passes_when_numpy_converts_it_exactly():
    case = _case("relu", "3-D array")
    value = np.maximum(case.data["z"], 0)
    assert _judge("relu", case, value.tolist()).passed
    assert _judge("relu", case, [list(plane) for plane in value]).passed
    assert _judge("relu", case, value.reshape(2, 12).tolist()).status == status.WRONG_SHAPE
    assert _judge("relu", case, value.tolist()[:1]).status == status.WRONG_SHAPE
    ragged = value.tolist()
    ragged[1][2] = ragged[1][2][:3]
    assert _judge("relu", case, ragged).status == status.WRONG_SHAPE


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


@pytest.mark.parametrize("text, shown", [
    ("RuntimeWarning: overflow encountered in exp", "RuntimeWarning: overflow encountered in exp"),
    ("RuntimeWarning: invalid value encountered in scalar divide",
     "RuntimeWarning: invalid value encountered in scalar divide"),
    ("RuntimeWarning: overflow encountered in z was 4172", "RuntimeWarning: overflow encountered"),
    ("RuntimeWarning: overflow encountered in z = 0.4172", "a warning whose text is not shown"),
    ("UserWarning: the hidden z was [0.4172, 3.1]", "a warning whose text is not shown"),
    ("mine.RuntimeWarning: overflow encountered in exp", "a warning whose text is not shown"),
])
def test_a_warning_is_shown_in_numpy_s_words_only(text, shown):
    """A module may keep a hidden input from an earlier call and warn with it on a public
    case: only numpy's own floating-point wording is ever echoed."""
    case = _case("elu_grad", "large")
    result = _judge("elu_grad", case, _apply(ACTIVATIONS["elu"].grad, case), warnings=(text,))
    assert f"warned ({shown}) on large |z|" in result.note
    forward = _case("elu", "large")
    failed = _judge("elu", forward, _apply(ACTIVATIONS["elu"].fn, forward), warnings=(text,))
    assert failed.status == status.WARNING and failed.message == f"elu warned: {shown}"


def test_an_underflow_warning_a_module_asked_for_costs_nothing_even_forward():
    """np.seterr(under="warn") makes exp(-1000) warn: the 0 it gives is exact."""
    case = _case("sigmoid", "large")
    value = _apply(ACTIVATIONS["sigmoid"].fn, case)
    result = _judge("sigmoid", case, value,
                    warnings=("RuntimeWarning: underflow encountered in exp",))
    assert result.passed and "underflow encountered in exp" in result.note
    both = _judge("sigmoid", case, value, warnings=(
        "RuntimeWarning: underflow encountered in exp",
        "RuntimeWarning: overflow encountered in exp"))
    assert both.status == status.WARNING and "overflow encountered in exp" in both.message


def test_np_maximum_leaky_relu_fails_a_slope_above_1_with_its_hint():
    cases = [c for c in _cases("leaky_relu") if c.data["params"].get("alpha", 0) > 1]
    assert cases and not cases[0].hidden
    z = cases[0].data["z"]
    result = _judge("leaky_relu", cases[0], np.maximum(z, 1.5 * z))
    assert result.status == status.WRONG and "only while alpha <= 1" in result.hint
    below = _case("leaky_relu", "alpha = 0.2")
    assert _judge("leaky_relu", below, np.maximum(below.data["z"], 0.2 * below.data["z"])).passed


def test_a_derivative_s_note_names_the_fix_for_the_operation_that_warned():
    case = _case("tanh_grad", "large")
    value = _apply(ACTIVATIONS["tanh"].grad, case)
    cosh = _judge("tanh_grad", case, value,
                  warnings=("RuntimeWarning: overflow encountered in cosh",))
    assert cosh.passed and "1 - tanh(z)**2" in cosh.note and "np.where" not in cosh.note
    exp = _judge("tanh_grad", case, value, warnings=("RuntimeWarning: overflow encountered in exp",))
    assert "np.exp(np.minimum(z, 0))" in exp.note
