"""Training of exercise 7 against a PyTorch SGD loop (float64) and the engine's own pieces."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine.activations import ACTIVATIONS
from grader.engine.clipping import clip_grad_norm, global_norm
from grader.engine.layers import mlp_backward, mlp_forward, mse_loss
from grader.engine.training import sgd_train

from .test_layers import ACT_NAMES, GAIN, act_pair, random_mlp, read_only


def torch_sgd(torch, torch_act, X, Y, weights, biases, lr, steps, max_norm, params):
    """PyTorch's loss history and weight-gradient norms for the same loop, in float64."""
    leaf = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    Ws, bs = [leaf(W) for W in weights], [leaf(b) for b in biases]
    X_t, Y_t = torch.tensor(X), torch.tensor(Y)
    losses, norms = [], []
    for _ in range(steps):
        A = X_t
        for l, (W, b) in enumerate(zip(Ws, bs)):
            Z = A @ W + b
            A = Z if l == len(Ws) - 1 else torch_act(Z, **params)
        loss = torch.nn.functional.mse_loss(A, Y_t)
        for p in Ws + bs:
            p.grad = None
        loss.backward()
        losses.append(loss.item())
        norms.append([torch.linalg.norm(W.grad).item() for W in Ws])
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(Ws + bs, max_norm)
        with torch.no_grad():
            for p in Ws + bs:
                p -= lr * p.grad
    return np.array(losses), np.array(norms).reshape(steps, len(Ws))


def training_config(seed, name):
    rng = np.random.default_rng([seed, ACT_NAMES.index(name), 7])
    depth = int(rng.integers(1, 5))
    widths = rng.integers(1, 7, size=depth + 1)
    batch = int(rng.integers(1, 9))
    weights, biases = random_mlp(rng, widths, GAIN[name] * rng.uniform(0.5, 1.5))
    X, Y = read_only(rng.normal(size=(batch, widths[0])), rng.normal(size=(batch, widths[-1])))
    lr = float(rng.uniform(0.01, 0.3))
    steps = int(rng.integers(1, 16))
    return X, Y, weights, biases, lr, steps


def initial_grad_norm(X, Y, weights, biases, name):
    """The global norm of all weight and bias gradients at the start."""
    act, act_grad = act_pair(name)
    Y_hat, cache = mlp_forward(X, weights, biases, act)
    dWs, dbs, _ = mlp_backward(mse_loss(Y_hat, Y)[1], cache, act_grad)
    return global_norm(dWs + dbs)


CLIPS = ["none", "active", "inactive"]


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("name", ACT_NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_sgd_train_matches_a_torch_loop(seed, name, clip, torch, torch_activations,
                                        assert_close):
    X, Y, weights, biases, lr, steps = training_config(seed, name)
    start = initial_grad_norm(X, Y, weights, biases, name)
    max_norm = {"none": None, "active": 0.3 * start, "inactive": 1e3 * start + 1.0}[clip]
    act, act_grad = act_pair(name)
    history = sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm)
    ref_loss, ref_norms = torch_sgd(torch, torch_activations[name], X, Y, weights, biases, lr,
                                    steps, max_norm, dict(ACTIVATIONS[name].params))
    assert set(history) == {"loss", "grad_norms"}
    assert_close(history["loss"], ref_loss, rtol=1e-10, what="loss")
    assert_close(history["grad_norms"], ref_norms, rtol=1e-10, floor=1e-300, what="grad_norms")


@pytest.mark.parametrize("max_norm", [None, 0.05])
def test_sgd_train_matches_torch_on_a_deep_net(max_norm, torch, torch_activations,
                                               assert_close):
    rng = np.random.default_rng(30)
    widths = [3, 8, 8, 8, 8, 8, 8, 2]
    weights, biases = random_mlp(rng, widths, 1.0)
    X, Y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    act, act_grad = act_pair("tanh")
    history = sgd_train(X, Y, weights, biases, act, act_grad, 0.2, 25, max_norm)
    ref_loss, ref_norms = torch_sgd(torch, torch_activations["tanh"], X, Y, weights, biases,
                                    0.2, 25, max_norm, {})
    assert_close(history["loss"], ref_loss, rtol=1e-10, what="loss")
    assert_close(history["grad_norms"], ref_norms, rtol=1e-10, what="grad_norms")


# --- the loop's contract, from the engine's own pieces ------------------------------------


def manual_steps(X, Y, weights, biases, name, lr, steps, max_norm):
    """The same loop written out with the exercise 3 and 4 functions."""
    act, act_grad = act_pair(name)
    Ws, bs = [W.copy() for W in weights], [b.copy() for b in biases]
    L, losses, norms = len(Ws), [], []
    for _ in range(steps):
        Y_hat, cache = mlp_forward(X, Ws, bs, act)
        loss, dY = mse_loss(Y_hat, Y)
        dWs, dbs, _ = mlp_backward(dY, cache, act_grad)
        losses.append(loss)
        norms.append([np.linalg.norm(dW) for dW in dWs])
        if max_norm is not None:
            grads, _ = clip_grad_norm(dWs + dbs, max_norm)
            dWs, dbs = grads[:L], grads[L:]
        Ws = [W - lr * dW for W, dW in zip(Ws, dWs)]
        bs = [b - lr * db for b, db in zip(bs, dbs)]
    return np.array(losses), np.array(norms).reshape(steps, L)


@pytest.mark.parametrize("max_norm", [None, 1e-3, 0.5])
@pytest.mark.parametrize("name", ["relu", "sigmoid", "linear"])
def test_sgd_train_is_the_exercise_3_and_4_pieces_in_a_loop(name, max_norm):
    rng = np.random.default_rng(31)
    weights, biases = random_mlp(rng, [4, 5, 3, 2], GAIN[name])
    X, Y = read_only(rng.normal(size=(6, 4)), rng.normal(size=(6, 2)))
    act, act_grad = act_pair(name)
    history = sgd_train(X, Y, weights, biases, act, act_grad, 0.1, 8, max_norm)
    loss, norms = manual_steps(X, Y, weights, biases, name, 0.1, 8, max_norm)
    np.testing.assert_allclose(history["loss"], loss, rtol=1e-13)
    np.testing.assert_allclose(history["grad_norms"], norms, rtol=1e-13)


def test_history_shapes_and_dtypes():
    rng = np.random.default_rng(32)
    weights, biases = random_mlp(rng, [3, 4, 4, 1], 1.0)
    act, act_grad = act_pair("tanh")
    history = sgd_train(rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), weights, biases, act,
                        act_grad, 0.1, 7)
    assert type(history) is dict
    assert history["loss"].shape == (7,) and history["grad_norms"].shape == (7, 3)
    assert history["loss"].dtype == history["grad_norms"].dtype == np.float64


@pytest.mark.parametrize("max_norm", [None, 1e-2])
def test_first_entries_are_the_untrained_network_before_clipping(max_norm):
    # The loss is recorded before the step, and the norms before the clip: with max_norm
    # far below the gradients, the first row is still the full, unclipped gradient.
    rng = np.random.default_rng(33)
    weights, biases = random_mlp(rng, [3, 6, 6, 2], 3.0)
    X, Y = read_only(rng.normal(size=(8, 3)), rng.normal(size=(8, 2)))
    act, act_grad = act_pair("relu")
    Y_hat, cache = mlp_forward(X, weights, biases, act)
    loss, dY = mse_loss(Y_hat, Y)
    dWs = mlp_backward(dY, cache, act_grad)[0]
    history = sgd_train(X, Y, weights, biases, act, act_grad, 0.01, 3, max_norm)
    assert history["loss"][0] == loss
    np.testing.assert_allclose(history["grad_norms"][0], [np.linalg.norm(d) for d in dWs],
                               rtol=1e-14)
    if max_norm is not None:
        assert history["grad_norms"][0].min() > 10 * max_norm


def test_weights_and_biases_are_clipped_together():
    # Nearly all of the gradient sits in the output bias: clipping the weight gradients
    # alone (or each list on its own) would take a visibly different step.
    X = read_only(np.array([[1.0, -1.0], [0.5, 2.0]]))[0]
    Y = read_only(np.array([[100.0], [100.0]]))[0]
    weights = read_only(np.array([[0.1, 0.2], [0.3, -0.1]]), np.array([[0.5], [-0.5]]))
    biases = read_only(np.zeros(2), np.zeros(1))
    act, act_grad = act_pair("tanh")
    history = sgd_train(X, Y, weights, biases, act, act_grad, 0.5, 2, max_norm=1.0)
    loss, norms = manual_steps(X, Y, weights, biases, "tanh", 0.5, 2, 1.0)
    np.testing.assert_allclose(history["loss"], loss, rtol=1e-14)
    np.testing.assert_allclose(history["grad_norms"], norms, rtol=1e-14)


def test_an_inactive_clip_changes_nothing():
    X, Y, weights, biases, lr, steps = training_config(0, "elu")
    act, act_grad = act_pair("elu")
    plain = sgd_train(X, Y, weights, biases, act, act_grad, lr, steps)
    loose = sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=1e12)
    for key in plain:
        np.testing.assert_array_equal(plain[key], loose[key])


def test_inputs_are_left_alone():
    rng = np.random.default_rng(34)
    weights, biases = random_mlp(rng, [2, 3, 1], 1.0)  # read-only: any write raises
    X, Y = read_only(rng.normal(size=(4, 2)), rng.normal(size=(4, 1)))
    before = [a.copy() for a in (X, Y, *weights, *biases)]
    act, act_grad = act_pair("sigmoid")
    first = sgd_train(X, Y, weights, biases, act, act_grad, 0.5, 5, max_norm=0.1)
    second = sgd_train(X, Y, weights, biases, act, act_grad, 0.5, 5, max_norm=0.1)
    for a, b in zip((X, Y, *weights, *biases), before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first["loss"], second["loss"])  # nothing carried over


def test_list_inputs_are_trained_on_copies():
    weights, biases = [[[0.5], [-0.25]]], [[0.0]]
    act, act_grad = act_pair("linear")
    history = sgd_train([[1.0, 2.0]], [[1.0]], weights, biases, act, act_grad, 0.1, 3)
    assert weights == [[[0.5], [-0.25]]] and biases == [[0.0]]
    assert history["loss"][0] == pytest.approx(1.0) and history["loss"][-1] < 1.0


@pytest.mark.parametrize("lr", [0.0, 1e-3])
def test_depth_one_and_a_zero_learning_rate(lr):
    rng = np.random.default_rng(35)
    W, b = read_only(rng.normal(size=(3, 2)), rng.normal(size=2))
    X, Y = read_only(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))

    def forbidden(z):
        raise AssertionError("a single layer is the linear output layer")

    history = sgd_train(X, Y, [W], [b], forbidden, forbidden, lr, 4)
    assert history["grad_norms"].shape == (4, 1)
    if lr == 0.0:
        assert (history["loss"] == history["loss"][0]).all()
    else:  # a linear least-squares problem: a small step always lowers the loss
        assert (np.diff(history["loss"]) < 0).all()


def test_zero_steps_give_empty_histories():
    act, act_grad = act_pair("relu")
    history = sgd_train(np.ones((2, 3)), np.ones((2, 1)), [np.ones((3, 4)), np.ones((4, 1))],
                        [np.zeros(4), np.zeros(1)], act, act_grad, 0.1, 0)
    assert history["loss"].shape == (0,) and history["grad_norms"].shape == (0, 2)


def test_clipping_tames_an_exploding_run(strict_numpy):
    # Large weights and a large step: without clipping the loss overflows to inf and then
    # NaN (silently: a diverged run is a result); clipped at 1, every step is bounded.
    rng = np.random.default_rng(36)
    weights, biases = random_mlp(rng, [4, 16, 16, 16, 1], 4.0)
    X, Y = rng.normal(size=(8, 4)), rng.normal(size=(8, 1))
    act, act_grad = act_pair("relu")
    wild = sgd_train(X, Y, weights, biases, act, act_grad, 0.5, 30)
    tame = sgd_train(X, Y, weights, biases, act, act_grad, 0.5, 30, max_norm=1.0)
    assert not np.isfinite(wild["loss"]).all()
    assert np.isfinite(tame["loss"]).all() and tame["loss"][-1] < tame["loss"][0]


@pytest.mark.parametrize(("steps", "error"), [(-1, ValueError), (2.5, TypeError)])
def test_steps_must_be_a_count(steps, error):
    act, act_grad = act_pair("relu")
    with pytest.raises(error):
        sgd_train(np.ones((1, 1)), np.ones((1, 1)), [np.ones((1, 1))], [np.zeros(1)], act,
                  act_grad, 0.1, steps)


@pytest.mark.parametrize(("weights", "biases"), [([], []), ([np.ones((2, 1))], [])])
def test_sgd_train_refuses_mismatched_layer_lists(weights, biases):
    act, act_grad = act_pair("relu")
    with pytest.raises(ValueError):
        sgd_train(np.ones((1, 2)), np.ones((1, 1)), weights, biases, act, act_grad, 0.1, 1)
