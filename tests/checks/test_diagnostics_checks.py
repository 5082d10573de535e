"""The diagnostics judges (exercise 5), fed outcomes fabricated in this process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.checks import diagnostics as diag
from grader.checks import gradcheck
from grader.checks import status
from grader.checks.compare import fmt
from grader.engine import diagnostics as engine
from grader.sandbox.run import CallOutcome, ErrorInfo, TaskOutcome

from conftest import child, run_in_process

ENGINE = {name: getattr(engine, name) for name in diag.CHECKS}


def _cases(function, hidden=0, seed=9):
    check = diag.CHECKS[function]
    return check.public() + check.hidden(np.random.default_rng(seed), hidden)


def _case(function, label_part):
    return next(c for c in _cases(function) if label_part in c.label)


def _judge(case, impl=None, outcome=None):
    function = case.calls[0].function
    check = diag.CHECKS[function]
    if outcome is None:
        outcome = run_in_process(case, {function: impl or ENGINE[function]})
    return check.judge(case, outcome, check.tolerance)


def _value(case, value, **extra):
    return _judge(case, outcome=TaskOutcome("ok", (CallOutcome(value, **extra),)))


@pytest.mark.parametrize("function", sorted(diag.CHECKS))
def test_the_engine_passes_every_public_and_hidden_case(function):
    for case in _cases(function, hidden=40):
        result = _judge(case)
        assert result.passed, (case.label, result.message)


# --- layer_norms ------------------------------------------------------------------------

def _naive_norms(grads):
    with np.errstate(all="ignore"):
        return np.array([np.sqrt(np.sum(np.asarray(g) ** 2)) for g in grads])


@pytest.mark.parametrize("impl, words", [
    (lambda grads: np.array([np.sum(np.asarray(g) ** 2) for g in grads]), "square root"),
    (lambda grads: np.array([np.abs(g).max() for g in grads]), "largest |entry|"),
    (lambda grads: np.array([np.sqrt(np.mean(np.asarray(g) ** 2)) for g in grads]),
     "do not average"),
    (lambda grads: engine.layer_norms(grads)[::-1], "reverse order"),
])
def test_layer_norms_mistakes_are_named(impl, words):
    results = [_judge(case, impl) for case in _cases("layer_norms")]
    failed = [r for r in results if not r.passed]
    assert failed and any(words in r.hint for r in failed), [(r.message, r.hint) for r in failed]


def test_layer_norms_that_overflow_and_underflow_as_pytorch_s_pass_with_a_note():
    """np.linalg.norm and torch.linalg.vector_norm give inf at 1e200 and 0 at 1e-200."""
    for case in _cases("layer_norms", hidden=60):
        result = _judge(case, _naive_norms)
        assert result.passed, (case.label, result.message)
    overflow = _judge(_case("layer_norms", "1e200"), _naive_norms)
    assert "norms[0] (layer 1) is inf" in overflow.note and "the exact" in overflow.note
    underflow = _judge(_case("layer_norms", "1e-200"), _naive_norms)
    assert "norms[1] (layer 2) is 0 " in underflow.note
    assert "largest |entry|" in underflow.note
    assert _judge(_cases("layer_norms")[0], _naive_norms).note == ""


def test_a_finite_norm_where_pytorch_s_overflows_is_judged_against_the_exact_one():
    """PyTorch's inf is an answer only as inf itself: a finite wrong norm still fails."""
    case = diag._layer_norms_case("entries near 1e200", [np.full(3, 1e200), np.ones(2)], False)
    result = _value(case, np.array([5.0, np.sqrt(2.0)]))
    assert result.status == status.WRONG and "norms[0] (layer 1) is wrong" in result.message
    assert _value(case, np.array([np.inf, np.sqrt(2.0)])).passed
    assert _value(case, np.array([np.sqrt(3.0) * 1e200, np.sqrt(2.0)])).passed


def test_layer_norms_that_overflow_where_pytorch_s_do_not_fail_with_the_scaling_hint():
    def squares_of_squares(grads):  # a 4-norm: overflows at 1e100 already
        with np.errstate(all="ignore"):
            return np.array([np.sum(np.asarray(g) ** 4) ** 0.25 for g in grads])
    case = diag._layer_norms_case("entries near 1e100", [np.full(3, 1e100), np.ones(2)], False)
    result = _judge(case, squares_of_squares)
    assert result.status == status.NON_FINITE and "norms[0] (layer 1) is inf" in result.message
    assert "largest |entry|" in result.hint
    nan = _value(_case("layer_norms", "1e200"), np.array([np.nan, 1.0]))
    assert nan.status == status.NON_FINITE and nan.hint == ""


def test_layer_norms_judge_each_norm_by_its_own_scale():
    case = _case("layer_norms", "grow from 1e-29")
    good = engine.layer_norms(case.data["grads"])
    assert _value(case, good * (1 + 1e-12)).passed
    off = good.copy()
    off[0] *= 1.001  # the smallest norm, 1e-29 of the largest, is still checked
    result = _value(case, off)
    assert not result.passed and "norms[0] (layer 1)" in result.message


def test_layer_norms_may_be_a_list_of_floats_but_not_of_anything():
    case = _cases("layer_norms")[0]
    norms = engine.layer_norms(case.data["grads"])
    assert _value(case, list(norms)).passed  # numpy float64 scalars
    assert _value(case, [float(v) for v in norms]).passed
    result = _value(case, [str(v) for v in norms])
    assert result.status == status.BAD_TYPE and "norms[0] should be a float" in result.message


# --- gradient_ratio ---------------------------------------------------------------------

@pytest.mark.parametrize("impl, words", [
    (lambda norms: float(np.asarray(norms)[-1] / np.asarray(norms)[0]),
     "input side over output side"),
    (lambda norms: float(np.asarray(norms)[0] / np.asarray(norms)[1]), "neighbouring layers"),
    (lambda norms: float(np.max(norms) / np.min(norms)), "largest over the smallest"),
])
def test_gradient_ratio_mistakes_are_named(impl, words):
    with np.errstate(all="ignore"):
        results = [_judge(case, impl) for case in _cases("gradient_ratio")]
    assert any(words in r.hint for r in results if not r.passed)


def test_x_over_zero_is_inf_and_zero_over_zero_is_nan_exactly():
    inf_case = _case("gradient_ratio", "an output layer with norm 0")
    nan_case = _case("gradient_ratio", "all norms 0")
    assert _value(inf_case, math.inf).passed and _value(nan_case, math.nan).passed
    assert _value(inf_case, np.float64(math.inf)).passed
    assert not _value(inf_case, 1e300).passed
    assert not _value(nan_case, 0.0).passed and not _value(nan_case, math.inf).passed
    assert "expected nan, got 0" in _value(nan_case, 0.0).message


def test_a_division_warning_costs_nothing_and_is_noted_with_the_errstate_fix():
    case = _case("gradient_ratio", "an output layer with norm 0")
    result = _value(case, math.inf, warnings=("RuntimeWarning: divide by zero encountered",))
    assert result.passed and "np.errstate" in result.note
    assert "warned (RuntimeWarning: divide by zero encountered) on an output layer" in result.note
    hidden = diag.CHECKS["gradient_ratio"].hidden(np.random.default_rng(1), 1)[0]
    secret = _value(hidden, engine.gradient_ratio(hidden.data["norms"]),
                    warnings=("UserWarning: norms[0] was 0.123",))
    assert secret.passed and secret.note == ""
    wrong = _value(case, 1.0, warnings=("RuntimeWarning: divide by zero encountered",))
    assert wrong.status == status.WRONG


def test_python_division_by_zero_gets_a_hint():
    case = _case("gradient_ratio", "a list whose output norm is 0.0")
    assert isinstance(case.data["norms"], list)
    outcome = TaskOutcome("exception", (), ErrorInfo("ZeroDivisionError", "float division by zero",
                                                      "diagnostics.py:3 in gradient_ratio"))
    result = _judge(case, outcome=outcome)
    assert result.status == status.EXCEPTION and "numpy array" in result.hint


# --- diagnose ---------------------------------------------------------------------------

def _non_strict(norms, vanish_below=1e-2, explode_above=1e2):
    r = engine.gradient_ratio(norms)
    return "vanishing" if r <= vanish_below else "exploding" if r >= explode_above else "healthy"


def _swapped(norms, vanish_below=1e-2, explode_above=1e2):
    return {"vanishing": "exploding", "exploding": "vanishing", "healthy": "healthy"}[
        engine.diagnose(norms, vanish_below, explode_above)]


def _fixed(norms, vanish_below=1e-2, explode_above=1e2):
    return engine.diagnose(norms)


@pytest.mark.parametrize("impl, words", [
    (_non_strict, "compare strictly"),
    (_swapped, "verdicts are swapped"),
    (_fixed, "only their defaults"),
])
def test_diagnose_mistakes_are_named(impl, words):
    results = [_judge(case, impl) for case in _cases("diagnose")]
    failed = [r for r in results if not r.passed]
    assert failed and all(words in r.hint for r in failed), [(r.label, r.hint) for r in failed]


def test_ratios_exactly_at_the_thresholds_are_really_on_them():
    for case in _cases("diagnose"):
        if "exactly" in case.label:
            ratio = engine.gradient_ratio(case.data["norms"])
            assert ratio in diag._thresholds(case), case.label
            assert engine.diagnose(case.data["norms"], *diag._thresholds(case)) == "healthy"
    hidden = [c for c in diag.CHECKS["diagnose"].hidden(np.random.default_rng(2), 60)
              if engine.gradient_ratio(c.data["norms"]) in diag._thresholds(c)]
    assert hidden, "some hidden cases sit exactly on a threshold"


@pytest.mark.parametrize("value, code, words", [
    ("Vanishing", status.WRONG, "write 'vanishing' exactly"),
    ("ok", status.WRONG, "got 'ok'"),
    ("ratio 0.00123 is small", status.WRONG, "another str of 22 characters"),
    (None, status.BAD_TYPE, "got None"),
    (0.5, status.BAD_TYPE, "got a number"),
])
def test_a_verdict_must_be_one_of_the_three_words(value, code, words):
    result = _value(_cases("diagnose")[0], value)
    assert result.status == code and words in result.message, result.message


# --- numerical_gradient -----------------------------------------------------------------

def _forward(f, x, h=1e-5):
    p = np.array(x, dtype=np.float64)
    g, f0 = np.empty_like(p), f(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + h
        g[i] = (f(p) - f0) / h
        p[i] = old
    return g


def _stepping(f, x, h=1e-5):
    """Correct, but its points (and its copy) drift by an ulp: x[i] += h, -= 2h, += h."""
    p = np.array(x, dtype=np.float64)
    g = np.empty_like(p)
    for i in np.ndindex(p.shape):
        p[i] += h
        up = f(p)
        p[i] -= 2 * h
        down = f(p)
        p[i] += h
        g[i] = (up - down) / 2 / h
    return g


def _margin(case, impl) -> float:
    """How far impl is from the reference, in tolerances (the judge's own measure)."""
    d = case.data
    got = impl(child.PROVIDED[d["f"]], d["x"], d["h"])
    ref = gradcheck._reference_gradient(case)
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref))
                 / gradcheck.GRADIENT_TOLERANCE.atol_scale)


def test_forward_differences_fail_far_outside_the_tolerance_on_every_public_case():
    # The figures quoted in grader/checks/gradcheck.py: h |f''| / 2 is at least 337
    # tolerances on every public case with the default h (the others test other things).
    default_h = [c for c in _cases("numerical_gradient") if c.data["h"] == 1e-5]
    assert len(default_h) >= 5
    margins = [_margin(case, _forward) for case in default_h]
    assert min(margins) > 300, margins
    for case in default_h:
        result = _judge(case, _forward)
        assert result.status == status.WRONG and "centred differences" in result.hint


def test_correct_variants_stay_far_inside_the_tolerance():
    # Stepping in place puts the points an ulp off (5.4e-10, 18x inside, at worst over
    # 2,000 hidden cases); a different order of division changes the last bit.
    cases = _cases("numerical_gradient", hidden=150)
    worst = max(_margin(case, impl) for case in cases for impl in (_stepping, _halved))
    assert worst < 1 / 10, worst
    for case in cases[:20]:
        assert _judge(case, _halved).passed


def _halved(f, x, h=1e-5):
    """Correct, with the last bit of every entry changed (a different order of division)."""
    return np.asarray(engine.numerical_gradient(f, x, h) * (1 + 2.0 ** -52))


def test_the_centred_reference_is_within_h_squared_of_the_exact_gradient():
    for case in _cases("numerical_gradient", hidden=40):
        d = case.data
        exact = gradcheck.TEST_FUNCTIONS[d["f"]].grad(d["x"])
        err = np.max(np.abs(gradcheck._reference_gradient(case) - exact))
        assert err <= 20 * d["h"] ** 2 * max(1.0, np.max(np.abs(exact))) + 1e-9, case.label


@pytest.mark.parametrize("impl, words", [
    (_forward, "one-sided"),
    (lambda f, x, h=1e-5: 2 * engine.numerical_gradient(f, x, h), "divide by 2 h"),
    (lambda f, x, h=1e-5: engine.numerical_gradient(f, x, 1e-5), "use the h argument"),
    (lambda f, x, h=1e-5: gradcheck._not_restored(f, x, h), "put each entry back"),
    (lambda f, x, h=1e-5: gradcheck._whole_rows(f, x, h) if np.ndim(x) == 2
     else engine.numerical_gradient(f, x, h), "x[i] is a whole row"),
])
def test_numerical_gradient_mistakes_are_named(impl, words):
    results = [_judge(case, impl) for case in _cases("numerical_gradient")]
    failed = [r for r in results if not r.passed]
    assert failed and any(words in r.hint for r in failed), [(r.label, r.hint) for r in failed]


@pytest.mark.parametrize("step", [1e-3, 1e-4, 1e-6, 1e-7])
def test_a_fixed_step_is_named_on_the_first_failing_case(step):
    def fixed(f, x, h=1e-5):
        return engine.numerical_gradient(f, x, step)
    for hidden in (False, True):
        cases = _cases("numerical_gradient", hidden=20)
        failed = [r for r in (_judge(case, fixed) for case in cases)
                  if not r.passed and r.hidden == hidden]
        assert failed, step
        assert "use the h argument" in failed[0].hint, (failed[0].label, failed[0].hint)
        assert f"a step of {step:g}" in failed[0].hint
    first = next(r for r in (_judge(case, fixed) for case in _cases("numerical_gradient"))
                 if not r.passed)
    if "h not given" in first.label:
        assert "h was not given, so its default 1e-5 applies" in first.hint
    else:
        assert "was given" in first.hint


def test_a_flattened_gradient_is_a_shape_error_with_a_hint():
    case = _case("numerical_gradient", "x of shape (3, 4)")
    result = _judge(case, lambda f, x, h=1e-5: engine.numerical_gradient(f, x, h).ravel())
    assert result.status == status.WRONG_SHAPE and "np.zeros_like(x)" in result.hint


def test_calling_the_2d_f_on_a_flat_x_gets_a_hint():
    case = _case("numerical_gradient", "row @ v")
    with pytest.raises(ValueError, match="takes a 2-D array") as err:
        child.PROVIDED["f_rows"](case.data["x"].ravel())
    outcome = TaskOutcome("exception", (), ErrorInfo("ValueError", str(err.value),
                                                      "diagnostics.py:9 in numerical_gradient"))
    assert "x's own shape" in _judge(case, outcome=outcome).hint


def test_a_modified_x_is_reported_with_the_restore_hint():
    case = _cases("numerical_gradient")[0]
    value = gradcheck._reference_gradient(case)
    result = _value(case, value, mutated=((0, 1),))
    assert result.status == status.MODIFIED_INPUT
    assert "modified its input x" in result.message and "exact" in result.hint


def test_the_function_is_the_childs_and_every_shape_and_h_is_covered():
    cases = _cases("numerical_gradient")
    assert {c.calls[0].args[0].name for c in cases} == set(gradcheck.TEST_FUNCTIONS)
    assert {c.data["x"].ndim for c in cases} == {0, 1, 2, 3}
    assert {"h" in c.calls[0].kwargs or len(c.calls[0].args) == 3 for c in cases} == {True, False}
    assert any(len(c.calls[0].args) == 3 for c in cases)  # h by position


def test_a_public_reference_is_computed_once():
    case = _cases("numerical_gradient")[0]
    assert gradcheck._reference_gradient(case) is gradcheck._reference_gradient(case)
    hidden = diag.CHECKS["numerical_gradient"].hidden(np.random.default_rng(1), 1)[0]
    assert gradcheck._reference_gradient(hidden) is not gradcheck._reference_gradient(hidden)


# --- relative_error ---------------------------------------------------------------------

@pytest.mark.parametrize("flags, words", [(flags, words.split(":")[0]) for words, flags in
                                          diag.RELERR_MISTAKES])
def test_relative_error_mistakes_are_named(flags, words):
    results = [_judge(case, lambda a, b: diag._relerr_model(a, b, **flags))
               for case in _cases("relative_error")]
    named = [r for r in results if not r.passed and r.hint.startswith(words)]
    if flags.get("floor") == 0.0:  # 0 / 0 is NaN before it is a wrong number
        assert any(r.status == status.NON_FINITE and "floor" in r.hint for r in results)
    assert named, [(r.label, r.status, r.hint) for r in results if not r.passed]


def test_the_floor_cases_follow_the_contract():
    zeros = _case("relative_error", "both all zeros")
    assert engine.relative_error(zeros.data["a"], zeros.data["b"]) == 0.0
    tiny = _case("relative_error", "a = 0")
    assert 1e-9 < engine.relative_error(tiny.data["a"], tiny.data["b"]) < 1e-7


# --- secrecy ----------------------------------------------------------------------------

def _inputs(case) -> list[float]:
    values = []
    for key in ("norms", "x", "a", "b"):
        if key in case.data:
            values += [float(v) for v in np.ravel(case.data[key])[:4]]
    for g in case.data.get("grads", []):
        values += [float(v) for v in np.ravel(g)[:2]]
    values += [v for v in case.data.get("kwargs", {}).values()]
    return values


WRONG = {
    "layer_norms": lambda grads: engine.layer_norms(grads) * 1.5,
    "gradient_ratio": lambda norms: 2 * engine.gradient_ratio(norms),
    "diagnose": _swapped,
    "numerical_gradient": _forward,
    "relative_error": lambda a, b: 3 * engine.relative_error(a, b) + 1e-3,
}


@pytest.mark.parametrize("function", sorted(diag.CHECKS))
def test_hidden_failures_reveal_no_inputs_and_no_expected_values(function):
    failed = 0
    for case in diag.CHECKS[function].hidden(np.random.default_rng(4), 20):
        with np.errstate(all="ignore"):
            result = _judge(case, WRONG[function])
        if result.passed:
            continue
        failed += 1
        text = result.message + " " + result.hint
        assert "expected" not in result.message and "hidden" in result.message
        secrets = [fmt(v) for v in _inputs(case) if math.isfinite(v)]
        expected = ENGINE[function](**{k: v for k, v in case.data.items()
                                       if k in ("grads", "norms", "a", "b")}) \
            if function not in ("numerical_gradient", "diagnose") else None
        if isinstance(expected, float):
            secrets.append(fmt(expected))
        assert not any(s in text for s in secrets if len(s) > 3), (function, text)
    assert failed


def test_a_five_point_stencil_is_told_the_contract_asks_for_centred_differences():
    def stencil(f, x, h=1e-5):
        x = np.array(x, dtype=float)
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            values = []
            for k in (2, 1, -1, -2):
                x[i] = old + k * h
                values.append(f(x))
            x[i] = old
            grad[i] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
        return grad
    failed = [r for r in (_judge(case, stencil) for case in _cases("numerical_gradient"))
              if not r.passed]
    assert failed and all("h = " in r.label for r in failed)
    assert "this is the exact gradient, as a higher-order stencil" in failed[0].hint
