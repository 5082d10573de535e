"""Tests of grader.checks.clipping: cases, tolerance, hints for each mistake, end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grader.checks import clipping as clip
from grader.checks import status
from grader.checks.compare import fmt
from grader.engine import clipping as engine
from grader.grade import Options, grade
from grader.sandbox.run import CallOutcome, TaskOutcome

REPO = Path(__file__).resolve().parents[2]
INF = math.inf
FUNCTIONS = ("global_norm", "clip_grad_norm", "clip_grad_value")


def _run(function, impl, case):
    """Judge what ``impl`` returns on ``case``, as if a child had run it."""
    (call,) = case.calls
    value = impl(*call.args, **call.kwargs)
    outcome = TaskOutcome("ok", (CallOutcome(value),))
    return clip.CHECKS[function].judge(case, outcome, clip.TOLERANCE)


def _cases(function, hidden=0):
    check = clip.CHECKS[function]
    return check.public() + check.hidden(np.random.default_rng(9), hidden)


def _p(norm_type) -> float:
    return float(norm_type)


# --- buggy implementations, written as a student would --------------------------------

def _abs(grads):
    return [np.abs(np.asarray(g, float)) for g in grads]


def norm_sum_of_norms(grads, norm_type=2.0):
    p = _p(norm_type)
    if p == INF:
        return float(sum(a.max() for a in _abs(grads)))
    with np.errstate(all="ignore"):
        return float(sum(np.sum(a**p) ** (1 / p) for a in _abs(grads)))


def norm_inf_as_two(grads, norm_type=2.0):
    p = _p(norm_type)
    return engine.global_norm(grads, 2.0 if p == INF else p)


def norm_ignores_p(grads, norm_type=2.0):
    return engine.global_norm(grads, 2.0)


def norm_no_root(grads, norm_type=2.0):
    p = _p(norm_type)
    with np.errstate(all="ignore"):
        return np.float64(engine.global_norm(grads, p)) ** (p if p != INF else 1.0)


def norm_naive(grads, norm_type=2.0):
    p = _p(norm_type)
    with np.errstate(all="ignore"):
        if p == INF:
            return float(max(a.max() for a in _abs(grads)))
        return float(sum(np.sum(a**p) for a in _abs(grads)) ** (1 / p))


def norm_mean(grads, norm_type=2.0):
    p = _p(norm_type)
    flat = np.concatenate([a.ravel() for a in _abs(grads)])
    with np.errstate(all="ignore"):
        return float(np.mean(flat**p) ** (1 / p)) if p != INF else float(flat.max())


def _clip_with(coef_fn, total_fn=None):
    def impl(grads, max_norm, norm_type=2.0):
        total = engine.global_norm(grads, norm_type)
        coef = coef_fn(max_norm, total)
        clipped = [np.asarray(np.asarray(g, float) * coef) for g in grads]
        return clipped, (total_fn(clipped, norm_type) if total_fn else total)
    return impl


def clip_per_array(grads, max_norm, norm_type=2.0):
    out = []
    for g in grads:
        own = engine.global_norm([g], norm_type)
        out.append(np.asarray(np.asarray(g, float) * min(1.0, max_norm / (own + 1e-6))))
    return out, engine.global_norm(grads, norm_type)


clip_uncapped = _clip_with(lambda m, t: m / (t + 1e-6))
clip_no_eps = _clip_with(lambda m, t: min(1.0, m / t) if t > 0 else 1.0)
clip_total_after = _clip_with(lambda m, t: min(1.0, m / (t + 1e-6)), engine.global_norm)


def clip_inf_as_two(grads, max_norm, norm_type=2.0):
    p = 2.0 if _p(norm_type) == INF else norm_type
    return engine.clip_grad_norm(grads, max_norm, p)


def clip_swapped(grads, max_norm, norm_type=2.0):
    clipped, total = engine.clip_grad_norm(grads, max_norm, norm_type)
    return total, clipped


def clip_zeroed_when_underflowed(grads, max_norm, norm_type=2.0):
    """The norm as np.linalg.norm gives it, and a zero norm taken as 'clip to zero'."""
    total = norm_naive(grads, norm_type)
    coef = 0.0 if total == 0 else min(1.0, max_norm / (total + 1e-6))
    return [np.asarray(g, float) * coef for g in grads], total


def clip_naive(grads, max_norm, norm_type=2.0):
    """clip_grad_norm_ as PyTorch computes it: the norm of the per-array norms, unscaled."""
    p = _p(norm_type)
    with np.errstate(all="ignore"):
        each = [np.max(a, initial=0.0) if p == INF else np.sum(a**p) ** (1 / p)
                for a in _abs(grads)]
        total = float(max(each) if p == INF else np.sum(np.array(each) ** p) ** (1 / p))
        coef = min(max_norm / (total + 1e-6), 1.0)
    return [np.asarray(g, float) * coef for g in grads], total


def _each(fn):
    return lambda grads, c: [np.asarray(fn(np.asarray(g, float), c)) for g in grads]


MISTAKES = [
    ("global_norm", norm_sum_of_norms, "sum of each array's norm"),
    ("global_norm", norm_inf_as_two, "norm_type = inf"),
    ("global_norm", norm_ignores_p, "norm_type is ignored"),
    ("global_norm", norm_no_root, "p-th root"),
    ("global_norm", norm_mean, "do not average"),
    ("clip_grad_norm", clip_per_array, "clipped by its own norm"),
    ("clip_grad_norm", clip_uncapped, "never scale up"),
    ("clip_grad_norm", clip_no_eps, "add 1e-6"),
    ("clip_grad_norm", clip_total_after, "norm before clipping"),
    ("clip_grad_norm", clip_inf_as_two, "norm_type = inf"),
    ("clip_grad_norm", clip_swapped, "(clipped, total_norm) in this order"),
    ("clip_grad_norm", clip_zeroed_when_underflowed, "a zero norm needs no special case"),
    ("clip_grad_value", _each(lambda g, c: np.minimum(g, c)), "clamp from below too"),
    ("clip_grad_value", _each(lambda g, c: np.maximum(g, -c)), "clamp from above too"),
    ("clip_grad_value", _each(lambda g, c: np.clip(g, 0.0, c)), "not 0"),
    ("clip_grad_value", _each(lambda g, c: np.clip(np.abs(g), -c, c)), "keep the sign"),
    ("clip_grad_value", _each(lambda g, c: np.where(np.abs(g) > c, 0.0, g)), "set them to 0"),
]


@pytest.mark.parametrize("function, impl, words", MISTAKES,
                         ids=[f"{f}-{w}" for f, _, w in MISTAKES])
def test_each_mistake_fails_and_is_named(function, impl, words):
    results = [_run(function, impl, case) for case in _cases(function)]
    failed = [r for r in results if not r.passed]
    assert failed, "the mistake passes every public case"
    assert any(words in r.hint for r in failed), [(r.label, r.message, r.hint) for r in failed]


def test_leaving_out_the_epsilon_fails_exactly_where_it_matters():
    failed = {r.label for r in (_run("clip_grad_norm", clip_no_eps, case)
                                for case in _cases("clip_grad_norm")) if not r.passed}
    assert any("max_norm equal to the total norm" in label for label in failed)
    assert any("1e-6 matters" in label for label in failed)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_reference_passes_every_case(function):
    impl = getattr(engine, function)
    for case in _cases(function, hidden=30):
        result = _run(function, impl, case)
        assert result.passed, (case.label, result.message)


def test_cases_cover_what_the_spec_demands():
    cases = _cases("clip_grad_norm")
    norm_types = {c.data["kwargs"].get("norm_type") for c in cases}
    assert {None, 1.0, 3.0, INF} <= norm_types
    ndims = {np.ndim(g) for c in cases for g in c.data["grads"]}
    assert {0, 1, 2, 3} <= ndims
    below = [c for c in cases if c.data["max_norm"] > engine.global_norm(
        c.data["grads"], c.data["kwargs"].get("norm_type", 2.0)) + 1e-6]
    clipped = [c for c in cases if c not in below]
    assert below and clipped
    assert any(len(c.data["grads"]) == 1 for c in cases)
    magnitudes = [np.max(np.abs(g)) for c in cases for g in c.data["grads"]]
    assert max(magnitudes) > 1e199 and min(m for m in magnitudes if m > 0) < 1e-199


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_input_is_a_float64_ndarray_even_0_d(function):
    for case in _cases(function, hidden=200):
        assert all(type(g) is np.ndarray and g.dtype == np.float64 for g in case.data["grads"])


@pytest.mark.parametrize("function, impl", [("global_norm", norm_naive),
                                            ("clip_grad_norm", clip_naive)])
def test_norms_that_overflow_or_underflow_as_pytorch_s_do_pass_with_a_note(function, impl):
    """PyTorch's own norms overflow to inf at 1e200 and flush to 0 at 1e-200: the contract
    accepts its answer, and the note teaches the scaled norm."""
    results = {case.label: _run(function, impl, case) for case in _cases(function, hidden=40)}
    assert all(r.passed for r in results.values()), \
        [(r.label, r.message) for r in results.values() if not r.passed]
    huge = next(r for label, r in results.items() if label.startswith("entries near 1e200"))
    tiny = next(r for label, r in results.items() if label.startswith("entries near 1e-200"))
    for result in (huge, tiny):
        assert "as PyTorch's is, so it passes" in result.note
        assert "dividing every |g| by the largest |g|" in result.note
    assert " inf " in huge.note and "the exact 4.170e+200" in huge.note
    assert " 0 " in tiny.note
    # where nothing overflows, there is nothing to say
    mixed = next(r for label, r in results.items() if label.startswith("arrays of shapes"))
    assert mixed.note == ""
    # hidden cases pass the same way, and say nothing about their input
    hidden = [case for case in _cases(function, hidden=40) if case.hidden
              and engine.unscaled_norms(case.data["grads"], case.data["kwargs"].get(
                  "norm_type", 2.0))[0] in (0.0, INF)]
    assert hidden and all(_run(function, impl, case).passed for case in hidden)
    assert not any(r.note for r in results.values() if r.hidden)


def test_an_overflow_pytorch_does_not_make_still_fails():
    def squares_for_every_p(grads, norm_type=2.0):  # the 1-norm taken through squares
        with np.errstate(all="ignore"):
            return float(np.sqrt(sum(np.sum(a * a) for a in _abs(grads))))
    case = next(c for c in _cases("global_norm") if c.label == "entries near 1e200 (their "
                "squares overflow)")
    case = clip._global_norm_case(case.label, case.data["grads"], {"norm_type": 1.0}, False)
    result = _run("global_norm", squares_for_every_p, case)
    assert result.status == status.NON_FINITE
    assert "where PyTorch's does not" in result.hint


def test_modified_inputs_and_results_that_are_the_inputs():
    case = _cases("clip_grad_value")[0]
    (call,) = case.calls
    value = engine.clip_grad_value(*call.args)
    outcome = TaskOutcome("ok", (CallOutcome(value, mutated=((0, 0, 1),)),))
    result = clip.CHECKS["clip_grad_value"].judge(case, outcome, clip.TOLERANCE)
    assert result.status == status.MODIFIED_INPUT and "grads[1]" in result.message


def test_zero_d_results_may_be_numpy_scalars_and_lists_may_be_tuples():
    """np.clip of a 0-d array gives a numpy float64: numpy converts it exactly."""
    for case in _cases("clip_grad_value", hidden=20):
        result = _run("clip_grad_value",
                      lambda grads, c: tuple(np.clip(g, -c, c)[()] for g in grads), case)
        assert result.passed, (case.label, result.message)


def test_zero_d_results_of_another_dtype_still_fail():
    case = next(c for c in _cases("clip_grad_value") if c.label.startswith("a 0-d"))
    result = _run("clip_grad_value",
                  lambda grads, c: [np.float32(np.clip(g, -c, c)) for g in grads], case)
    assert result.status == status.BAD_DTYPE and "clipped[0] has dtype float32" in result.message


def test_hidden_failures_reveal_no_inputs_or_expected_values():
    for function, impl, _ in MISTAKES:
        for case in clip.CHECKS[function].hidden(np.random.default_rng(3), 10):
            result = _run(function, impl, case)
            if result.passed:
                continue
            text = result.message + result.hint
            grads = case.data["grads"]
            secrets = [fmt(float(x)) for g in grads for x in np.ravel(g)[:3]]
            secrets.append(fmt(engine.global_norm(grads)))
            if "max_norm" in case.data:
                secrets.append(fmt(case.data["max_norm"]))
            assert not any(s in text for s in secrets if len(s) > 2), (function, text)
            assert "expected" not in result.message


def test_public_failures_show_enough_digits_to_see_the_difference():
    case = next(c for c in _cases("clip_grad_norm") if "equal to the total" in c.label)
    result = _run("clip_grad_norm", clip_no_eps, case)
    expected, got = result.message.split("expected ")[1].split(", got ")
    assert expected != got


# --- end to end -------------------------------------------------------------------------

def test_a_one_sided_clamp_in_a_real_child(course_for, tmp_path):
    source = (REPO / "solutions" / "clipping.py").read_text()
    source = source.replace("np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value)",
                            "np.minimum(np.asarray(g, dtype=np.float64), clip_value)")
    (tmp_path / "clipping.py").write_text(source)
    result = grade(tmp_path, course_for("clipping"), Options())
    by_name = {check.function: check for check in result.checks}
    assert by_name["clip_grad_value"].score == 0
    assert "clamp from below too" in by_name["clip_grad_value"].failures[0].hint
    assert result.score == 2


@pytest.mark.parametrize("function", ["global_norm", "clip_grad_norm"])
def test_python_float_powers_that_raise_get_the_overflow_hint(function):
    from grader.sandbox.run import ErrorInfo
    case = next(c for c in _cases(function) if c.label.startswith("entries near 1e200"))
    outcome = TaskOutcome("exception", (), ErrorInfo(
        "OverflowError", "(34, 'Numerical result out of range')",
        f"clipping.py:9 in {function}"))
    result = clip.CHECKS[function].judge(case, outcome, clip.TOLERANCE)
    assert result.status == status.EXCEPTION and f"{function} raised OverflowError" in \
        result.message
    assert "numpy gives inf (as PyTorch does)" in result.hint
    other = TaskOutcome("exception", (), ErrorInfo("ValueError", "no", "clipping.py:9"))
    assert clip.CHECKS[function].judge(case, other, clip.TOLERANCE).hint == ""


def test_clipped_arrays_that_overflow_before_the_division_get_their_own_hint():
    def multiply_first(grads, max_norm, norm_type=2.0):
        total = engine.global_norm(grads, norm_type)
        with np.errstate(all="ignore"):
            return [np.asarray(g) * max_norm / (total + 1e-6) for g in grads], total
    case = clip._clip_norm_case("huge, max_norm = 1e200", [np.full(3, 1e200)], 1e200, {}, False)
    result = _run("clip_grad_norm", multiply_first, case)
    assert result.status == status.NON_FINITE and "clipped[0] contains inf" in result.message
    assert "g * max_norm can overflow before the division" in result.hint
