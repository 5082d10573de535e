"""The initializers of exercise 2: shapes, generator discipline, statistics, and torch.nn.init.

The statistical checks draw from fixed seeds, so they are deterministic; their bounds
are several standard errors wide, so a correct initializer passes for any seed while
a wrong formula (fan_out for fan_in, variance for std, normal for uniform) fails.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from grader.engine import initializers as I
from grader.engine.initializers import INITIALIZERS

SPEC_SIGNATURES = {
    "xavier_uniform": "(fan_in, fan_out, rng, gain=1.0)",
    "xavier_normal": "(fan_in, fan_out, rng, gain=1.0)",
    "he_uniform": "(fan_in, fan_out, rng, negative_slope=0.0)",
    "he_normal": "(fan_in, fan_out, rng, negative_slope=0.0)",
    "lecun_normal": "(fan_in, fan_out, rng)",
    "random_normal": "(fan_in, fan_out, rng, std=1.0)",
}

# The spec's formulas, written out again independently of the module.
SPEC_STD = {
    "xavier_uniform": lambda i, o, gain=1.0: gain * math.sqrt(6 / (i + o)) / math.sqrt(3),
    "xavier_normal": lambda i, o, gain=1.0: gain * math.sqrt(2 / (i + o)),
    "he_uniform": lambda i, o, negative_slope=0.0: math.sqrt(6 / ((1 + negative_slope**2) * i))
    / math.sqrt(3),
    "he_normal": lambda i, o, negative_slope=0.0: math.sqrt(2 / ((1 + negative_slope**2) * i)),
    "lecun_normal": lambda i, o: math.sqrt(1 / i),
    "random_normal": lambda i, o, std=1.0: std,
}

PARAM_VARIANTS = {
    "xavier_uniform": [{}, {"gain": 5 / 3}, {"gain": 0.5}],
    "xavier_normal": [{}, {"gain": 5 / 3}, {"gain": 0.5}],
    "he_uniform": [{}, {"negative_slope": 0.01}, {"negative_slope": 0.2}, {"negative_slope": 1.0}],
    "he_normal": [{}, {"negative_slope": 0.01}, {"negative_slope": 0.2}, {"negative_slope": 1.0}],
    "lecun_normal": [{}],
    "random_normal": [{}, {"std": 0.05}, {"std": 3.0}],
}
CASES = [(name, p) for name in INITIALIZERS for p in PARAM_VARIANTS[name]]
CASE_IDS = [name + "".join(f"-{k}={v:.3g}" for k, v in p.items()) for name, p in CASES]
cases = pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)

# Unequal fans, so that fan_in and fan_out cannot be swapped unnoticed.
FAN_IN, FAN_OUT = 600, 200
KURTOSIS = {"uniform": 1.8, "normal": 3.0}


def test_registry_holds_the_spec_initializers():
    assert list(INITIALIZERS) == list(SPEC_SIGNATURES)
    for name, init in INITIALIZERS.items():
        assert init.name == name and init.fn is getattr(I, name)
        assert init.distribution == ("uniform" if name.endswith("uniform") else "normal")
        assert (init.bound is None) == (init.distribution == "normal")


@pytest.mark.parametrize("name", list(SPEC_SIGNATURES))
def test_signatures_follow_the_spec(name):
    assert str(inspect.signature(getattr(I, name))) == SPEC_SIGNATURES[name]


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_registry_params_are_the_default_arguments(name):
    sig = inspect.signature(INITIALIZERS[name].fn)
    defaults = {p.name: p.default for p in sig.parameters.values()
                if p.default is not inspect.Parameter.empty}
    assert defaults == dict(INITIALIZERS[name].params)


@cases
@pytest.mark.parametrize(("fan_in", "fan_out"), [(1, 1), (3, 7), (64, 32)])
def test_std_and_bound_are_the_spec_formulas(name, params, fan_in, fan_out):
    init = INITIALIZERS[name]
    expected = SPEC_STD[name](fan_in, fan_out, **params)
    assert init.std(fan_in, fan_out, **params) == pytest.approx(expected, rel=1e-15)
    if init.bound is not None:
        assert init.bound(fan_in, fan_out, **params) == pytest.approx(
            math.sqrt(3) * expected, rel=1e-15
        )


@cases
@pytest.mark.parametrize(("fan_in", "fan_out"), [(1, 1), (3, 7), (7, 3)])
def test_shape_and_dtype(name, params, fan_in, fan_out):
    w = INITIALIZERS[name].fn(fan_in, fan_out, np.random.default_rng(0), **params)
    assert type(w) is np.ndarray and w.dtype == np.float64
    assert w.shape == (fan_in, fan_out)


@cases
def test_same_seed_same_draw_and_only_the_given_generator(name, params):
    fn = INITIALIZERS[name].fn
    global_state = np.random.get_state()
    rng = np.random.default_rng(7)
    first = fn(5, 4, rng, **params)
    assert rng.bit_generator.state != np.random.default_rng(7).bit_generator.state, "rng unused"
    np.testing.assert_array_equal(first, fn(5, 4, np.random.default_rng(7), **params))
    assert not np.array_equal(first, fn(5, 4, np.random.default_rng(8), **params))
    # The legacy global state is untouched, even by seeding.
    after = np.random.get_state()
    assert after[0] == global_state[0] and after[2:] == global_state[2:]
    np.testing.assert_array_equal(after[1], global_state[1])


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_bad_arguments_are_refused(name):
    fn = INITIALIZERS[name].fn
    with pytest.raises(ValueError):
        fn(0, 3, np.random.default_rng(0))
    with pytest.raises(TypeError):
        fn(3.5, 3, np.random.default_rng(0))
    with pytest.raises(TypeError):
        fn(3, 3, np.random)  # the legacy module is not a Generator


def assert_distribution(w, distribution, std, bound=None):
    """Mean, std, tails and (for uniform) the support of a large sample."""
    w = np.asarray(w, dtype=np.float64).ravel()
    n = w.size
    assert abs(w.mean()) < 6 * std / math.sqrt(n)
    # Standard error of the sample std: 1/sqrt(2n) relative for a normal, sqrt(0.2/n) uniform.
    rel_se = math.sqrt(0.5 / n) if distribution == "normal" else math.sqrt(0.2 / n)
    assert abs(w.std() / std - 1) < 6 * rel_se
    kurtosis = np.mean((w / w.std()) ** 4)
    assert abs(kurtosis - KURTOSIS[distribution]) < 0.1
    if bound is not None:
        peak = np.abs(w).max()
        assert peak <= bound
        assert peak > bound * (1 - 30 / n)  # P(all below) = (1 - 30/n)^n ~ e^-30


@cases
def test_sample_statistics_match_std_and_bound(name, params):
    init = INITIALIZERS[name]
    w = init.fn(FAN_IN, FAN_OUT, np.random.default_rng(11), **params)
    std = init.std(FAN_IN, FAN_OUT, **params)
    bound = None if init.bound is None else init.bound(FAN_IN, FAN_OUT, **params)
    assert_distribution(w, init.distribution, std, bound)


# --- torch.nn.init -------------------------------------------------------------------------
# torch stores a weight as (out_features, in_features), so its fan_in is dim 1: a
# (FAN_OUT, FAN_IN) tensor corresponds to our (FAN_IN, FAN_OUT) array. torch has no
# LeCun initializer; kaiming_normal_ with nonlinearity="linear" (gain 1) is the same
# N(0, 1/fan_in). torch's uniform bound is not exposed, so it is compared through the
# largest |w| of a large draw, which lies within a factor (1 - 30/n) below the bound.


def torch_init(torch, name, params, shape, generator):
    nn_init = torch.nn.init
    gain, slope = params.get("gain", 1.0), params.get("negative_slope", 0.0)
    kaiming = {"a": slope, "mode": "fan_in", "nonlinearity": "leaky_relu"}
    calls = {
        "xavier_uniform": (nn_init.xavier_uniform_, {"gain": gain}),
        "xavier_normal": (nn_init.xavier_normal_, {"gain": gain}),
        "he_uniform": (nn_init.kaiming_uniform_, kaiming),
        "he_normal": (nn_init.kaiming_normal_, kaiming),
        "lecun_normal": (nn_init.kaiming_normal_, {"mode": "fan_in", "nonlinearity": "linear"}),
        "random_normal": (nn_init.normal_, {"mean": 0.0, "std": params.get("std", 1.0)}),
    }
    fn, kwargs = calls[name]
    t = torch.empty(shape, dtype=torch.float64)
    return fn(t, generator=generator, **kwargs).numpy()


@cases
def test_std_and_bound_match_torch_nn_init(name, params, torch):
    init = INITIALIZERS[name]
    generator = torch.Generator().manual_seed(3)
    w = torch_init(torch, name, params, (FAN_OUT, FAN_IN), generator)
    std = init.std(FAN_IN, FAN_OUT, **params)
    bound = None if init.bound is None else init.bound(FAN_IN, FAN_OUT, **params)
    assert_distribution(w, init.distribution, std, bound)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0])
def test_he_std_is_torch_gain_over_sqrt_fan_in(slope, torch):
    gain = torch.nn.init.calculate_gain("leaky_relu", slope)
    assert I.he_normal_std(FAN_IN, FAN_OUT, negative_slope=slope) == pytest.approx(
        gain / math.sqrt(FAN_IN), rel=1e-15
    )
    # With no slope given torch's leaky_relu gain assumes 0.01; ours defaults to 0 (ReLU).
    assert torch.nn.init.calculate_gain("relu") == pytest.approx(
        math.sqrt(FAN_IN) * I.he_normal_std(FAN_IN, FAN_OUT), rel=1e-15
    )
