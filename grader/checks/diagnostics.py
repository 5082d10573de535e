"""Exercise 5: diagnostics (per-layer norms, their ratio, a verdict, gradient checks).

layer_norms is compared entry by entry, each norm to its own scale (one list may hold
a 1e-200 and a 1e+200 gradient, and both must come out right). gradient_ratio and
relative_error are single numbers, compared relatively; gradient_ratio's x / 0 is inf
and 0 / 0 NaN, and those must match exactly. diagnose is a word, judged on ratios
exactly at its thresholds (both count as healthy) and with thresholds of the case's own.

numerical_gradient is judged in gradcheck.py.
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks import gradcheck, status
from grader.checks.common import (Failed, check_inputs_kept, completed_calls, fail, judging,
                                  norm_calls, passed, random_sign, warning_note, with_hint)
from grader.checks.compare import agree, compare, compare_number, fmt, fmt_pair
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import Arr, Choice, Mismatch, Num, conform
from grader.course import Tolerance
from grader.engine import diagnostics as engine
from grader.engine.clipping import unscaled_norms
from grader.sandbox.run import Call, TaskOutcome

NORMS_TOLERANCE = Tolerance(rtol=1e-10, atol_scale=0.0)
NUMBER_TOLERANCE = Tolerance(rtol=1e-10, atol_scale=0.0)
VERDICTS = ("vanishing", "exploding", "healthy")

SCALING_HINT = ("the squares overflowed where PyTorch's norm does not: divide each array by "
                "its largest |entry| before squaring, then multiply the norm back (as "
                "global_norm does)")


# --- layer_norms ------------------------------------------------------------------------

def _layer_norms_public() -> list[Case]:
    rng = np.random.default_rng(5001)
    plans = [
        ("arrays of shapes (3, 4), (5,), (2, 2, 2) and a 0-d array",
         [rng.normal(size=(3, 4)), rng.normal(size=5), rng.normal(size=(2, 2, 2)),
          np.array(-1.5)]),
        ("a single (6, 3) array", [rng.normal(size=(6, 3))]),
        ("an all-zero array between two others",
         [rng.normal(size=(2, 3)), np.zeros((3, 3)), rng.normal(size=3)]),
        ("entries near 1e200 (their squares overflow)",
         [rng.normal(size=(2, 3)) * 1e200, rng.normal(size=4)]),
        ("entries near 1e-200 (their squares underflow)",
         [rng.normal(size=4), rng.normal(size=(3, 2)) * 1e-200]),
        ("30 layers whose gradients grow from 1e-29 to 1 towards the output",
         [rng.normal(size=(4, 4)) * 10.0 ** -k for k in range(29, -1, -1)]),
    ]
    return [_layer_norms_case(label, grads, False) for label, grads in plans]


def _layer_norms_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        grads = []
        for _ in range(int(rng.integers(1, 9))):
            shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 4))))
            grads.append(np.asarray(rng.normal(size=shape) * 10.0 ** rng.uniform(-30, 30)))
        if rng.random() < 0.25:
            k = int(rng.integers(len(grads)))
            grads[k] = np.asarray(grads[k] * 10.0 ** (random_sign(rng)
                                                      * rng.uniform(170, 200)))
        cases.append(_layer_norms_case(f"hidden case {i + 1}", grads, True))
    return cases


def _layer_norms_case(label, grads, hidden) -> Case:
    return Case(label, (Call("layer_norms", (grads,)),), {"grads": grads}, hidden)


def _plain_norms(grads, power=2.0, root=True, mean=False):
    with np.errstate(all="ignore"):
        out = []
        for g in grads:
            a = np.abs(np.asarray(g, np.float64)).ravel()
            s = (np.mean if mean else np.sum)(a ** power) if a.size else 0.0
            out.append(s ** (1.0 / power) if root else s)
        return np.array(out, dtype=np.float64)


NORMS_MISTAKES = (
    ("take the square root: the Frobenius norm is sqrt(sum of g**2)",
     lambda grads: _plain_norms(grads, root=False)),
    ("the Frobenius norm is sqrt(sum of g**2) over all entries; this is the largest |entry|",
     lambda grads: np.array([np.abs(np.asarray(g)).max() for g in grads])),
    ("sum the squares (do not average them) before the square root",
     lambda grads: _plain_norms(grads, mean=True)),
    ("the norms are in reverse order: norms[0] belongs to grads[0] (layer 1)",
     lambda grads: engine.layer_norms(grads)[::-1]),
    ("take one norm per array, not the norm of all arrays together",
     lambda grads: np.full(len(grads), engine.layer_norms(
         [np.concatenate([np.ravel(g) for g in grads])])[0])),
)


@judging
def _judge_layer_norms(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    grads = case.data["grads"]
    (call,) = norm_calls(case, outcome)
    try:
        norms = conform(Arr("norms", (len(grads),), finite=False), call.value)
    except Mismatch as exc:
        hint = {status.BAD_TYPE: "return one float64 array: np.array(norms, dtype=np.float64)"
                }.get(exc.status, "")
        raise fail(case, exc.status, f"layer_norms returned: {exc.message}", hint) from None
    check_inputs_kept(case, (call,))
    expected = engine.layer_norms(grads)
    if np.isfinite(norms).all() and compare(norms, expected, tol).ok:
        return passed(case)
    # PyTorch's and numpy's own norms overflow and underflow: each norm may be either.
    unscaled = np.array([unscaled_norms([g])[0] for g in grads])
    exact = agree(norms, expected, tol)
    if (exact | agree(norms, unscaled, tol)).all():
        return passed(case, _unscaled_note(case, norms, expected, exact))
    bad = np.isnan(norms) | (np.isinf(norms) & (norms != unscaled))
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(case, status.NON_FINITE,
                   f"layer_norms returned: norms[{i}] (layer {i + 1}) is {norms[i]}",
                   "" if np.isnan(norms[i]) else SCALING_HINT)
    diff = compare(np.where(exact, expected, norms), expected, tol)
    (i,) = diff.index
    if case.hidden:
        message = (f"layer_norms: norms[{i}] (layer {i + 1}) is wrong on a hidden input "
                   f"(relative error {fmt(_rel(diff))})")
    else:
        message = (f"layer_norms: norms[{i}] (layer {i + 1}) is wrong: expected "
                   f"{fmt_pair(diff.expected, diff.got)}")
    hint = next((h for h, model in NORMS_MISTAKES if _matches(norms, model(grads), expected)),
                "")
    raise fail(case, status.WRONG, message, hint)


def _unscaled_note(case: Case, norms: np.ndarray, expected: np.ndarray,
                   exact: np.ndarray) -> str:
    if exact.all() or case.hidden:
        return ""
    i = int(np.argmin(exact))
    return (f"norms[{i}] (layer {i + 1}) is {fmt(float(norms[i]))} on {case.label}, as "
            f"np.linalg.norm and PyTorch give it, so it passes; dividing the array by its "
            f"largest |entry| before squaring gives the exact {fmt(float(expected[i]))}")


def _rel(diff) -> float:
    return abs(diff.got - diff.expected) / abs(diff.expected) if diff.expected else math.inf


def _matches(got: np.ndarray, model: np.ndarray, expected: np.ndarray) -> bool:
    """The student's norms are the model's, entry by entry, and the model is wrong here."""
    model = np.asarray(model, np.float64)
    if model.shape != got.shape:
        return False
    with np.errstate(all="ignore"):
        same = np.isclose(got, model, rtol=1e-6, atol=0.0) | (got == model)
        differs = ~(np.isclose(expected, model, rtol=1e-6, atol=0.0) | (expected == model))
    return bool(same.all() and differs.any())


# --- gradient_ratio ---------------------------------------------------------------------

def _ratio_public() -> list[Case]:
    rng = np.random.default_rng(5002)
    return [
        _ratio_case("5 norms falling towards the input (ratio 2e-4)",
                    np.array([2e-4, 3e-3, 0.05, 0.4, 1.0]), False),
        _ratio_case("4 norms rising towards the input (ratio 5e+3)",
                    np.array([50.0, 3.0, 0.2, 0.01]), False),
        _ratio_case("a list of Python floats", [0.5, 0.7, 0.9, 2.0], False),
        _ratio_case("a single layer (ratio 1)", np.array([3.5]), False),
        _ratio_case("30 layers from 1e-25 to 1e+5", np.geomspace(1e-25, 1e5, 30), False),
        _ratio_case("random norms of 8 layers", rng.uniform(0.1, 10.0, 8), False),
        _ratio_case("an output layer with norm 0 (x / 0 is inf)",
                    np.array([0.3, 0.1, 0.0]), False),
        _ratio_case("a list whose output norm is 0.0 (x / 0 is inf)", [2.0, 1.0, 0.0], False),
        _ratio_case("all norms 0 (0 / 0 is nan)", np.zeros(3), False),
    ]


def _ratio_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        norms = 10.0 ** rng.uniform(-30, 30, int(rng.integers(2, 31)))
        value = norms if rng.random() < 0.5 else [float(v) for v in norms]
        cases.append(_ratio_case(f"hidden case {i + 1}", value, True))
    return cases


def _ratio_case(label, norms, hidden) -> Case:
    return Case(label, (Call("gradient_ratio", (norms,)),), {"norms": norms}, hidden)


def _ratio_of(norms, first: int, last: int) -> float:
    a = np.asarray(norms, np.float64)
    if a.size < 2:  # one layer: no neighbour to confuse it with
        return math.nan
    with np.errstate(all="ignore"):
        return float(a[first] / a[last])


ZERO_DIVISION_HINT = ("convert norms to a numpy array first: numpy gives inf for x / 0 (and "
                      "nan for 0 / 0) where Python raises")

RATIO_MISTAKES = (
    ("the ratio is input side over output side: norms[0] / norms[-1]",
     lambda norms: _ratio_of(norms, -1, 0)),
    ("compare the two ends of the network: norms[0] / norms[-1], not neighbouring layers",
     lambda norms: _ratio_of(norms, 0, 1)),
    ("the ratio is norms[0] / norms[-1] (input side over output side), not the largest "
     "over the smallest norm",
     lambda norms: float(np.max(norms) / np.min(norms)) if np.min(norms) > 0 else math.nan),
)


@judging
def _judge_ratio(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    norms = case.data["norms"]
    try:
        (call,) = completed_calls(case, outcome)
    except Failed as failed:
        zero = "ZeroDivisionError" in failed.result.message
        raise with_hint(failed, ZERO_DIVISION_HINT if zero else "") from None
    try:
        value = conform(Num("the ratio", finite=False), call.value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"gradient_ratio returned: {exc.message}",
                   "return a float: float(norms[0] / norms[-1])") from None
    check_inputs_kept(case, (call,))
    expected = engine.gradient_ratio(norms)
    if _same_number(value, expected, tol.rtol):
        return passed(case, warning_note(
            case, "gradient_ratio", call.warnings,
            "x / 0 is inf and 0 / 0 is nan here by design: divide inside "
            "np.errstate(divide='ignore', invalid='ignore') to say so"))
    if case.hidden:
        message = "gradient_ratio is wrong on a hidden input" + (
            f" (relative error {fmt(abs(value - expected) / abs(expected))})"
            if math.isfinite(expected) and math.isfinite(value) and expected else "")
    else:
        message = f"gradient_ratio is wrong: expected {_pair(expected, value)}"
    hint = next((h for h, model in RATIO_MISTAKES
                 if _same_number(value, model(norms), 1e-6)
                 and not _same_number(expected, model(norms), 1e-6)), "")
    raise fail(case, status.WRONG, message, hint)


def _same_number(got: float, want: float, rtol: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return compare_number(got, want, rtol).ok


def _pair(expected: float, got: float) -> str:
    if math.isfinite(expected) and math.isfinite(got):
        return fmt_pair(expected, got)
    return f"{expected}, got {got}" if expected != got else f"{expected}"


# --- diagnose ---------------------------------------------------------------------------

def _diagnose_public() -> list[Case]:
    rng = np.random.default_rng(5003)
    plans = [
        ("norms falling 1e4-fold towards the input", np.array([1e-4, 1e-2, 1.0]), {}, ()),
        ("norms rising 1e4-fold towards the input", np.array([1e4, 1e2, 1.0]), {}, ()),
        ("a healthy profile (ratio 0.5)", np.array([0.5, 0.8, 1.0]), {}, ()),
        ("a ratio of exactly 0.01 (= vanish_below: healthy)", np.array([1.0, 3.0, 100.0]),
         {}, ()),
        ("a ratio of exactly 100 (= explode_above: healthy)", np.array([100.0, 3.0, 1.0]),
         {}, ()),
        ("a ratio just below 0.01", np.array([0.99, 100.0]), {}, ()),
        ("a ratio just above 100", np.array([100.5, 1.0]), {}, ()),
        ("a dead input layer (norm 0: ratio 0)", np.array([0.0, 0.5, 2.0]), {}, ()),
        ("ratio 3e-3 with vanish_below = 1e-3, explode_above = 1e3 (keywords)",
         np.array([3e-3, 1.0]), {"vanish_below": 1e-3, "explode_above": 1e3}, ()),
        ("ratio 0.5 with vanish_below = 0.6 (keyword)", np.array([0.5, 1.0]),
         {"vanish_below": 0.6}, ()),
        ("ratio 20 with explode_above = 10 (keyword)", np.array([20.0, 1.0]),
         {"explode_above": 10.0}, ()),
        ("ratio 0.3 with thresholds 0.5 and 2 given by position", np.array([0.3, 1.0]),
         {}, (0.5, 2.0)),
        ("a ratio exactly at a custom explode_above = 4", np.array([4.0, 1.0]),
         {"explode_above": 4.0}, ()),
        ("random norms of 6 layers", rng.uniform(0.5, 2.0, 6), {}, ()),
    ]
    return [_diagnose_case(label, norms, kwargs, args, False)
            for label, norms, kwargs, args in plans]


def _diagnose_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        norms = 10.0 ** rng.uniform(-4, 4, int(rng.integers(2, 21)))
        ratio = engine.gradient_ratio(norms)
        kind = int(rng.integers(4))
        kwargs = {}
        if kind == 1:  # custom thresholds around the ratio
            kwargs = {"vanish_below": float(ratio * 10.0 ** rng.uniform(-1, 1)),
                      "explode_above": float(ratio * 10.0 ** rng.uniform(1, 2))}
        elif kind == 2:  # the ratio sits exactly on a threshold
            side = "vanish_below" if rng.random() < 0.5 else "explode_above"
            kwargs = {"vanish_below": 0.0, side: ratio} if side == "explode_above" \
                else {side: ratio, "explode_above": math.inf}
        cases.append(_diagnose_case(f"hidden case {i + 1}", norms, kwargs, (), True))
    return cases


def _diagnose_case(label, norms, kwargs, args, hidden) -> Case:
    return Case(label, (Call("diagnose", (norms, *args), dict(kwargs)),),
                {"norms": norms, "kwargs": dict(kwargs), "args": tuple(args)}, hidden)


def _thresholds(case: Case) -> tuple[float, float]:
    args, kwargs = case.data["args"], case.data["kwargs"]
    vanish = args[0] if args else kwargs.get("vanish_below", engine.VANISH_BELOW)
    explode = args[1] if len(args) > 1 else kwargs.get("explode_above", engine.EXPLODE_ABOVE)
    return float(vanish), float(explode)


def _verdict(ratio: float, vanish: float, explode: float, *, strict=True, swapped=False):
    below = ratio < vanish if strict else ratio <= vanish
    above = ratio > explode if strict else ratio >= explode
    if below:
        return "exploding" if swapped else "vanishing"
    if above:
        return "vanishing" if swapped else "exploding"
    return "healthy"


DIAGNOSE_MISTAKES = (
    ("a ratio exactly at a threshold is healthy: compare strictly (ratio < vanish_below, "
     "ratio > explode_above)", dict(strict=False)),
    ("the verdicts are swapped: with ratio = norms[0] / norms[-1] (input side over output "
     "side), a ratio below vanish_below is 'vanishing' and one above explode_above "
     "'exploding'", dict(swapped=True)),
    ("use the vanish_below and explode_above you are given; 1e-2 and 1e2 are only their "
     "defaults", dict(default=True)),
)


@judging
def _judge_diagnose(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    norms = case.data["norms"]
    (call,) = completed_calls(case, outcome)
    verdict = _conform_word(case, call.value)
    check_inputs_kept(case, (call,))
    vanish, explode = _thresholds(case)
    ratio = engine.gradient_ratio(norms)
    expected = engine.diagnose(norms, vanish, explode)
    if verdict == expected:
        return passed(case)
    if case.hidden:
        message = f"diagnose returned {verdict!r} on a hidden input, which is not its verdict"
    else:
        at = " (exactly at a threshold)" if ratio in (vanish, explode) else ""
        message = (f"diagnose returned {verdict!r} for a ratio of {fmt(ratio)}{at} with "
                   f"vanish_below = {fmt(vanish)} and explode_above = {fmt(explode)}; "
                   f"expected {expected!r}")
    hint = ""
    for text, flags in DIAGNOSE_MISTAKES:
        flags = dict(flags)
        limits = (engine.VANISH_BELOW, engine.EXPLODE_ABOVE) if flags.pop("default", False) \
            else (vanish, explode)
        if _verdict(ratio, *limits, **flags) == verdict:
            hint = text
            break
    raise fail(case, status.WRONG, message, hint)


def _conform_word(case: Case, value) -> str:
    try:
        return conform(Choice("the verdict", VERDICTS), value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"diagnose returned: {exc.message}",
                   "return the word itself, e.g. return \"healthy\"") from None


# --- relative_error ---------------------------------------------------------------------

def _relerr_public() -> list[Case]:
    rng = np.random.default_rng(5005)
    a = rng.normal(size=(3, 4))
    apart = np.array([[4.0, -1.0], [0.5, 0.0]])
    plans = [
        ("a passing gradient check: b = a (1 + 1e-8 noise), shape (3, 4)",
         a, a * (1 + 1e-8 * rng.normal(size=(3, 4)))),
        ("a failing one: b = 2 a", a, 2 * a),
        ("identical arrays", a, a.copy()),
        ("both all zeros (the 1e-12 floor gives 0, not 0 / 0)", np.zeros((2, 3)),
         np.zeros((2, 3))),
        ("a = 0 and b of size 1e-20 (the floor decides)", np.zeros(4),
         rng.normal(size=4) * 1e-20),
        ("the largest |a| and |b| at different entries", apart,
         np.array([[3.9, -1.0], [0.5, -6.0]])),
        ("the largest difference is negative", np.array([1.0, 2.0, 3.0]),
         np.array([1.5, 2.0, 5.5])),
        ("0-d arrays", np.array(3.0), np.array(-1.0)),
        ("gradients of size 1e-30 (the floor decides)", a * 1e-30, a * 1.1e-30),
    ]
    return [_relerr_case(label, x, y, False) for label, x, y in plans]


def _relerr_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 4))))
        a = np.asarray(rng.normal(size=shape) * 10.0 ** rng.uniform(-20, 20))
        noise = np.asarray(rng.normal(size=shape) * 10.0 ** rng.uniform(-12, 0))
        b = np.asarray(a * (1.0 + noise))
        if rng.random() < 0.15:
            a, b = np.asarray(a * 0.0), np.asarray(rng.normal(size=shape)
                                                   * 10.0 ** rng.uniform(-24, -12))
        cases.append(_relerr_case(f"hidden case {i + 1}", a, b, True))
    return cases


def _relerr_case(label, a, b, hidden) -> Case:
    return Case(label, (Call("relative_error", (a, b)),), {"a": a, "b": b}, hidden)


def _relerr_model(a, b, *, floor=1e-12, numerator="max", denominator="max+max"):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(all="ignore"):
        diff = {"max": np.max(np.abs(a - b)), "signed": np.max(a - b),
                "sum": np.sum(np.abs(a - b))}[numerator]
        if denominator == "elementwise":
            return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))
        scale = {"max+max": np.max(np.abs(a)) + np.max(np.abs(b)),
                 "max(sum)": np.max(np.abs(a) + np.abs(b)),
                 "norms": np.linalg.norm(a) + np.linalg.norm(b)}[denominator]
        if denominator == "norms":
            diff = np.linalg.norm(a - b)
        return float(diff / (max(floor, scale) if floor else scale))


RELERR_MISTAKES = (
    ("take the absolute difference: max(|a - b|), not max(a - b)",
     dict(numerator="signed")),
    ("the numerator is the largest |a - b|, not their sum", dict(numerator="sum")),
    ("the denominator is max(|a|) + max(|b|), each max over a whole array, not the largest "
     "|a| + |b| of one entry", dict(denominator="max(sum)")),
    ("take one max over each array: max(|a - b|) / max(1e-12, max(|a|) + max(|b|)), not a "
     "ratio per entry", dict(denominator="elementwise")),
    ("this uses 2-norms; the course's score uses the largest entries: max(|a - b|) / "
     "max(1e-12, max(|a|) + max(|b|))", dict(denominator="norms")),
    ("keep the floor: divide by max(1e-12, max(|a|) + max(|b|)), so tiny or zero arrays "
     "do not blow up", dict(floor=0.0)),
)


@judging
def _judge_relerr(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    a, b = case.data["a"], case.data["b"]
    (call,) = completed_calls(case, outcome)
    try:
        value = conform(Num("the relative error"), call.value)
    except Mismatch as exc:
        hint = ("0 / 0 or x / 0: divide by max(1e-12, max(|a|) + max(|b|)); the floor keeps "
                "two zero arrays at 0" if exc.status == status.NON_FINITE
                else "return a float: float(...)")
        raise fail(case, exc.status, f"relative_error returned: {exc.message}", hint) from None
    check_inputs_kept(case, (call,))
    expected = engine.relative_error(a, b)
    if compare_number(value, expected, tol.rtol).ok:
        return passed(case)
    if case.hidden:
        message = "relative_error is wrong on a hidden input" + (
            f" (relative error {fmt(abs(value - expected) / expected)})" if expected else "")
    else:
        message = f"relative_error is wrong: expected {fmt_pair(expected, value)}"
    hint = ""
    for text, flags in RELERR_MISTAKES:
        model = _relerr_model(a, b, **flags)
        if math.isfinite(model) and compare_number(value, model, 1e-6).ok \
                and not compare_number(expected, model, 1e-6).ok:
            hint = text
            break
    raise fail(case, status.WRONG, message, hint)


# --- the catalogue ----------------------------------------------------------------------

CHECKS = {
    "layer_norms": CheckDef("layer_norms", _layer_norms_public, _layer_norms_hidden,
                            _judge_layer_norms, NORMS_TOLERANCE,
                            "the Frobenius norm of each layer's gradient"),
    "gradient_ratio": CheckDef("gradient_ratio", _ratio_public, _ratio_hidden, _judge_ratio,
                               NUMBER_TOLERANCE, "input-side norm over output-side norm"),
    "diagnose": CheckDef("diagnose", _diagnose_public, _diagnose_hidden, _judge_diagnose,
                         None, "vanishing, exploding or healthy"),
    "numerical_gradient": gradcheck.CHECK,
    "relative_error": CheckDef("relative_error", _relerr_public, _relerr_hidden, _judge_relerr,
                               NUMBER_TOLERANCE, "the gradient check's score"),
}
