"""Exercise 5's gradient check: numerical_gradient, judged against centred differences.

numerical_gradient gets ``f`` from the grader (TEST_FUNCTIONS below, bit-identical to
the copies in sandbox/child.py) and is compared with the engine's centred differences
at the same h, to GRADIENT_TOLERANCE = 1e-8 of the gradient's largest entry. Both
evaluate f at the same points, so a correct submission differs only by rounding: at
most 5.4e-10 (18x inside) over 2,000 hidden cases for one that steps x[i] += h, -= 2h,
+= h on its copy of x, whose points are then an ulp off. A forward difference is off by
about h |f''| / 2: at least 3.4e-6 (337x outside) on every public case with the default
h = 1e-5, while the centred result is within h^2 |f'''| / 6 of the exact gradient
(figures in tests/checks/test_diagnostics_checks.py). Ignoring h shows on the cases
that pass h = 0.1 or 1e-3: for sum(w x^3) the centred result is exactly 3 w x^2 + w h^2,
so the two h differ by w (h^2 - 1e-10), 1e-3 to 1e-6 of the gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from grader.checks import status
from grader.checks.common import (Failed, check_inputs_kept, completed_calls, fail, judging,
                                  passed, reference, with_hint)
from grader.checks.compare import close, compare, fmt, fmt_pair
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import Arr, Mismatch, conform
from grader.course import Tolerance
from grader.engine import diagnostics as engine
from grader.sandbox.run import Call, TaskOutcome
from grader.sandbox.wire import Provided

GRADIENT_TOLERANCE = Tolerance(rtol=0.0, atol_scale=1e-8)


# --- numerical_gradient -----------------------------------------------------------------

@dataclass(frozen=True)
class TestFunction:
    """A scalar f for numerical_gradient: the grader's copy of the child's PROVIDED[name]."""

    name: str
    formula: str
    fn: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]  # the exact gradient, for the margins
    two_d: bool = False


def _contiguous(x):
    return np.ascontiguousarray(x, dtype=np.float64)


def _f_cubes(x):
    v = _contiguous(x).ravel()
    return float(np.sum(np.linspace(0.5, 1.5, v.size) * (v * v * v)))


def _f_logsumexp(x):
    return float(np.log(np.sum(np.exp(_contiguous(x).ravel()))))


def _f_rows(x):
    x = _contiguous(x)
    if x.ndim != 2:
        raise ValueError(f"this f takes a 2-D array like x, got shape {x.shape}")
    r = np.sum(x * np.linspace(0.5, 1.5, x.shape[1]), axis=1)
    return float(np.sum(np.log1p(r * r)))


def _grad_cubes(x):
    x = np.asarray(x, np.float64)
    return 3.0 * np.linspace(0.5, 1.5, x.size).reshape(x.shape) * x * x


def _grad_logsumexp(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


def _grad_rows(x):
    x = np.asarray(x, np.float64)
    v = np.linspace(0.5, 1.5, x.shape[1])
    r = x @ v
    return np.outer(2.0 * r / (1.0 + r * r), v)


TEST_FUNCTIONS = {f.name: f for f in (
    TestFunction("f_cubes", "sum(w x^3)", _f_cubes, _grad_cubes),
    TestFunction("f_logsumexp", "log(sum(exp(x)))", _f_logsumexp, _grad_logsumexp),
    TestFunction("f_rows", "sum over rows of log(1 + (row @ v)^2)", _f_rows, _grad_rows,
                 two_d=True),
)}


def _gradient_public() -> list[Case]:
    rng = np.random.default_rng(5004)
    plans = [
        ("f_cubes", rng.normal(size=(3, 4)), None, ""),
        ("f_logsumexp", rng.normal(size=6), None, ""),
        ("f_rows", rng.normal(size=(4, 3)), None, ""),
        ("f_cubes", np.array(1.3), None, ""),
        ("f_logsumexp", rng.normal(size=(2, 2, 3)), None, ""),
        ("f_cubes", rng.normal(size=(2, 3)), 0.1, ""),
        ("f_rows", rng.normal(size=(3, 3)), 1e-3, ""),
        ("f_cubes", rng.uniform(-2.0, 2.0, 5), ("positional", 1e-3), ""),
    ]
    return [_gradient_case(_gradient_label(name, x, h) + note, name, x, h, False)
            for name, x, h, note in plans]


def _gradient_label(name: str, x: np.ndarray, h) -> str:
    shape = "a 0-d x" if x.ndim == 0 else f"x of shape {x.shape}"
    if h is None:
        step = "h not given (1e-5)"
    elif isinstance(h, tuple):
        step = f"h = {h[1]:g} by position"
    else:
        step = f"h = {h:g}"
    return f"f = {TEST_FUNCTIONS[name].formula}, {shape}, {step}"


def _gradient_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        shape = tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(0, 4))))
        names = ["f_cubes", "f_logsumexp"] + (["f_rows"] if len(shape) == 2 else [])
        name = names[int(rng.integers(len(names)))]
        x = np.asarray(rng.normal(size=shape) * rng.uniform(0.5, 2.0))
        h = [None, 1e-5, 1e-4, 1e-3, 1e-2][int(rng.integers(5))]
        cases.append(_gradient_case(f"hidden case {i + 1}", name, x, h, True))
    return cases


def _gradient_case(label, name, x, h, hidden) -> Case:
    if h is None:
        call = Call("numerical_gradient", (Provided(name), x))
    elif isinstance(h, tuple):
        call = Call("numerical_gradient", (Provided(name), x, h[1]))
    else:
        call = Call("numerical_gradient", (Provided(name), x), {"h": h})
    step = 1e-5 if h is None else (h[1] if isinstance(h, tuple) else h)
    return Case(label, (call,), {"f": name, "x": x, "h": step}, hidden)


def _reference_gradient(case: Case) -> np.ndarray:
    d = case.data
    return reference(case, "numerical_gradient", lambda: engine.numerical_gradient(
        TEST_FUNCTIONS[d["f"]].fn, d["x"], d["h"]))


def _one_sided(f, x, h, forward=True):
    probe = np.array(x, dtype=np.float64)
    f0 = f(probe)
    grad = np.empty_like(probe)
    for idx in np.ndindex(probe.shape):
        old = probe[idx]
        probe[idx] = old + h if forward else old - h
        grad[idx] = (f(probe) - f0) / h if forward else (f0 - f(probe)) / h
        probe[idx] = old
    return grad


def _not_restored(f, x, h):
    probe = np.array(x, dtype=np.float64)
    grad = np.empty_like(probe)
    for idx in np.ndindex(probe.shape):
        old = probe[idx]
        probe[idx] = old + h
        up = f(probe)
        probe[idx] = old - h
        grad[idx] = (up - f(probe)) / (2 * h)
    return grad


def _whole_rows(f, x, h):
    """x[i] += h on a 2-D x: a whole row moves at once."""
    probe = np.array(x, dtype=np.float64)
    grad = np.empty_like(probe)
    for i in range(probe.shape[0]):
        old = probe[i].copy()
        probe[i] = old + h
        up = f(probe)
        probe[i] = old - h
        grad[i] = (up - f(probe)) / (2 * h)
        probe[i] = old
    return grad


SHAPE_OF_X_HINT = ("call f on an array of x's own shape (a perturbed copy of x), not on a "
                   "flattened one")

GRADIENT_MISTAKES = (
    ("use centred differences, (f(x + h e_i) - f(x - h e_i)) / (2 h): a one-sided "
     "difference is only accurate to O(h), the centred one to O(h^2)",
     lambda f, x, h: _one_sided(f, x, h)),
    ("use centred differences, (f(x + h e_i) - f(x - h e_i)) / (2 h): a one-sided "
     "difference is only accurate to O(h), the centred one to O(h^2)",
     lambda f, x, h: _one_sided(f, x, h, forward=False)),
    ("divide by 2 h: the two points x + h e_i and x - h e_i are 2 h apart",
     lambda f, x, h: 2.0 * engine.numerical_gradient(f, x, h)),
    ("put each entry back to its old value before perturbing the next one",
     _not_restored),
    ("perturb one entry at a time: on a 2-D x, x[i] is a whole row; walk every index "
     "with np.ndindex(x.shape)", _whole_rows),
)


@judging
def _judge_gradient(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    d = case.data
    x = d["x"]
    try:
        (call,) = completed_calls(case, outcome)
    except Failed as failed:
        two_d = "takes a 2-D array" in failed.result.message
        raise with_hint(failed, SHAPE_OF_X_HINT if two_d else "") from None
    try:
        grad = conform(Arr("the gradient", x.shape), call.value)
    except Mismatch as exc:
        hint = "" if exc.status != status.WRONG_SHAPE else \
            "return an array of x's shape: start from np.zeros_like(x) and fill every index"
        raise fail(case, exc.status, f"numerical_gradient returned: {exc.message}",
                   hint) from None
    check_inputs_kept(case, (call,),
                      "perturb a copy of x (np.array(x, copy=True)), or put back the exact "
                      "old value: (v + h) - h is not always v")
    expected = _reference_gradient(case)
    diff = compare(grad, expected, tol)
    if diff.ok:
        return passed(case)
    if case.hidden:
        message = (f"numerical_gradient is wrong on a hidden input (error relative to the "
                   f"gradient's scale: {fmt(diff.rel_error)})")
    else:
        at = f" at index {diff.index}" if diff.index else ""
        message = (f"numerical_gradient is wrong{at}: expected "
                   f"{fmt_pair(diff.expected, diff.got)} (error relative to the gradient's "
                   f"scale: {fmt(diff.rel_error)})")
    f = TEST_FUNCTIONS[d["f"]].fn
    hint = _fixed_step_hint(case, f, grad, expected, tol) or _mistake_hint(
        f, x, d["h"], grad, expected, tol)
    raise fail(case, status.WRONG, message, hint)


def _mistake_hint(f, x: np.ndarray, h: float, grad: np.ndarray, expected: np.ndarray,
                  tol: Tolerance) -> str:
    for text, model in GRADIENT_MISTAKES:
        if model is _whole_rows and x.ndim != 2:
            continue
        guess = model(f, x, h)
        if close(grad, guess, tol) and not close(expected, guess, tol):
            return text
    return ""


# The steps code hard-codes instead of using h; tried on every failing case, so that the
# first one already says so (a step of 1e-4 where the default 1e-5 is due fails at once).
FIXED_STEPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)


def _fixed_step_hint(case: Case, f, grad: np.ndarray, expected: np.ndarray,
                     tol: Tolerance) -> str:
    h = case.data["h"]
    best = None
    for step in FIXED_STEPS:
        if step == h:
            continue
        guess = engine.numerical_gradient(f, case.data["x"], step)
        if close(grad, guess, tol) and not close(expected, guess, tol):
            error = float(np.max(np.abs(grad - guess), initial=0.0))
            if best is None or error < best[0]:
                best = (error, step)
    exact = TEST_FUNCTIONS[case.data["f"]].grad(case.data["x"])
    off_exact = float(np.max(np.abs(grad - exact), initial=0.0))
    if close(grad, exact, tol) and not close(expected, exact, tol) \
            and (best is None or off_exact < best[0]):
        # Nearer the exact gradient than to any fixed step: a higher-order stencil.
        return ("this is the exact gradient, as a higher-order stencil or a tiny fixed step "
                "gives it; numerical_gradient is the centred difference (f(x + h e_i) - "
                "f(x - h e_i)) / (2 h) with the h it is given, O(h^2) error included")
    if best is None:
        return ""
    if case.hidden:  # which h a hidden case gives is part of its input
        given = "the case asks for another h"
    elif case.calls[0].args[2:] == () and "h" not in case.calls[0].kwargs:
        given = "h was not given, so its default 1e-5 applies"
    else:
        given = f"h = {h:g} was given"
    return (f"this is a centred difference with a step of {best[1]:g}, but {given}: use the "
            "h argument (def numerical_gradient(f, x, h=1e-5)) instead of a fixed step")


CHECK = CheckDef("numerical_gradient", _gradient_public, _gradient_hidden, _judge_gradient,
                 GRADIENT_TOLERANCE, "centred finite differences")
