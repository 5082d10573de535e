"""Exercise 3: gradient clipping, checked against the reference engine entry by entry.

Cases are lists of 0-d to 3-D arrays under every norm_type (1, 2, 3 and inf),
gradients that need clipping and gradients already below max_norm (the factor
must never exceed 1), a total norm near 1e-3 and one equal to max_norm, where
PyTorch's ``+ 1e-6`` changes the result far beyond the tolerance, all-zero
gradients (no 0/0), and entries near 1e200 and 1e-200 whose squares overflow
or underflow unless the norm is computed on scaled entries.

The returned arrays must be new: the child reports any returned array that
shares memory with an input, and that fails the case.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from grader.checks import status
from grader.checks.common import (check_inputs_kept, check_new_arrays, completed_calls, fail,
                                  judging, norm_calls, passed, random_sign)
from grader.checks.compare import agree, close, compare, compare_number, fmt, fmt_pair, within
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import ArrList, Mismatch, Num, Seq, conform
from grader.course import Tolerance
from grader.engine import clipping as engine
from grader.sandbox.run import Call, TaskOutcome

# Tight enough that leaving out the 1e-6 fails even when it changes the result by 2.5e-7.
TOLERANCE = Tolerance(rtol=1e-10, atol_scale=1e-10)
EPS = 1e-6
INF = float("inf")

SCALING_HINT = ("compute the norm on scaled entries: divide every |g| by the largest |g| "
                "before raising to the power p, then multiply the result back")


# --- inputs -----------------------------------------------------------------------------

def _public_grads() -> dict[str, tuple[str, list[np.ndarray]]]:
    rng = np.random.default_rng(3003)
    small = [rng.normal(0, 1e-3, (2, 3)), rng.normal(0, 1e-3, 4)]
    small = [g * (1e-3 / engine.global_norm(small)) for g in small]  # total norm exactly ~1e-3
    return {
        "mixed": ("arrays of shapes (2, 3), (4,) and (2, 2, 2)",
                  [rng.normal(size=(2, 3)), rng.normal(size=4), rng.normal(size=(2, 2, 2))]),
        "scales": ("arrays of very different sizes (entries near 100 and near 0.01)",
                   [rng.normal(0, 100, (3, 2)), rng.normal(0, 0.01, 5)]),
        "zero_d": ("a 0-d array among others",
                   [np.array(-2.5), rng.normal(size=3), rng.normal(size=(1, 1))]),
        "single": ("a single (3, 4) array", [rng.normal(size=(3, 4))]),
        "zeros": ("all-zero gradients", [np.zeros((2, 3)), np.zeros(4)]),
        "small": ("a total norm of 1e-3", small),
        "huge": ("entries near 1e200 (their squares overflow)",
                 [rng.normal(size=(2, 3)) * 1e200, rng.normal(size=3) * 1e200]),
        "cubes": ("entries near 1e120 (their cubes overflow)",
                  [rng.normal(size=(2, 2)) * 1e120, rng.normal(size=3) * 1e120]),
        "tiny": ("entries near 1e-200 (their squares underflow)",
                 [rng.normal(size=(2, 3)) * 1e-200, rng.normal(size=3) * 1e-200]),
        "edges": ("entries exactly at and beyond +-0.5",
                  [np.array([-2.0, -0.5, -0.25, 0.0, 0.25, 0.5, 2.0]),
                   np.array([[0.75, -0.75], [0.5, -0.5]])]),
    }


def _norm_label(kwargs: dict) -> str:
    if "norm_type" not in kwargs:
        return ""
    p = kwargs["norm_type"]
    return f", norm_type = {'inf' if p == INF else f'{p:g}'}"


def _kwargs(p) -> dict:
    return {} if p is None else {"norm_type": p}


def _hidden_grads(rng: np.random.Generator) -> list[np.ndarray]:
    grads = []
    for _ in range(int(rng.integers(1, 5))):
        shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 4))))
        grads.append(rng.normal(0.0, 10.0 ** rng.uniform(-3, 3), shape))
    if rng.random() < 0.2:  # a huge or tiny list: the norm must be computed on scaled entries
        factor = 10.0 ** (random_sign(rng) * rng.uniform(160, 200))
        grads = [np.asarray(g * factor) for g in grads]  # 0-d stays an array
    return grads


def _hidden_norm_type(rng: np.random.Generator):
    return [None, 1.0, 2.0, 3.0, INF][int(rng.integers(0, 5))]


# --- global_norm ------------------------------------------------------------------------

def _global_norm_public() -> list[Case]:
    g = _public_grads()
    plan = [("mixed", None), ("mixed", 1.0), ("mixed", 3.0), ("mixed", INF), ("scales", None),
            ("scales", INF), ("zero_d", None), ("single", 1.0), ("zeros", None),
            ("huge", None), ("cubes", 3.0), ("tiny", None), ("tiny", 1.0)]
    return [_global_norm_case(g[key][0] + _norm_label(_kwargs(p)), g[key][1], _kwargs(p), False)
            for key, p in plan]


def _global_norm_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    return [_global_norm_case(f"hidden case {i + 1}", _hidden_grads(rng),
                              _kwargs(_hidden_norm_type(rng)), True) for i in range(n)]


def _global_norm_case(label, grads, kwargs, hidden) -> Case:
    return Case(label, (Call("global_norm", (grads,), dict(kwargs)),),
                {"grads": grads, "kwargs": dict(kwargs)}, hidden)


def _judge_global_norm(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    grads, kwargs = case.data["grads"], case.data["kwargs"]
    (call,) = norm_calls(case, outcome)
    value = _conformed(case, Num("the norm", finite=False), call.value, "global_norm")
    check_inputs_kept(case, (call,))
    p = float(kwargs.get("norm_type", 2.0))
    expected = engine.global_norm(grads, p)
    if same_norm(value, expected, tol):
        return passed(case)
    if any(same_norm(value, other, tol) for other in engine.unscaled_norms(grads, p)):
        return passed(case, unscaled_note(case, "the norm", value, expected))
    if not math.isfinite(value):
        raise fail(case, status.NON_FINITE, f"global_norm returned: the norm is {value}",
                   _non_finite_hint(value))
    raise fail(case, status.WRONG, _number_message("global_norm", "the norm", value, expected,
                                                   case),
               norm_hint(grads, p, value, tol))


def same_norm(got: float, want: float, tol: Tolerance) -> bool:
    """Within the tolerance (relative only, as for every single number), or the same inf
    (an overflowed norm); NaN is never a norm."""
    return bool(agree(got, want, Tolerance(rtol=tol.rtol, atol_scale=0.0)))


def unscaled_note(case: Case, name: str, got: float, exact: float) -> str:
    """What to say when a norm passes as PyTorch's unscaled one and the exact one differs."""
    if case.hidden:
        return ""
    return (f"{name} is {fmt(got)} on {case.label}, as PyTorch's is, so it passes; dividing "
            f"every |g| by the largest |g| before the powers gives the exact {fmt(exact)}")


# Each: (hint, the value a student with that mistake computes from (grads, p)).
NormModel = Callable[[list, float], float]


def _entries(grads) -> np.ndarray:
    return np.concatenate([np.abs(np.asarray(g, np.float64)).ravel() for g in grads])


def _root_missing(grads, p) -> float:
    with np.errstate(all="ignore"):
        return float(np.sum(_entries(grads) ** p)) if p != INF else math.nan


def _mean_norm(grads, p) -> float:
    with np.errstate(all="ignore"):
        a = _entries(grads)
        return float(np.mean(a**p) ** (1.0 / p)) if p != INF else math.nan


NORM_MISTAKES: tuple[tuple[str, NormModel], ...] = (
    ("this is the sum of each array's norm; the global norm is one norm over all entries of "
     "all arrays together: (sum over every array of sum |g|^p)^(1/p)",
     lambda grads, p: sum(engine.global_norm([g], p) for g in grads)),
    ("for norm_type = inf the norm is the largest |g| over all arrays, not the 2-norm",
     lambda grads, p: engine.global_norm(grads, 2.0) if p == INF else math.nan),
    ("norm_type is ignored: the p-norm is (sum |g|^p)^(1/p)",
     lambda grads, p: engine.global_norm(grads, 2.0) if p != 2.0 else math.nan),
    ("take the p-th root at the end: (sum |g|^p)^(1/p)", _root_missing),
    ("sum |g|^p over the entries (do not average them) before the p-th root", _mean_norm),
)


def norm_hint(grads, p, value: float, tol: Tolerance) -> str:
    """The typical mistake whose norm matches the student's ``value``, if any."""
    p = float(p)
    expected = engine.global_norm(grads, p)
    for hint, model in NORM_MISTAKES:
        got = model(grads, p)
        if math.isfinite(got) and compare_number(value, got, tol.rtol).ok \
                and not compare_number(expected, got, tol.rtol).ok:
            return hint
    return ""


# --- clip_grad_norm ---------------------------------------------------------------------

def _clip_norm_public() -> list[Case]:
    g = _public_grads()
    mixed_norm = engine.global_norm(g["mixed"][1])
    plan = [
        ("mixed", 1.0, None, ""),
        ("mixed", 100.0, None, ", max_norm = 100 (already below: nothing changes)"),
        ("mixed", 1.0, 1.0, ""),
        ("mixed", 2.0, 3.0, ""),
        ("mixed", 0.5, INF, ""),
        ("mixed", mixed_norm, None, ", max_norm equal to the total norm (the 1e-6 still "
                                    "scales slightly)"),
        ("scales", 10.0, None, ""),
        ("small", 5e-4, None, ", max_norm = 5e-4 (the 1e-6 matters)"),
        ("zero_d", 1.0, None, ""),
        ("single", 0.1, INF, ""),
        ("zeros", 1.0, None, ""),
        ("huge", 1.0, None, ""),
        ("tiny", 1.0, None, ""),
    ]
    cases = []
    for key, max_norm, p, note in plan:
        label = g[key][0] + (note or f", max_norm = {max_norm:g}") + _norm_label(_kwargs(p))
        cases.append(_clip_norm_case(label, g[key][1], max_norm, _kwargs(p), False))
    return cases


def _clip_norm_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        grads = _hidden_grads(rng)
        kwargs = _kwargs(_hidden_norm_type(rng))
        total = engine.global_norm(grads, **kwargs)
        # Half need clipping, half are already below max_norm.
        max_norm = float(total * 10.0 ** rng.uniform(-1.2, 1.2)) if total > 0 else 1.0
        cases.append(_clip_norm_case(f"hidden case {i + 1}", grads, max_norm, kwargs, True))
    return cases


def _clip_norm_case(label, grads, max_norm, kwargs, hidden) -> Case:
    return Case(label, (Call("clip_grad_norm", (grads, max_norm), dict(kwargs)),),
                {"grads": grads, "max_norm": max_norm, "kwargs": dict(kwargs)}, hidden)


def _judge_clip_norm(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    grads, max_norm, kwargs = case.data["grads"], case.data["max_norm"], case.data["kwargs"]
    p = float(kwargs.get("norm_type", 2.0))
    (call,) = norm_calls(case, outcome)
    schema = Seq("the return value", (ArrList("clipped", tuple(np.shape(g) for g in grads)),
                                      Num("total_norm", finite=False)))
    clipped, total = _conformed(case, schema, call.value, "clip_grad_norm")
    check_inputs_kept(case, (call,))
    check_new_arrays(case, (call,), "the return value[0]")
    ref_clipped, ref_total = engine.clip_grad_norm(grads, max_norm, p)
    note, unscaled = "", None
    if not same_norm(total, ref_total, tol):
        # PyTorch's own norm overflows and underflows, and clips by what it got.
        unscaled = next((t for t in engine.unscaled_norms(grads, p)
                         if same_norm(total, t, tol)), None)
        if unscaled is not None:
            ref_clipped, _ = engine.clip_grad_norm(grads, max_norm, p, total_norm=unscaled)
            note = unscaled_note(case, "total_norm", total, ref_total)
    if not math.isfinite(total) and unscaled is None:
        raise fail(case, status.NON_FINITE, f"clip_grad_norm returned: total_norm is {total}",
                   _non_finite_hint(total))
    if unscaled is None and not same_norm(total, ref_total, tol):
        after = engine.global_norm(ref_clipped, p)
        hint = ("total_norm is the norm before clipping (what global_norm(grads) returns), "
                "not the norm of the clipped arrays"
                if compare_number(total, after, tol.rtol).ok
                and not compare_number(ref_total, after, tol.rtol).ok
                else norm_hint(grads, p, total, tol))
        raise fail(case, status.WRONG, _number_message("clip_grad_norm", "total_norm", total,
                                                       ref_total, case), hint)
    for i, (got, want) in enumerate(zip(clipped, ref_clipped)):
        if not within(got, want, tol):
            diff = compare(got, want, tol)
            raise fail(case, status.WRONG, _array_message("clip_grad_norm", i, diff, case),
                       clip_norm_hint(grads, max_norm, p, clipped, tol))
    return passed(case, note)


def _scaled(grads, coefs) -> list[np.ndarray]:
    return [np.asarray(g, np.float64) * c for g, c in zip(grads, coefs)]


def _per_array(grads, max_norm, p):
    return _scaled(grads, [min(max_norm / (engine.global_norm([g], p) + EPS), 1.0)
                           for g in grads])


def _one_coef(coef: Callable[[float, float], float]):
    """A model that scales every array by coef(max_norm, total_norm)."""
    def model(grads, max_norm, p):
        c = coef(max_norm, engine.global_norm(grads, p))
        return _scaled(grads, [c] * len(grads))
    return model


def _uncapped(max_norm, total):
    return max_norm / (total + EPS)


def _uncapped_no_eps(max_norm, total):
    return max_norm / total if total > 0 else math.inf


def _no_eps(max_norm, total):
    return min(max_norm / total, 1.0) if total > 0 else math.inf


def _zeroed_when_underflowed(grads, max_norm, p):
    """A zero total norm taken as 'nothing to scale by', after squares that underflowed."""
    total = engine.unscaled_norms(grads, p)[0]
    c = 0.0 if total == 0.0 else min(max_norm / (total + EPS), 1.0)
    return _scaled(grads, [c] * len(grads))


CLIP_NORM_MISTAKES = (
    ("each array was clipped by its own norm; clip_grad_norm scales all arrays by one "
     "factor, min(1, max_norm / (total_norm + 1e-6)), from the global norm of all of them",
     _per_array),
    ("add 1e-6 to the norm as PyTorch's clip_grad_norm_ does: coef = max_norm / "
     "(total_norm + 1e-6), then multiply by min(coef, 1)", _one_coef(_no_eps)),
    ("never scale up: the factor is min(1, max_norm / (total_norm + 1e-6)), so gradients "
     "already below max_norm stay as they are",
     _one_coef(_uncapped)),
    ("never scale up: the factor is min(1, max_norm / (total_norm + 1e-6)), so gradients "
     "already below max_norm stay as they are",
     _one_coef(_uncapped_no_eps)),
    ("the squares of these tiny entries underflow, so total_norm comes out 0 (PyTorch's "
     "does too, and that is accepted), but these gradients are not zero: keep them as "
     "g * min(1, max_norm / (total_norm + 1e-6)), which the + 1e-6 keeps finite; a zero "
     "norm needs no special case", _zeroed_when_underflowed),
)


def clip_norm_hint(grads, max_norm, p, clipped, tol: Tolerance) -> str:
    """The typical mistake whose clipped arrays all match the student's, if any."""
    ref, _ = engine.clip_grad_norm(grads, max_norm, p)
    for hint, model in CLIP_NORM_MISTAKES:
        got = model(grads, max_norm, p)
        if _all_close(clipped, got, tol) and not _all_close(ref, got, tol):
            return hint
    return ""


def _all_close(arrays, others, tol: Tolerance) -> bool:
    return all(np.all(np.isfinite(b)) and close(a, b, tol) for a, b in zip(arrays, others))


# --- clip_grad_value --------------------------------------------------------------------

def _clip_value_public() -> list[Case]:
    g = _public_grads()
    plan = [("mixed", 0.5), ("edges", 0.5), ("zero_d", 1.0), ("scales", 1.0),
            ("single", 1e3, ", clip_value = 1000 (nothing to clip)"), ("zeros", 0.1),
            ("huge", 1.0), ("tiny", 1e-200)]
    cases = []
    for key, clip_value, *note in plan:
        label = g[key][0] + (note[0] if note else f", clip_value = {clip_value:g}")
        cases.append(_clip_value_case(label, g[key][1], clip_value, False))
    return cases


def _clip_value_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        grads = _hidden_grads(rng)
        magnitudes = np.concatenate([np.abs(g).ravel() for g in grads])
        clip_value = float(np.quantile(magnitudes, rng.uniform(0.2, 0.9)))
        cases.append(_clip_value_case(f"hidden case {i + 1}", grads,
                                      clip_value if clip_value > 0 else 1.0, True))
    return cases


def _clip_value_case(label, grads, clip_value, hidden) -> Case:
    return Case(label, (Call("clip_grad_value", (grads, clip_value)),),
                {"grads": grads, "clip_value": clip_value}, hidden)


def _judge_clip_value(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    grads, clip_value = case.data["grads"], case.data["clip_value"]
    (call,) = completed_calls(case, outcome)
    clipped = _conformed(case, ArrList("clipped", tuple(np.shape(g) for g in grads)),
                         call.value, "clip_grad_value")
    check_inputs_kept(case, (call,))
    check_new_arrays(case, (call,), "the return value")
    ref = engine.clip_grad_value(grads, clip_value)
    for i, (got, want) in enumerate(zip(clipped, ref)):
        if not within(got, want, tol):
            diff = compare(got, want, tol)
            message = _array_message("clip_grad_value", i, diff, case)
            if not case.hidden:
                entry = float(np.asarray(grads[i])[diff.index])
                message += f" (the input entry is {fmt(entry)}, clip_value = {fmt(clip_value)})"
            raise fail(case, status.WRONG, message,
                       clip_value_hint(grads, clip_value, clipped, tol))
    return passed(case)


CLIP_VALUE_MISTAKES = (
    ("clamp from below too: every entry goes to [-clip_value, clip_value], e.g. "
     "np.clip(g, -clip_value, clip_value)", lambda g, c: np.minimum(g, c)),
    ("clamp from above too: every entry goes to [-clip_value, clip_value], e.g. "
     "np.clip(g, -clip_value, clip_value)", lambda g, c: np.maximum(g, -c)),
    ("the lower end is -clip_value, not 0", lambda g, c: np.clip(g, 0.0, c)),
    ("keep the sign: clamp g itself, not |g|", lambda g, c: np.clip(np.abs(g), -c, c)),
    ("clamp entries beyond clip_value to +-clip_value; do not set them to 0",
     lambda g, c: np.where(np.abs(g) > c, 0.0, g)),
)


def clip_value_hint(grads, clip_value, clipped, tol: Tolerance) -> str:
    ref = engine.clip_grad_value(grads, clip_value)
    for hint, model in CLIP_VALUE_MISTAKES:
        got = [np.asarray(model(np.asarray(g, np.float64), clip_value)) for g in grads]
        if _all_close(clipped, got, tol) and not _all_close(ref, got, tol):
            return hint
    return ""


# --- shared -----------------------------------------------------------------------------

def _conformed(case: Case, schema, value, function: str):
    try:
        return conform(schema, value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"{function} returned: {exc.message}",
                   _shape_hint(exc, value, function)) from None


def _non_finite_hint(value: float) -> str:
    if math.isnan(value):
        return ("NaN comes from 0/0 (all-zero gradients have total_norm 0: the + 1e-6 "
                "avoids it) or from a negative number to the power 1/p (take |g| first)")
    return "the norm overflowed where PyTorch's does not: " + SCALING_HINT


def _shape_hint(exc: Mismatch, value, function: str) -> str:
    if exc.status == status.NON_FINITE and exc.message.startswith("clipped") \
            and function == "clip_grad_norm":
        return ("compute the factor first, min(1, max_norm / (total_norm + 1e-6)), then "
                "multiply each g by it: g * max_norm can overflow before the division")
    if exc.status == status.NON_FINITE and function != "clip_grad_value":
        return _non_finite_hint(math.nan if "nan" in exc.message else math.inf)
    if function == "clip_grad_norm" and isinstance(value, (tuple, list)) and len(value) == 2 \
            and isinstance(value[1], (tuple, list)):
        return "return (clipped, total_norm) in this order"
    return ""


def _number_message(function: str, name: str, got: float, expected: float, case: Case) -> str:
    if case.hidden:
        what = f" (relative error {fmt(abs(got - expected) / abs(expected))})" if expected else ""
        return f"{function}: {name} is wrong on a hidden input{what}"
    return f"{function}: {name} is wrong: expected {fmt_pair(expected, got)}"


def _array_message(function: str, i: int, diff, case: Case) -> str:
    if case.hidden:
        return (f"{function}: clipped[{i}] is wrong on a hidden input (error relative to its "
                f"scale: {fmt(diff.rel_error)})")
    at = f" at index {diff.index}" if diff.index else ""
    return f"{function}: clipped[{i}] is wrong{at}: expected {fmt_pair(diff.expected, diff.got)}"


CHECKS = {
    "global_norm": CheckDef("global_norm", _global_norm_public, _global_norm_hidden,
                            judging(_judge_global_norm), TOLERANCE),
    "clip_grad_norm": CheckDef("clip_grad_norm", _clip_norm_public, _clip_norm_hidden,
                               judging(_judge_clip_norm), TOLERANCE),
    "clip_grad_value": CheckDef("clip_grad_value", _clip_value_public, _clip_value_hidden,
                                judging(_judge_clip_value), TOLERANCE),
}
