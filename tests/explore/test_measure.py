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
