"""The explorer's network: the engine's MLP (and residual MLP) exactly, parameters in order."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine.activations import ACTIVATIONS
from grader.engine.layers import mlp_backward, mlp_forward, mse_loss
from grader.explore import lab, model, remedies
from grader.explore.config import ExploreError

from .conftest import needs_fixes, small


def passes(config):
    net = model.build(config)
    X, T = model.data(config)
    Y_hat, cache = model.forward(net, X)
    _, dY_hat = mse_loss(Y_hat, T)
    return net, X, T, Y_hat, dY_hat, cache, model.backward(dY_hat, cache)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_without_remedies_it_is_the_engine_mlp_bit_for_bit(name):
    net, X, _, Y_hat, dY_hat, cache, grads = passes(small(activation=name, depth=5))
    fn, grad = model.act_pair(name)
    Y_ref, ref_cache = mlp_forward(X, net.weights, net.biases, fn)
    dWs, dbs, dAs = mlp_backward(dY_hat, ref_cache, grad)
    np.testing.assert_array_equal(Y_hat, Y_ref)
    for ours, ref in ((grads.dWs, dWs), (grads.dbs, dbs), (grads.dAs, dAs),
                      (model.activation_inputs(cache), ref_cache[1][:-1])):
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            np.testing.assert_array_equal(a, b)


@needs_fixes
@pytest.mark.parametrize("name", ["sigmoid", "relu", "selu"])
def test_with_skips_it_is_the_engine_residual_mlp(name):
    fixes = remedies.fixes()
    net, X, _, Y_hat, dY_hat, _, grads = passes(small(activation=name, residual=True, depth=6))
    fn, grad = model.act_pair(name)
    Y_ref, cache = fixes.residual_forward(X, net.weights, net.biases, fn)
    dWs, dbs, dAs = fixes.residual_backward(dY_hat, cache, grad)
    np.testing.assert_allclose(Y_hat, Y_ref, rtol=1e-14)
    for ours, ref in ((grads.dWs, dWs), (grads.dbs, dbs), (grads.dAs, dAs)):
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15 * np.abs(b).max())


def test_depth_one_is_a_single_linear_layer():
    net, X, _, Y_hat, _, cache, grads = passes(small(depth=1))
    np.testing.assert_allclose(Y_hat, X @ net.weights[0])
    assert model.activation_inputs(cache) == [] and len(grads.dAs) == 1


def test_identity_init_gives_scaled_identities_and_zero_biases():
    net = model.build(small(init="identity", weight_scale=0.5, depth=3))
    for W, b in zip(net.weights, net.biases):
        np.testing.assert_array_equal(W, 0.5 * np.eye(5))
        np.testing.assert_array_equal(b, np.zeros(5))


def test_weights_do_not_depend_on_the_batch_and_depth_only_adds_layers():
    short, deep = model.build(small(depth=2)), model.build(small(depth=5, batch_size=2))
    for a, b in zip(short.weights, deep.weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("changes", [{}, {"bias": False}, {"norm": "layer"}])
def test_parameters_and_gradients_line_up_and_round_trip(changes):
    config = small(**changes)
    if config.norm != "none" and not remedies.available():
        pytest.skip("grader/engine/fixes.py is not there yet")
    net, *_, grads = passes(config)
    params, gs = model.parameters(net), model.gradients(net, grads)
    assert [p.shape for p in params] == [g.shape for g in gs]
    expected = config.depth * (1 + config.bias) + 2 * len(net.gammas)
    assert len(params) == expected
    rebuilt = model.with_parameters(net, [p + 1.0 for p in params])
    for p, q in zip(model.parameters(rebuilt), params):
        np.testing.assert_array_equal(p, q + 1.0)
    if not config.bias:
        assert all(not b.any() for b in rebuilt.biases)  # untrained biases stay 0


def test_the_passes_leave_the_network_unchanged():
    net = model.build(small())
    before = [p.copy() for p in model.parameters(net)]
    X, T = model.data(small())
    lab.explore(small())
    model.backward(mse_loss(model.forward(net, X)[0], T)[1], model.forward(net, X)[1])
    for p, q in zip(model.parameters(net), before):
        np.testing.assert_array_equal(p, q)


def test_norms_without_the_engine_module_fail_with_one_clear_error(monkeypatch):
    monkeypatch.setattr(remedies, "available", lambda: False)
    with pytest.raises(ExploreError, match="fixes.py"):
        lab.resolve(None, {"norm": "batch"})
    lab.explore(small())  # everything else still runs
