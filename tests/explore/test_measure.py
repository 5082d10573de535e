"""The measurements: thresholds, saturation, the chain-rule bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.engine.activations import ACTIVATIONS
from grader.explore import measure, model

from .conftest import small


@pytest.mark.parametrize("ratio, expected", [
    (0.0, "vanishing"), (0.00999, "vanishing"), (0.01, "healthy"), (1.0, "healthy"),
    (100.0, "healthy"), (100.0001, "exploding"), (math.inf, "exploding"),
    (math.nan, "undefined"),
])
def test_diagnosis_thresholds(ratio, expected):
    assert measure.diagnose(ratio) == expected


@pytest.mark.parametrize("rel, expected", [
    (0.0, "dead"), (0.0099, "dead"), (0.01, "healthy"), (10.0, "healthy"), (10.5, "large"),
    (100.0, "large"), (101.0, "exploding"), (math.nan, "undefined"),
])
def test_gradient_classes(rel, expected):
    assert measure.gradient_class(rel) == expected


@pytest.mark.parametrize("rel, expected", [
    (0.0, "frozen"), (0.00099, "frozen"), (0.001, "slow"), (0.099, "slow"), (0.1, "fast"),
    (50.0, "fast"), (math.nan, "undefined"),
])
def test_learning_speed(rel, expected):
    assert measure.learning_speed(rel) == expected


def test_a_dead_first_layer_is_exactly_a_vanishing_diagnosis():
    for ratio in np.geomspace(1e-4, 1e4, 81):
        norms = [ratio, 1.0]
        dead = measure.gradient_class(measure.relative(norms)[0]) == "dead"
        assert dead == (measure.diagnose(measure.gradient_ratio(norms)) == "vanishing")


def test_norms_keep_their_size_from_1e_minus_200_to_1e200():
    norms = measure.layer_norms([np.full((3, 4), 1e200), np.full(5, 1e-200), np.zeros(2)])
    np.testing.assert_allclose(norms, [1e200 * math.sqrt(12), 1e-200 * math.sqrt(5), 0.0])


def test_ratio_of_zero_over_zero_is_nan_and_undefined():
    ratio = measure.gradient_ratio([0.0, 0.0])
    assert math.isnan(ratio) and measure.diagnose(ratio) == "undefined"


def test_saturation_counts_flat_tails_and_dead_units():
    H = np.array([[-10.0, 0.0, 3.0, -1.0], [10.0, 0.5, -9.0, -2.0]])
    flat, dead = measure.saturation(H, "sigmoid")
    assert flat == pytest.approx(3 / 8)  # sigmoid'(+-9 or 10) < 0.05 * 0.25; sigmoid'(3) is not
    assert dead == 0.0
    flat, dead = measure.saturation(H, "relu")
    assert flat is None  # ReLU has no tails: only on and off
    assert dead == pytest.approx(1 / 4)  # the last unit is <= 0 for every example


@pytest.mark.parametrize("name, largest", [("sigmoid", 0.25), ("tanh", 1.0), ("relu", 1.0),
                                           ("selu", 1.0507009873554805 * 1.6732632423543772)])
def test_largest_derivative(name, largest):
    assert measure.max_act_grad(name) == pytest.approx(largest, rel=1e-12)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_the_chain_rule_product_bounds_the_measured_gradient(name):
    s = _snapshot(small(activation=name, depth=6, width=8))
    assert all(m <= p * (1 + 1e-12) for m, p in zip(s.chain.measured, s.chain.products))
    assert s.chain.max_act_grads[-1] == 1.0  # the linear output layer


def test_deep_linear_net_chain_rule_is_exact():
    s = _snapshot(small(activation="linear", init="identity", weight_scale=1.5, depth=7,
                        bias=False))
    np.testing.assert_allclose(s.chain.factors, 1.5)
    np.testing.assert_allclose(s.chain.products, 1.5 ** np.arange(7, 0, -1), rtol=1e-13)
    np.testing.assert_allclose(s.chain.measured, s.chain.products, rtol=1e-13)


def _snapshot(config):
    X, T = model.data(config)
    return measure.snapshot(model.build(config), X, T)


def test_histogram_counts_every_finite_value_once_in_equal_bins():
    values = np.array([0.0, 0.05, 0.5, 0.999, 1.0, np.inf, np.nan])
    h = measure.histogram(values)
    assert (h.lo, h.hi) == (0.0, 1.0)
    assert sum(h.counts) == 5  # inf and NaN have no bin
    assert h.counts[0] == 1 and h.counts[1] == 1 and h.counts[10] == 1
    assert h.counts[-1] == 2  # 0.999 and the maximum, which goes to the last bin


def test_histogram_of_a_constant_layer_puts_everything_in_the_first_bin():
    h = measure.histogram(np.full((4, 3), 0.5))
    assert (h.lo, h.hi, h.counts[0], sum(h.counts)) == (0.5, 0.5, 12, 12)
    assert measure.histogram(np.array([np.nan])).counts == (0,) * measure.BINS


def test_snapshot_histograms_are_of_each_hidden_layers_outputs():
    config = small(activation="sigmoid")
    net = model.build(config)
    X, T = model.data(config)
    s = measure.snapshot(net, X, T)
    assert len(s.distributions) == config.depth - 1
    for d in s.distributions:
        assert 0.0 <= d.lo <= d.hi <= 1.0  # sigmoid's outputs
        assert sum(d.counts) == config.batch_size * config.width


def test_activation_curve_is_the_engine_pair_on_minus_4_to_4():
    curve = measure.activation_curve("tanh")
    assert len(curve["z"]) == 81 and curve["z"][0] == -4.0 and abs(curve["z"][-1] - 4.0) < 1e-12
    assert curve["value"][40] == 0.0 and curve["derivative"][40] == 1.0
