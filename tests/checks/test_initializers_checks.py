"""Tests of grader.checks.initializers: the statistical test, its hints, its judge, end to end.

The statistical claims are shown two ways: the false-fail probability of a whole
course is computed from the tests' bounds, and simulations run the correct
engine initializers (which must never fail) and every wrong scale (which must
always fail) through the same ``verdict`` the judge uses. The simulations use
n = 19,200 pooled entries, the fewest any graded large case has, where every
normal approximation is worst and every wrong scale is closest to the
tolerance: passing here is the hardest test. Set GRADER_STAT_DRAWS to run
more draws (the default keeps the suite fast).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from grader.checks import initializers as ini
from grader.checks import status
from grader.checks.compare import fmt
from grader.checks.model import Case
from grader.engine.initializers import INITIALIZERS
from grader.grade import Options, grade, hidden_rng
from grader.sandbox.run import CallOutcome, TaskOutcome

REPO = Path(__file__).resolve().parents[2]
DRAWS = int(os.environ.get("GRADER_STAT_DRAWS", "600"))
SEEDS = 200
FUNCTIONS = ini.FUNCTIONS
SQRT3 = math.sqrt(3.0)


# --- the false-fail probability of a whole course --------------------------------------

def _normal_tails(z: float) -> float:
    return math.erfc(z / math.sqrt(2.0))


def _chi2_tail(m: int, x: float) -> float:
    """Chernoff bound on P(chi^2_m >= m x) for x > 1, or P(chi^2_m <= m x) for x < 1."""
    return math.exp(m / 2.0 * (math.log(x) + 1.0 - x))


def _bernstein(n: int, var: float, spread: float, t: float) -> float:
    """P(|sum of n centred terms| >= t) for terms of variance var and |term| <= spread."""
    return 2.0 * math.exp(-(t * t / 2.0) / (n * var + spread * t / 3.0))


def false_fail_bound(distribution: str, n: int) -> float:
    """An upper bound on the chance that ``assess`` fails a correct sample of n entries.

    Rigorous (Chernoff, Bernstein, exact tails) except for the normal's excess
    kurtosis, which uses a first-order Cornish-Fisher correction for its skew.
    Units: std s = 1 (so the uniform bound a = sqrt 3).
    """
    z = ini.Z
    if n < ini.STATS_MIN_N:
        if distribution == "uniform":
            return (1.0 - ini.EDGE / n) ** n if n > ini.EDGE else 0.0
        return n * _normal_tails(ini.OUTLIER)
    if distribution == "normal":
        mean = _normal_tails(z)
        t = z * math.sqrt(2.0 / n)  # n var ~ chi^2_{n-1}
        variance = _chi2_tail(n - 1, n * (1 + t) / (n - 1)) + \
            _chi2_tail(n - 1, n * (1 - t) / (n - 1))
        skew = 6.0 * math.sqrt(6.0 / n)
        z_k = ini.Z_KURTOSIS - (ini.Z_KURTOSIS**2 - 1.0) * skew / 6.0
        kurtosis = _normal_tails(z_k)
        return mean + variance + kurtosis + n * _normal_tails(ini.OUTLIER)
    a = SQRT3
    mean = _bernstein(n, 1.0, a, z * math.sqrt(n))
    # np.var subtracts the sample mean: allow for its square (|mean| <= z / sqrt n, else
    # the mean test has already failed and been counted).
    t = z * math.sqrt(0.8 / n)
    variance = _bernstein(n, 0.8, 2.0, (t - z * z / n) * n)
    edge = (1.0 - ini.EDGE / n) ** n
    return mean + variance + edge


def course_false_fail(hidden_per_check: int) -> float:
    total = 0.0
    for function in FUNCTIONS:
        check = ini.CHECKS[function]
        cases = check.public() + check.hidden(np.random.default_rng(0), hidden_per_check)
        for case in cases:
            n = 2 * case.data["fan_in"] * case.data["fan_out"]
            total += false_fail_bound(INITIALIZERS[function].distribution, n)
    return total


def test_a_correct_submission_fails_a_course_less_than_once_in_a_million():
    # Only these checks are random (every other check is deterministic), so this is the
    # whole course: 3 hidden cases per check by default, at most 100.
    assert course_false_fail(3) < 2e-8
    assert course_false_fail(100) < 4e-7
    # The smallest graded large case: the figures in the module's docstring.
    n = 2 * 80 * 120
    assert false_fail_bound("normal", n) < 1e-10
    assert false_fail_bound("uniform", n) < 1.6e-9


def test_every_large_case_has_enough_entries_and_small_ones_none_of_the_statistics():
    for function in FUNCTIONS:
        check = ini.CHECKS[function]
        for case in check.public() + check.hidden(np.random.default_rng(1), 50):
            n = 2 * case.data["fan_in"] * case.data["fan_out"]
            assert n <= 128 or n >= 19_200, (function, case.label)


# --- simulations: correct initializers never fail, wrong scales always do -------------

SIM_SHAPES = ((80, 120), (120, 80))  # fan ratio 1.5: the closest hidden shapes allow
WORST_PARAMS = {  # the hidden parameters closest to making a mistake harmless
    "gain": (1.284, 0.779),
    "negative_slope": (0.4,),
    "std": (10**0.15, 10**-0.15),
}


def _sim_params(function: str) -> list[dict]:
    if function not in ini.PARAM:
        return [{}]
    name = ini.PARAM[function][0]
    return [{}] + [{name: v} for v in WORST_PARAMS[name]]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_correct_initializers_never_fail_and_their_statistics_are_calibrated(function):
    init = INITIALIZERS[function]
    rng = np.random.default_rng(7)
    configs = [(s, p) for s in SIM_SHAPES for p in _sim_params(function)]
    kappa = ini.KURTOSIS[init.distribution]
    z_var = []
    for k in range(DRAWS):
        (fan_in, fan_out), params = configs[k % len(configs)]
        arrays = (init.fn(fan_in, fan_out, rng, **params), init.fn(fan_in, fan_out, rng, **params))
        ok, message, _ = ini.verdict(function, fan_in, fan_out, params, arrays)
        assert ok, (k, params, message)
        w = np.concatenate([a.ravel() for a in arrays])
        s = init.std(fan_in, fan_out, **{**init.params, **params})
        z_var.append((np.var(w) / s**2 - 1.0) / math.sqrt((kappa - 1.0) / w.size))
    # The variance test's standard error is right: its z-scores have sd 1 (not wider,
    # which would let wrong scales through, nor narrower, which would fail correct ones).
    assert 0.88 < np.std(z_var) < 1.12  # 4 standard errors at 600 draws


def _variants(function: str, fan_in: int, fan_out: int, params: dict):
    """Wrong implementations as (name, distribution, std of what they draw)."""
    p = {**INITIALIZERS[function].params, **params}
    i, o = fan_in, fan_out
    U, N = "uniform", "normal"
    if function.startswith("xavier"):
        g = p["gain"]
        s = g * math.sqrt(2 / (i + o))
        out = [("He's 2/fan_in", g * math.sqrt(2 / i)), ("2/fan_out", g * math.sqrt(2 / o)),
               ("LeCun's 1/fan_in", g * math.sqrt(1 / i)),
               ("the variance without the gain", s / g),
               ("gain^2 multiplying the standard deviation", s * g),
               ("gain multiplying the variance", s / math.sqrt(g))]
    elif function.startswith("he"):
        m = 1 + p["negative_slope"] ** 2
        s = math.sqrt(2 / (m * i))
        out = [("Xavier's 2/(fan_in + fan_out)", math.sqrt(2 / (m * (i + o)))),
               ("2/fan_out", math.sqrt(2 / (m * o))),
               ("LeCun's 1/fan_in", s / math.sqrt(2)),
               ("negative_slope ignored", math.sqrt(2 / i))]
    elif function == "lecun_normal":
        s = math.sqrt(1 / i)
        out = [("He's 2/fan_in", math.sqrt(2 / i)), ("Xavier's 2/(fan_in + fan_out)",
                                                   math.sqrt(2 / (i + o))),
               ("1/fan_out", math.sqrt(1 / o))]
    else:
        s = p["std"]
        out = [("std = 1", 1.0), ("std^2 passed as the standard deviation", s * s),
               ("sqrt(std) passed as the standard deviation", math.sqrt(s))]
    dist = INITIALIZERS[function].distribution
    variants = [(name, dist, std) for name, std in out]
    if dist == U:
        a = SQRT3 * s
        variants += [
            ("the standard deviation used as the bound", U, s / SQRT3),
            ("a without its square root", U, a * a / SQRT3),
            ("a normal distribution with the same variance", N, s),
            ("a normal distribution with the bound a as its standard deviation", N, a),
        ]
    else:
        variants += [
            ("the uniform bound sqrt(3) s used as the standard deviation", N, SQRT3 * s),
            ("a uniform distribution with the same variance", U, s),
            ("U(-s, s)", U, s / SQRT3),
        ]
        if function != "random_normal":
            variants.append(("the square root is missing", N, s * s))
    # A mistake that changes nothing for these parameters (gain 1, slope 0, std 1) is no mistake.
    return [(name, d, std) for name, d, std in variants
            if d != dist or abs(std / s - 1.0) > 1e-9]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_wrong_scale_fails_for_every_seed(function):
    configs = [(shape, params) for shape in SIM_SHAPES for params in _sim_params(function)]
    tested = set()
    for seed in range(SEEDS):
        (fan_in, fan_out), params = configs[seed % len(configs)]
        rng = np.random.default_rng(1000 + seed)
        size = (2, fan_in, fan_out)
        standard = {"normal": rng.standard_normal(size),
                    "uniform": rng.uniform(-SQRT3, SQRT3, size)}  # both have std 1
        for name, dist, std in _variants(function, fan_in, fan_out, params):
            tested.add(name)
            ok, message, _ = ini.verdict(function, fan_in, fan_out, params, std * standard[dist])
            assert not ok, (name, seed, params)
    assert len(tested) >= 5


# --- hints name the mistake ------------------------------------------------------------

HINTS = {  # function -> [(wrong std as f(fan_in, fan_out), distribution, words in the hint)]
    "xavier_normal": [
        (lambda i, o: 1.5 * math.sqrt(2 / i), "normal", "He's 2/fan_in"),
        (lambda i, o: 1.5 * math.sqrt(2 / o), "normal", "2/fan_out"),
        (lambda i, o: math.sqrt(2 / (i + o)), "normal", "without the gain"),
        (lambda i, o: 1.5**2 * math.sqrt(2 / (i + o)), "normal", "gain^2 multiplying"),
        (lambda i, o: 1.5**2 * 2 / (i + o), "normal", "square root is missing"),
        (lambda i, o: 1.5 * math.sqrt(6 / (i + o)), "normal", "bound sqrt(3) s used"),
        (lambda i, o: 1.5 * math.sqrt(2 / (i + o)), "uniform", "shape of a uniform"),
    ],
    "xavier_uniform": [
        (lambda i, o: 1.5 * math.sqrt(2 / i), "uniform", "He's 2/fan_in"),
        (lambda i, o: 1.5 * math.sqrt(2 / (i + o)) / SQRT3, "uniform",
         "standard deviation used as the bound"),
        (lambda i, o: 1.5 * math.sqrt(2 / (i + o)), "normal", "look normally distributed"),
    ],
    "he_normal": [
        (lambda i, o: math.sqrt(2 / i), "normal", "negative_slope ignored"),
        (lambda i, o: math.sqrt(2 / (1.25 * (i + o))), "normal", "Xavier's"),
        (lambda i, o: math.sqrt(1 / (1.25 * i)), "normal", "LeCun's 1/fan_in"),
        (lambda i, o: math.sqrt(2 / (1.5 * i)), "normal", "(1 + negative_slope) instead"),
    ],
    "he_uniform": [
        (lambda i, o: math.sqrt(2 / i), "uniform", "negative_slope ignored"),
        (lambda i, o: math.sqrt(2 / (1.25 * o)), "uniform", "2/fan_out"),
    ],
    "lecun_normal": [
        (lambda i, o: math.sqrt(2 / i), "normal", "He's 2/fan_in"),
        (lambda i, o: 1 / i, "normal", "square root is missing"),
        (lambda i, o: math.sqrt(1 / o), "normal", "1/fan_out"),
    ],
    "random_normal": [
        (lambda i, o: 1.0, "normal", "std argument is ignored"),
        (lambda i, o: 0.05**2, "normal", "std^2 passed"),
        (lambda i, o: math.sqrt(0.05), "normal", "sqrt(std) passed"),
    ],
}


@pytest.mark.parametrize("function, wrong, dist, words",
                         [(f, *m) for f, models in HINTS.items() for m in models])
def test_each_mistake_gets_its_hint(function, wrong, dist, words):
    fan_in, fan_out = ini.LARGE_SHAPES[1][:2]  # the public non-square case, with its parameter
    params = {ini.PARAM[function][0]: ini.PARAM[function][1]} if function in ini.PARAM else {}
    rng = np.random.default_rng(5)
    std = wrong(fan_in, fan_out)
    draw = (lambda: rng.normal(0, std, (fan_in, fan_out))) if dist == "normal" else \
        (lambda: rng.uniform(-SQRT3 * std, SQRT3 * std, (fan_in, fan_out)))
    ok, message, hint = ini.verdict(function, fan_in, fan_out, params, (draw(), draw()))
    assert not ok
    assert words in hint, (message, hint)


def test_a_positive_only_uniform_and_a_loc_scale_swap_are_named():
    rng = np.random.default_rng(3)
    i, o = 256, 512
    a = math.sqrt(6 / i)
    ok, message, hint = ini.verdict("he_uniform", i, o, {}, rng.uniform(0, a, (2, i, o)))
    assert not ok and "not centred on 0" in message and "U(0, a)" in hint
    s = math.sqrt(2 / i)
    ok, message, hint = ini.verdict("he_normal", i, o, {}, rng.normal(s, 1.0, (2, i, o)))
    assert not ok and "loc" in hint


def test_assess_on_its_own():
    rng = np.random.default_rng(11)
    w = rng.normal(0, 2.0, 50_000)
    assert ini.assess(w, 2.0, "normal") == (True, "", "")
    ok, message, hint = ini.assess(w, 1.0, "normal", variance_text="1",
                                   candidates=[ini.Candidate(4.0, "a variance of 4")])
    assert not ok and message.startswith("the sample variance is 4")
    assert hint == "this matches a variance of 4; the variance should be 1"
    u = rng.uniform(-1, 1, 64)
    assert ini.assess(u, 1 / SQRT3, "uniform", 1.0)[0]
    assert not ini.assess(u * 1.01, 1 / SQRT3, "uniform", 1.0)[0]  # beyond the bound
    assert not ini.assess(u * 0.5, 1 / SQRT3, "uniform", 1.0)[0]   # does not reach it
    assert ini.assess(np.array([3.0]), 1.0, "normal")[0]           # small: outliers only
    assert not ini.assess(np.array([30.0]), 1.0, "normal")[0]


def test_hidden_messages_give_ratios_not_inputs():
    function, i, o, params = "xavier_normal", 321, 654, {"gain": 2.5}
    rng = np.random.default_rng(2)
    ok, message, hint = ini.verdict(function, i, o, params, rng.normal(0, 0.3, (2, i, o)),
                                    hidden=True)
    s2 = ini.expected(function, i, o, params)[0] ** 2
    assert not ok
    for secret in ("321", "654", "2.5", fmt(s2)):
        assert secret not in message + hint


# --- the judge, from fake child outcomes -----------------------------------------------

def _outcome(values, advanced=(True,), global_used=False) -> TaskOutcome:
    return TaskOutcome("ok", tuple(CallOutcome(v, rng_advanced=advanced,
                                               global_rng_used=global_used) for v in values))


def _case(function: str, index: int = 0, hidden: bool = False) -> Case:
    check = ini.CHECKS[function]
    return check.hidden(np.random.default_rng(4), 1)[0] if hidden else check.public()[index]


def _draws(function: str, case: Case, seeds=None):
    """The engine's draws for the case's calls: the same seed twice then another for a small
    case (which checks determinism), two different seeds for a large one."""
    seeds = seeds or ((1, 1, 2) if len(case.calls) == 3 else (1, 2))
    init, d = INITIALIZERS[function], case.data
    return [init.fn(d["fan_in"], d["fan_out"], np.random.default_rng(s), **d["params"])
            for s in seeds]


def _judge(function, case, outcome):
    return ini.CHECKS[function].judge(case, outcome, None)  # judged statistically


@pytest.mark.parametrize("function", FUNCTIONS)
def test_judge_passes_the_reference_on_every_public_case(function):
    for case in ini.CHECKS[function].public():
        assert _judge(function, case, _outcome(_draws(function, case))).passed, case.label


@pytest.mark.parametrize("outcome_kw, words", [
    ({"global_used": True}, "global np.random state"),
    ({"advanced": (False,)}, "did not draw from the rng argument"),
])
def test_judge_reports_rng_misuse(outcome_kw, words):
    case = _case("he_normal")
    result = _judge("he_normal", case, _outcome(_draws("he_normal", case), **outcome_kw))
    assert result.status == status.RNG and words in result.message
    assert "rng.normal" in result.hint and "np.random" in result.hint


def test_judge_wants_the_same_weights_for_the_same_seed_and_others_for_another():
    case = _case("lecun_normal", index=3)  # a small case: three calls
    assert len(case.calls) == 3 and len(_case("lecun_normal").calls) == 2
    differ = _judge("lecun_normal", case, _outcome(_draws("lecun_normal", case, (1, 3, 2))))
    assert differ.status == status.RNG and "same seed" in differ.message
    same = _judge("lecun_normal", case, _outcome(_draws("lecun_normal", case, (1, 1, 1))))
    assert same.status == status.RNG and "different seeds" in same.message


def test_judge_checks_shape_and_dtype_and_hides_hidden_shapes():
    case = _case("xavier_uniform")
    draws = _draws("xavier_uniform", case)
    result = _judge("xavier_uniform", case, _outcome([d.astype(np.float32) for d in draws]))
    assert result.status == status.BAD_DTYPE
    result = _judge("xavier_uniform", case, _outcome([d.T for d in draws]))
    assert result.status == status.WRONG_SHAPE and "transposed" in result.message
    hidden = _case("xavier_uniform", hidden=True)
    result = _judge("xavier_uniform", hidden, _outcome([d.T for d in _draws("xavier_uniform",
                                                                            hidden)]))
    assert result.status == status.WRONG_SHAPE and "(fan_in, fan_out)" in result.message
    assert str(hidden.data["fan_in"]) not in result.message


def test_hidden_cases_are_far_from_square_with_telling_parameters():
    for function in FUNCTIONS:
        rng = hidden_rng(b"k", "student", f"initializers.{function}")
        for case in ini.CHECKS[function].hidden(rng, 100):
            i, o = case.data["fan_in"], case.data["fan_out"]
            assert 62 <= min(i, o) and max(i, o) <= 175 and max(i, o) / min(i, o) >= 1.5
            assert 19_200 <= 2 * i * o <= 25_000
            for name, value in case.data["params"].items():
                if name == "gain":
                    assert abs(math.log(value**2)) >= math.log(1.6)
                elif name == "negative_slope":
                    assert 0.4 <= value <= 0.9
                else:
                    assert abs(math.log10(value)) >= 0.15 - 1e-3
            assert case.label.startswith("hidden case")  # no inputs in the label


# --- end to end -------------------------------------------------------------------------

def test_global_state_in_a_real_child_is_caught(course_for, tmp_path):
    source = (REPO / "solutions" / "initializers.py").read_text()
    source = source.replace("return rng.normal(0.0, std, size=(fan_in, fan_out))",
                            "return np.random.normal(0.0, std, size=(fan_in, fan_out))")
    (tmp_path / "initializers.py").write_text(source)
    result = grade(tmp_path, course_for("initializers"), Options())
    by_name = {check.function: check for check in result.checks}
    assert by_name["random_normal"].score == 0
    assert by_name["random_normal"].cases[0].status == status.RNG
    assert result.score == len(FUNCTIONS) - 1
