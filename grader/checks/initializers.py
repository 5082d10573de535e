"""Exercise 2: weight initializers, graded by their distribution rather than by one draw.

Every case is one task in the child, each call with its own fresh Generator.
Small cases make three calls: seed s, seed s again (the two arrays must be
identical) and another seed (the array must differ); they check shape, dtype,
determinism and bounds. Large cases make two calls with different seeds and pool
the two draws (n = 2 fan_in fan_out >= STATS_MIN_N entries) to test the sample's
mean, variance and shape against the distribution the spec names. Each call
must advance the Generator it is given and leave the global ``np.random`` state
alone.

Large cases are as small as the tests allow (n >= 19,200): the weights are most
of the data a submission sends back, and the grading rate depends on it.

How often a correct submission fails, per large case (n >= 19,200; s = expected std;
bounds computed in tests/checks/test_initializers_checks.py):
- mean: |mean| <= Z s / sqrt(n), Z = 7: exactly erfc(7 / sqrt 2) = 2.6e-12 for the
  normal; Bernstein's inequality for the bounded uniform: < 7e-11.
- variance: |v / s^2 - 1| <= Z sqrt((kurtosis - 1) / n), kurtosis 3 (normal) or 9/5
  (uniform): Chernoff's bound on chi^2_{n-1} for the normal, < 6e-11; Bernstein for
  the uniform, < 1.6e-9 (a loose bound: Bernstein ignores that the terms are bounded
  by far less than their spread allows).
- excess kurtosis (normal only): |g2| <= Z_KURTOSIS sqrt(24 / n), Z_KURTOSIS = 8;
  allowing for the skew of g2 (about 6 sqrt(6/n)) it is still 7.5 standard
  deviations: about 1e-13 (the one figure that is an approximation).
- uniform edge: max|w| >= a (1 - EDGE / n) fails with (1 - EDGE/n)^n < e^-25 = 1.4e-11;
  |w| <= a (1 + 1e-12) never fails (rng.uniform(-a, a) stays in [-a, a)).
- normal outliers: |w| <= OUTLIER s fails with 2.3e-19 per entry.
Summed over a course's 6 initializers x 5 large cases (2 public, 3 hidden): 2e-8 per
submission; 4e-7 with the most hidden cases a course may ask for (100 per check).

Every wrong scale the hints name fails always (all but one: (1 + negative_slope)
for (1 + negative_slope^2), which agree near slope 1): hidden shapes are far from square
(fan ratio 1.5 to 2.5) and gain, negative_slope and std stay away from the values
that make a mistake harmless, so each mistake moves the variance by at least 16%,
where the tolerance is at most 7.2% and the estimate's standard error 1.1%, so a
16% mistake sits 8 standard errors outside (and a uniform's bound is checked to 25/n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

from grader.checks import status
from grader.checks.common import completed_calls, fail, judging, passed, random_sign
from grader.checks.compare import fmt
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import Arr, Mismatch, conform
from grader.course import Tolerance
from grader.engine.initializers import INITIALIZERS
from grader.sandbox.run import Call, CallOutcome, TaskOutcome
from grader.sandbox.wire import Rng

Z = 7.0                # mean and variance tests, in standard errors
Z_KURTOSIS = 8.0       # the excess kurtosis test (its estimate is skewed, so a wider bound)
STATS_MIN_N = 10_000   # pooled entries needed before the mean/variance/shape tests apply
STATS_N = 19_200       # pooled entries of a large case, at least (see the docstring)
EDGE = 25.0            # a uniform sample must reach a (1 - EDGE / n)
OUTLIER = 9.0          # no normal entry beyond OUTLIER standard deviations
BOUND_SLACK = 1e-12    # relative rounding allowed above the uniform bound a
KURTOSIS = {"normal": 3.0, "uniform": 9.0 / 5.0}

# The keyword parameter each initializer takes, with the values public cases try.
PARAM = {"xavier_uniform": ("gain", 1.5), "xavier_normal": ("gain", 1.5),
         "he_uniform": ("negative_slope", 0.5), "he_normal": ("negative_slope", 0.5),
         "random_normal": ("std", 0.05)}

# Public shapes: (fan_in, fan_out, with the non-default parameter?); the large ones come
# first because their failures name the mistake.
SMALL_SHAPES = ((1, 1, False), (3, 5, True), (1, 64, False))
LARGE_SHAPES = ((70, 140, False), (140, 70, True))


# --- the statistical test --------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """A variance some mistake gives, and how the hint names it."""

    variance: float
    text: str


def assess(samples, std: float, distribution: str, bound: float | None = None, *,
           variance_text: str = "s^2", bound_text: str = "a",
           candidates: Sequence[Candidate] = (), reveal: bool = True) -> tuple[bool, str, str]:
    """Whether samples look drawn from N(0, std^2) or U(-bound, bound): (ok, message, hint).

    ``samples`` is an array or a sequence of arrays drawn independently (pooled);
    ``std`` is the expected standard deviation (for the uniform, bound / sqrt 3).
    ``variance_text``/``bound_text`` name the formulas in messages; ``candidates``
    are the variances typical mistakes give, for the hint. With ``reveal`` False
    messages give ratios only, never the expected values.
    """
    w = _pooled(samples)
    n = w.size
    uniform = distribution == "uniform"
    largest = max(-float(np.min(w)), float(np.max(w))) if n else 0.0
    moments = _Moments(w)

    def given(x: float) -> str:
        return f" = {fmt(x)}" if reveal else ""

    def variance_hint() -> str:
        return _variance_hint(moments.var, std, n, candidates, variance_text)

    if uniform and largest > bound * (1.0 + BOUND_SLACK):
        message = (f"some weights lie outside [-a, a]: the largest |w| is "
                   f"{largest / bound:.3g}x the bound a = {bound_text}{given(bound)}")
        if n >= STATS_MIN_N and abs(moments.excess_kurtosis) < 0.6:
            return False, message, ("these weights look normally distributed; draw from "
                                    "U(-a, a) with rng.uniform(-a, a, size=(fan_in, fan_out))")
        return False, message, variance_hint() or _bound_hint(bound_text)
    if n >= STATS_MIN_N:
        # Measured against the larger of the expected and the observed spread, so that a
        # wrong scale is reported as such and not as an off-centre mean.
        z_mean = moments.mean / (max(std, math.sqrt(moments.var)) / math.sqrt(n))
        if abs(z_mean) > Z:
            return False, (f"the weights are not centred on 0: their mean is "
                           f"{moments.mean / std:.3g}x the expected standard deviation "
                           f"({abs(z_mean):.3g} standard errors from 0)"), \
                _mean_hint(w, moments.mean, std, uniform)
        ratio = moments.var / std**2
        if abs(ratio - 1.0) > Z * math.sqrt((KURTOSIS[distribution] - 1.0) / n):
            return False, (f"the sample variance is {ratio:.3g}x the expected "
                           f"{variance_text}{given(std**2)}"), variance_hint()
        g2 = moments.excess_kurtosis if not uniform else 0.0
        if abs(g2) > Z_KURTOSIS * math.sqrt(24.0 / n):
            hint = "draw from the normal: rng.normal(0.0, s, size=(fan_in, fan_out))"
            if abs(g2 + 1.2) < 0.2:
                hint = ("this is the shape of a uniform distribution (excess kurtosis -1.2); "
                        + hint)
            elif largest < 2.6 * math.sqrt(moments.var):  # a full normal's tail goes to 4+
                hint = (f"this looks like {TRUNCATED_WHAT}, rng.normal(0.0, s, "
                        "size=(fan_in, fan_out)))")
            return False, (f"the weights do not look normally distributed: their excess "
                           f"kurtosis is {g2:.3g} (a normal distribution has 0)"), hint
    if uniform and largest < bound * (1.0 - EDGE / n):
        return False, (f"the weights do not fill [-a, a]: the largest |w| is only "
                       f"{largest / bound:.3g}x the bound a = {bound_text}{given(bound)}"), \
            variance_hint() or _bound_hint(bound_text)
    if not uniform and largest > OUTLIER * std:
        return False, (f"a weight lies {largest / std:.3g} standard deviations from 0 "
                       f"(expected s^2 = {variance_text}{given(std**2)})"), \
            variance_hint() or "check the standard deviation s you pass to rng.normal"
    return True, "", ""


def _pooled(samples) -> np.ndarray:
    if isinstance(samples, np.ndarray):
        return samples.ravel()
    return np.concatenate([np.ravel(s) for s in samples])


class _Moments:
    """Sample mean, (biased) variance and excess kurtosis, each computed once, when asked."""

    def __init__(self, w: np.ndarray):
        self.w = w

    @cached_property
    def mean(self) -> float:
        return float(np.mean(self.w)) if self.w.size else 0.0

    @cached_property
    def squares(self) -> np.ndarray:
        d = self.w - self.mean
        return d * d

    @cached_property
    def var(self) -> float:
        return float(np.mean(self.squares)) if self.w.size else 0.0

    @cached_property
    def excess_kurtosis(self) -> float:
        m2 = self.var
        return float(np.mean(self.squares * self.squares)) / (m2 * m2) - 3.0 if m2 > 0 else 0.0


def _matches(observed: float, expected: float, tolerance: float,
             candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates within ``tolerance`` (relative) of ``observed``, closest first."""
    found = [(abs(math.log(observed / c.variance)), c) for c in candidates
             if c.variance > 0 and observed > 0
             and abs(observed / c.variance - 1.0) <= tolerance
             and abs(c.variance / expected - 1.0) > tolerance]  # a mistake that changes nothing
    return [c for _, c in sorted(found, key=lambda pair: pair[0])]


def _variance_hint(var: float, std: float, n: int, candidates: Sequence[Candidate],
                   variance_text: str) -> str:
    if n < STATS_MIN_N:
        return ""
    found = _matches(var, std**2, Z * math.sqrt(2.0 / n), candidates)
    if not found:
        return ""
    # Two mistakes can give the same variance (1/fan_out is 3/fan_in when fan_in = 3 fan_out).
    names = " or ".join(dict.fromkeys(c.text for c in found[:2]))
    return f"this matches {names}; the variance should be {variance_text}"


def _bound_hint(bound_text: str) -> str:
    return f"check the bound a = {bound_text}: U(-a, a) has variance a^2 / 3"


def _mean_hint(w, mean, std, uniform) -> str:
    if uniform and np.min(w) >= 0:
        return ("all weights are positive: draw from U(-a, a) with rng.uniform(-a, a, "
                "size=(fan_in, fan_out)), not from U(0, a)")
    if not uniform and abs(mean / std - 1.0) < 0.05:
        return ("the mean is about s: rng.normal's first argument is the mean (loc); pass s "
                "second: rng.normal(0.0, s, size=(fan_in, fan_out))")
    if np.min(w) >= 0:
        return "all weights are positive: the weights must be symmetric around 0"
    return "the weights must have mean 0"


# --- what each initializer should give, and what its typical mistakes give -------------

def _params(function: str, params: dict) -> dict:
    return {**INITIALIZERS[function].params, **params}


def expected(function: str, fan_in: int, fan_out: int, params: dict) -> tuple[float, float | None]:
    """(std, bound or None) of the distribution ``function`` should draw from."""
    init = INITIALIZERS[function]
    full = _params(function, params)
    bound = init.bound(fan_in, fan_out, **full) if init.bound else None
    return init.std(fan_in, fan_out, **full), bound


def variance_text(function: str, params: dict) -> str:
    p = _params(function, params)
    if function.startswith("xavier"):
        return "2/(fan_in + fan_out)" if p["gain"] == 1 else "gain^2 * 2/(fan_in + fan_out)"
    if function.startswith("he"):
        return "2/fan_in" if p["negative_slope"] == 0 else \
            "2/((1 + negative_slope^2) fan_in)"
    if function == "lecun_normal":
        return "1/fan_in"
    return "std^2"


def bound_text(function: str, params: dict) -> str:
    p = _params(function, params)
    if function == "xavier_uniform":
        return "sqrt(6/(fan_in + fan_out))" if p["gain"] == 1 else \
            "gain * sqrt(6/(fan_in + fan_out))"
    return "sqrt(6/fan_in)" if p["negative_slope"] == 0 else \
        "sqrt(6/((1 + negative_slope^2) fan_in))"


# A normal truncated at +-2 standard deviations (resampled beyond them, as
# tf.random.truncated_normal and Keras's TruncatedNormal do) keeps only this share of the
# variance: 1 - 2 b phi(b) / (2 Phi(b) - 1) at b = 2.
TRUNCATED_VARIANCE = 0.7737413035499232
TRUNCATED_WHAT = ("a normal truncated at +-2 standard deviations (redrawn beyond them, it "
                  "keeps 0.774 of the variance: draw from the full normal")

# Each mistake: (text naming it, variance it gives as f(fan_in, fan_out, params, expected var)).
Variance = Callable[[int, int, dict, float], float]
FAN_MISTAKES: dict[str, tuple[tuple[str, Variance], ...]] = {
    "xavier": (
        ("He's 2/fan_in (Xavier averages both fans)", lambda i, o, p, v: p["gain"] ** 2 * 2 / i),
        ("2/fan_out", lambda i, o, p, v: p["gain"] ** 2 * 2 / o),
        ("LeCun's 1/fan_in", lambda i, o, p, v: p["gain"] ** 2 / i),
        ("1/(fan_in + fan_out) (the factor 2 is missing)", lambda i, o, p, v: v / 2),
        ("the variance without the gain", lambda i, o, p, v: v / p["gain"] ** 2),
        ("gain^2 multiplying the standard deviation (use gain * sqrt(...))",
         lambda i, o, p, v: v * p["gain"] ** 2),
        ("gain multiplying the variance instead of the standard deviation",
         lambda i, o, p, v: v / p["gain"]),
    ),
    "he": (
        ("Xavier's 2/(fan_in + fan_out) (He uses fan_in only)",
         lambda i, o, p, v: v * i / (i + o)),
        ("2/fan_out (He uses fan_in)", lambda i, o, p, v: v * i / o),
        ("LeCun's 1/fan_in (He doubles it for ReLU)", lambda i, o, p, v: v / 2),
        ("2/fan_in with negative_slope ignored", lambda i, o, p, v: 2 / i),
        ("(1 + negative_slope) instead of (1 + negative_slope^2)",
         lambda i, o, p, v: 2 / ((1 + p["negative_slope"]) * i)),
    ),
    "lecun": (
        ("He's 2/fan_in", lambda i, o, p, v: 2 / i),
        ("Xavier's 2/(fan_in + fan_out)", lambda i, o, p, v: 2 / (i + o)),
        ("1/fan_out (LeCun uses fan_in)", lambda i, o, p, v: 1 / o),
        ("1/(fan_in + fan_out)", lambda i, o, p, v: 1 / (i + o)),
    ),
    "random": (
        ("std = 1 (the std argument is ignored)", lambda i, o, p, v: 1.0),
        ("std^2 passed as the standard deviation", lambda i, o, p, v: p["std"] ** 4),
        ("sqrt(std) passed as the standard deviation", lambda i, o, p, v: p["std"]),
    ),
}


def candidates(function: str, fan_in: int, fan_out: int, params: dict) -> tuple[Candidate, ...]:
    """The variances the typical mistakes of ``function`` give for this case."""
    p = _params(function, params)
    std, bound = expected(function, fan_in, fan_out, params)
    v = std**2
    family = function.split("_")[0]
    found = [Candidate(f(fan_in, fan_out, p, v), text) for text, f in FAN_MISTAKES[family]]
    if bound is not None:
        found += [
            Candidate(v / 3, "the standard deviation used as the bound (a = s; the bound is "
                             "a = sqrt(3) s)"),
            Candidate(bound**4 / 3, "a without its square root (a^2 used as a)"),
            Candidate(v * 3, "a normal distribution with the bound a as its standard "
                             "deviation"),
        ]
    else:
        found += [
            Candidate(v * 3, "the uniform bound sqrt(3) s used as the standard deviation"),
            Candidate(v / 3, "U(-s, s): a uniform draw with s as its bound"),
            Candidate(v * TRUNCATED_VARIANCE, TRUNCATED_WHAT + ")"),
        ]
        if function != "random_normal":
            found.append(Candidate(v**2, "the variance passed as the standard deviation (the "
                                         "square root is missing)"))
    return tuple(found)


def verdict(function: str, fan_in: int, fan_out: int, params: dict, arrays,
            hidden: bool = False) -> tuple[bool, str, str]:
    """``assess`` for one case of ``function``: (ok, message, hint)."""
    std, bound = expected(function, fan_in, fan_out, params)
    return assess(arrays, std, INITIALIZERS[function].distribution, bound,
                  variance_text=variance_text(function, params),
                  bound_text=bound_text(function, params) if bound is not None else "a",
                  candidates=candidates(function, fan_in, fan_out, params), reveal=not hidden)


# --- cases -------------------------------------------------------------------------------

def _case(function: str, label: str, fan_in: int, fan_out: int, params: dict,
          seeds: tuple[int, int], hidden: bool) -> Case:
    first, other = seeds
    # Determinism is asked of small cases only: repeating a large draw would add
    # half again to the data, and a function deterministic at 3 x 5 is at 80 x 160.
    order = (first, other) if _large(fan_in, fan_out) else (first, first, other)
    calls = tuple(Call(function, (fan_in, fan_out, Rng(seed)), dict(params))
                  for seed in order)
    return Case(label, calls, {"fan_in": fan_in, "fan_out": fan_out, "params": dict(params)},
                hidden)


def _large(fan_in: int, fan_out: int) -> bool:
    return 2 * fan_in * fan_out >= STATS_MIN_N


def _label(fan_in: int, fan_out: int, params: dict) -> str:
    extra = "".join(f", {k} = {v:g}" for k, v in params.items())
    return f"a {fan_in} x {fan_out} matrix{extra}"


def hidden_shape(rng: np.random.Generator) -> tuple[int, int]:
    """Far from square (ratio 1.5 to 2.5) so fan mix-ups change the variance, with
    n = 2 fan_in fan_out pooled entries between 19,200 and 25,000."""
    ratio = rng.uniform(1.5, 2.5)
    small = math.ceil(math.sqrt(STATS_N / 2 / ratio)) + int(rng.integers(0, 8))
    large = math.ceil(small * ratio)
    return (small, large) if rng.random() < 0.5 else (large, small)


def hidden_param(function: str, rng: np.random.Generator) -> dict:
    """A parameter value that keeps every parameter mistake at least 16% off in variance."""
    if function not in PARAM:
        return {}
    name = PARAM[function][0]
    if name == "gain":  # gain^2 at least 1.65x away from 1
        value = math.exp(random_sign(rng) * rng.uniform(0.25, 1.1))
    elif name == "negative_slope":  # 1 + slope^2 >= 1.16
        value = rng.uniform(0.4, 0.9)
    else:  # std at least 10^0.15 = 1.41x away from 1
        value = 10.0 ** (random_sign(rng) * rng.uniform(0.15, 1.5))
    return {name: float(np.round(value, 3))}


def make_check(function: str) -> CheckDef:
    def params_for(with_param: bool) -> dict:
        return {PARAM[function][0]: PARAM[function][1]} if with_param and function in PARAM else {}

    def public() -> list[Case]:
        cases = []
        for k, (fan_in, fan_out, with_param) in enumerate(LARGE_SHAPES + SMALL_SHAPES):
            params = params_for(with_param)
            label = _label(fan_in, fan_out, params)
            if _large(fan_in, fan_out):
                label += " (mean, variance and distribution)"
            cases.append(_case(function, label, fan_in, fan_out, params,
                               (2002 + 10 * k, 2003 + 10 * k), False))
        return cases

    def hidden(rng: np.random.Generator, n: int) -> list[Case]:
        cases = []
        for i in range(n):
            fan_in, fan_out = hidden_shape(rng)
            params = hidden_param(function, rng)
            seeds = tuple(int(s) for s in rng.integers(0, 2**62, size=2))
            cases.append(_case(function, f"hidden case {i + 1}", fan_in, fan_out, params,
                               seeds, True))
        return cases

    @judging
    def judge(case: Case, outcome: TaskOutcome, tol: Tolerance | None) -> CaseResult:
        return _judge(function, case, outcome)  # statistical: no tolerance applies

    return CheckDef(function, public, hidden, judge, None)


# --- judging ----------------------------------------------------------------------------

RNG_HINT = ("draw only from the rng argument (rng.normal(...), rng.uniform(...)), never from "
            "np.random.* or a Generator of your own, so the same seed gives the same weights")


def _judge(function: str, case: Case, outcome: TaskOutcome) -> CaseResult:
    fan_in, fan_out = case.data["fan_in"], case.data["fan_out"]
    calls = completed_calls(case, outcome)
    weights = [_weights(function, case, call.value) for call in calls]
    first, other = weights[0], weights[-1]
    _check_rng(function, case, calls)
    if len(weights) == 3 and not np.array_equal(first, weights[1]):
        raise fail(case, status.RNG, f"{function} gave different weights for the same seed",
                   RNG_HINT)
    if np.array_equal(first, other):
        raise fail(case, status.RNG,
                   f"{function} gave the same weights for two different seeds", RNG_HINT)
    ok, message, hint = verdict(function, fan_in, fan_out, case.data["params"], (first, other),
                                case.hidden)
    if not ok:
        raise fail(case, status.WRONG, f"{function}: {message}", hint)
    return passed(case)


def _weights(function: str, case: Case, value) -> np.ndarray:
    shape = (case.data["fan_in"], case.data["fan_out"])
    try:
        return conform(Arr("W", shape), value)
    except Mismatch as exc:
        message = exc.message
        if case.hidden and exc.status == status.WRONG_SHAPE:
            # The shape would give the hidden fan_in and fan_out away.
            turned = isinstance(value, np.ndarray) and value.shape == shape[::-1]
            message = ("W has the wrong shape; expected (fan_in, fan_out)"
                       + (" (it is transposed)" if turned else ""))
        raise fail(case, exc.status, f"{function} returned: {message}") from None


def _check_rng(function: str, case: Case, calls: Sequence[CallOutcome]) -> None:
    if any(call.global_rng_used for call in calls):
        raise fail(case, status.RNG, f"{function} drew from the global np.random state",
                   RNG_HINT)
    if not all(all(call.rng_advanced) for call in calls):
        raise fail(case, status.RNG, f"{function} did not draw from the rng argument it was "
                                     "given", RNG_HINT)


FUNCTIONS = ("xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_normal",
             "random_normal")
CHECKS = {name: make_check(name) for name in FUNCTIONS}
