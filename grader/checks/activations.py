"""Exercise 1: activations and their derivatives, checked element by element.

Cases hit the kink at exactly 0, large |z| (overflow must not happen), tiny
values, 0-d, 1-D and 3-D arrays, and non-default alphas. Every case keeps at
least one moderate entry so the array's scale, used for the absolute part of
the tolerance, is meaningful.
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks import status
from grader.checks.common import (check_inputs_kept, completed_calls, fail, judging, passed,
                                  pick, warning_note, warning_text)
from grader.checks.compare import close, compare, fmt, fmt_pair, mismatches, within
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import Arr, Mismatch, conform
from grader.course import Tolerance
from grader.engine.activations import ACTIVATIONS
from grader.sandbox.run import Call, TaskOutcome

TOLERANCE = Tolerance(rtol=1e-8, atol_scale=1e-12)

# Non-default parameters each parameterised activation is also tried with.
# (A slope above 1 too for leaky ReLU: np.maximum(z, alpha * z) is right only up to 1.)
OTHER_PARAMS = {"leaky_relu": ({"alpha": 0.2}, {"alpha": 1.5}), "elu": ({"alpha": 0.5},)}

# Derivatives written in terms of the activation's output y, which students
# sometimes apply to z itself: sigmoid' = y (1 - y), tanh' = 1 - y^2.
OUTPUT_FORMS = {
    "sigmoid": ("s (1 - s)", lambda y: y * (1.0 - y)),
    "tanh": ("1 - t**2", lambda y: 1.0 - y * y),
}

# What the derivative is at exactly z = 0 under PyTorch's convention, for hints.
KINKS = {
    "relu": "relu'(0) = 0",
    "leaky_relu": "leaky_relu'(0) = alpha",
    "elu": "elu'(0) = alpha",
    "selu": "selu'(0) = scale * alpha",
}


# Where the lesson draws each derivative: 161 points, 0.05 apart, 0.0 exactly among
# them. A failing case on this grid carries both curves so a report can draw them.
GRID = np.arange(-80, 81) / 20.0
GRID_LABEL = "a grid of 161 points on [-4, 4]"


def _public_inputs() -> list[tuple[str, np.ndarray]]:
    fixed = np.random.default_rng(20240601)
    return [
        ("values around the kink at 0",
         np.array([-3.0, -1.0, -1e-6, 0.0, 1e-6, 0.5, 1.0, 3.0])),
        ("large |z| (no overflow, no NaN)",
         np.array([-1e5, -1000.0, -50.0, -20.0, 0.5, 20.0, 50.0, 1000.0, 1e5])),
        ("tiny values", np.concatenate([[1.0], fixed.normal(0.0, 1e-8, 5)])),
        ("a 0-d array at the kink", np.array(0.0)),
        ("a 0-d array", np.array(-0.7)),
        ("a 3-D array of shape (2, 3, 4)", fixed.normal(0.0, 2.0, (2, 3, 4))),
    ]


def _hidden_input(rng: np.random.Generator) -> np.ndarray:
    ndim = int(rng.integers(0, 4))
    shape = tuple(int(d) for d in rng.integers(1, 6, size=ndim))
    if ndim == 0:
        return np.array(pick(rng, (0.0, rng.uniform(-3, 3))))
    z = rng.normal(0.0, 1.0, shape) * 10.0 ** rng.uniform(-4, 2.5, shape)
    flat = z.reshape(-1)
    flat[0] = rng.uniform(-3, 3)
    if flat.size > 1:
        flat[1] = 0.0
    if flat.size > 2 and rng.random() < 0.5:
        flat[2] = pick(rng, (-1000.0, 1000.0))
    return z



def _reference(function: str):
    """(activation record, the reference callable, whether it is a derivative)."""
    base = function.removesuffix("_grad")
    act = ACTIVATIONS[base]
    return act, (act.grad if function.endswith("_grad") else act.fn), function.endswith("_grad")


def make_check(function: str) -> CheckDef:
    act, _, _ = _reference(function)
    variants = [{}, *OTHER_PARAMS.get(act.name, ())]

    def cases_for(label: str, z: np.ndarray, params_list, hidden: bool,
                  grid: bool = False) -> list[Case]:
        out = []
        for params in params_list:
            suffix = "".join(f", {k} = {v:g}" for k, v in params.items())
            out.append(Case(label + suffix, (Call(function, (z,), dict(params)),),
                            {"z": z, "params": params, "grid": grid}, hidden))
        return out

    def public() -> list[Case]:
        cases = []
        for i, (label, z) in enumerate(_public_inputs()):
            cases += cases_for(label, z, variants if i == 0 else [{}], False)
        if function.endswith("_grad"):
            # Last, so the cases above keep their places in the feedback.
            cases += cases_for(GRID_LABEL, GRID, variants, False, grid=True)
        return cases

    def hidden(rng: np.random.Generator, n: int) -> list[Case]:
        cases = []
        for i in range(n):
            z = _hidden_input(rng)
            params = {}
            if act.params and rng.random() < 0.5:
                params = {k: float(np.round(rng.uniform(0.01, 2.0), 3)) for k in act.params}
            cases += cases_for(f"hidden case {i + 1}", z, [params], True)
        return cases

    @judging
    def judge(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
        return _judge(function, case, outcome, tol)

    return CheckDef(function, public, hidden, judge, TOLERANCE)


def _judge(function: str, case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    z, params = case.data["z"], case.data["params"]
    (call,) = completed_calls(case, outcome)
    try:
        value = conform(Arr("the output", z.shape), call.value)
    except Mismatch as exc:
        message = f"{function} returned: {exc.message}"
        if exc.index is not None and not case.hidden:
            message += f" (z = {fmt(float(z[exc.index]))})"
        hint = _stability_hint(function) if exc.status == status.NON_FINITE else ""
        raise fail(case, exc.status, message, hint) from None
    check_inputs_kept(case, (call,))
    _, reference, is_grad = _reference(function)
    # The contract: a forward activation is safe on huge |z|, without overflow warnings
    # (an underflow warning, which numpy gives only when the module asked for it, is no
    # sign of an unsafe form: exp(-1000) is exactly the 0 it flushes to).
    unsafe = [w for w in call.warnings if "underflow encountered" not in warning_text(w)]
    if unsafe and not is_grad and _huge(z):
        raise fail(case, status.WARNING, f"{function} warned: {warning_text(unsafe[0])}",
                   _stability_hint(function))
    expected = reference(z, **params)
    if within(value, expected, tol):
        fix = _warning_fix(is_grad, warning_text(unsafe[0])) if unsafe else UNDERFLOW_FIX
        return passed(case, warning_note(case, function, unsafe or call.warnings, fix))
    diff = compare(value, expected, tol)
    if case.hidden:
        message = (f"{function} gives wrong values on a hidden input (largest error "
                   f"relative to the output's scale: {fmt(diff.rel_error)})")
    else:
        at = f"z = {fmt(float(z[diff.index]))}"
        message = f"{function} is wrong at {at}: expected {fmt_pair(diff.expected, diff.got)}"
    hint = _hint(function, z, params, value, expected, tol)
    if case.data["grid"] and not case.hidden:
        return CaseResult(case.label, status.WRONG, message, hint, case.hidden,
                          curve=_curve(z, expected, value))
    raise fail(case, status.WRONG, message, hint)


def _curve(z: np.ndarray, expected: np.ndarray, value: np.ndarray) -> tuple:
    """Plain floats, so results stay free of numpy arrays."""
    return tuple(tuple(float(v) for v in a.reshape(-1)) for a in (z, expected, value))


# From here on |z| counts as huge: exp(z) is beyond 4.8e8, and the forms that are not
# numerically safe start to lose digits, then overflow.
HUGE = 20.0


def _huge(z: np.ndarray) -> bool:
    return bool(z.size) and float(np.max(np.abs(z))) >= HUGE


UNDERFLOW_FIX = ("numpy warns about underflow only when the module asks it to (np.seterr), and "
                 "the 0 it flushes to is exact here")


def _warning_fix(is_grad: bool, warning: str) -> str:
    if is_grad and not warning.endswith("in exp"):
        return ("a form whose intermediate values stay in range avoids it (1 - tanh(z)**2 "
                "rather than 1 / cosh(z)**2)")
    if is_grad:
        return ("np.where computes both branches, so exp overflows in the one it throws "
                "away: np.exp(np.minimum(z, 0)) avoids it")
    return "A forward function should not warn: " + _stability_hint("")


def _stability_hint(function: str) -> str:
    return ("use a numerically stable form that never computes exp of a large positive "
            "number (e.g. exp(-|z|), or np.where on clipped inputs)")


def _hint(function: str, z: np.ndarray, params: dict, value: np.ndarray,
          expected: np.ndarray, tol: Tolerance) -> str:
    """Name the typical mistake the student's output matches, if any (``expected`` is the
    reference output)."""
    act, reference, is_grad = _reference(function)
    if is_grad:
        at_output = act.grad(act.fn(z, **params), **params)
        if close(value, at_output, tol) and not close(expected, at_output, tol):
            return ("this is the derivative evaluated at the activation's output f(z); "
                    "evaluate it at the pre-activation z")
        if close(value, act.fn(z, **params), tol):
            return "this returns the activation itself, not its derivative"
        if act.name in OUTPUT_FORMS:
            formula, form = OUTPUT_FORMS[act.name]
            if close(value, form(z), tol):
                letter = formula[0]
                return (f"this is {formula} with {letter} = z, but {formula} is the derivative "
                        f"in terms of the output {letter} = {act.name}(z): compute the output "
                        f"first, then {formula}")
    elif close(value, act.grad(z, **params), tol):
        return "this returns the derivative; the forward function returns the activation itself"
    if params and close(value, reference(z), tol):
        return f"{function} ignores its {', '.join(params)} argument"
    if function == "leaky_relu" and close(value, np.maximum(z, params.get("alpha", 0.01) * z),
                                          tol):
        return ("np.maximum(z, alpha * z) is leaky ReLU only while alpha <= 1; with a "
                "steeper slope it keeps z itself: use np.where(z > 0, z, alpha * z)")
    if act.name == "gelu" and close(value, _exact_gelu(z, is_grad), tol):
        what = "the derivative of the exact (erf) GELU" if is_grad else "the exact (erf) GELU"
        return (f"this is {what}; the course uses the tanh approximation "
                "0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))")
    if act.name == "selu" and close(value, expected, Tolerance(rtol=1e-4, atol_scale=1e-6)):
        return ("close but not exact: use the SELU constants with all their digits "
                "(alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946)")
    wrong = mismatches(value, expected, tol)
    if wrong.any() and np.all(z[wrong] == 0) and is_grad and act.name in KINKS:
        return f"only z = 0 exactly is wrong: follow PyTorch's convention {KINKS[act.name]}"
    if wrong.any() and np.all(np.abs(z[wrong]) >= 20):
        return "only large |z| is wrong: " + _stability_hint(function)
    return ""


def _exact_gelu(z: np.ndarray, derivative: bool) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    cdf = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    if not derivative:
        return z * cdf
    return cdf + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


FUNCTIONS = tuple(name for act in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu",
                                   "gelu", "silu") for name in (act, f"{act}_grad"))
CHECKS = {name: make_check(name) for name in FUNCTIONS}
