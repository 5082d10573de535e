"""The manual backward pass of exercise 4 against centred differences and PyTorch autograd."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from grader.engine import layers
from grader.engine.activations import ACTIVATIONS
from grader.engine.layers import (
    linear_backward,
    linear_forward,
    mlp_backward,
    mlp_forward,
    mse_loss,
)

ACT_NAMES = list(ACTIVATIONS)
KINKED = {"relu", "leaky_relu", "elu", "selu"}  # derivative jumps at 0
# Large weights drive a bounded activation into a chaotic regime: the forward map
# amplifies the 1-ulp differences between numpy's and PyTorch's tanh/exp by the
# per-layer gain, up to 1e-7 relative at 30 layers, for any correct implementation.
# Their sweeps therefore stay at or below the level-keeping weight scale.
BOUNDED = {"sigmoid", "tanh"}
# Weight gains that keep each activation's signal roughly level from layer to layer.
GAIN = {"sigmoid": 4.0, "tanh": 1.0, "relu": math.sqrt(2), "leaky_relu": math.sqrt(2),
        "elu": 1.3, "selu": 1.0, "gelu": 1.6, "silu": 1.8, "linear": 1.0}


def act_pair(name, **params):
    act = ACTIVATIONS[name]
    params = {**act.params, **params}
    return functools.partial(act.fn, **params), functools.partial(act.grad, **params)


def read_only(*arrays):
    """Copies that raise on any in-place write, so a test also proves inputs are left alone."""
    out = []
    for a in arrays:
        a = np.array(a, dtype=np.float64)
        a.flags.writeable = False
        out.append(a)
    return out


def random_mlp(rng, widths, weight_scale, bias_scale=0.1):
    weights = [weight_scale * rng.normal(size=(i, o)) / math.sqrt(i)
               for i, o in zip(widths[:-1], widths[1:])]
    biases = [bias_scale * rng.normal(size=o) for o in widths[1:]]
    return read_only(*weights), read_only(*biases)


# --- mse_loss --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1,), (7,), (4, 3), (2, 3, 4)])
def test_mse_loss_matches_torch(shape, torch, assert_scale_close):
    rng = np.random.default_rng(0)
    pred, target = read_only(rng.normal(size=shape), rng.normal(size=shape))
    loss, dpred = mse_loss(pred, target)
    pt = torch.tensor(pred, requires_grad=True)
    ref = torch.nn.MSELoss()(pt, torch.tensor(target))
    (ref_grad,) = torch.autograd.grad(ref, pt)
    assert type(loss) is float
    assert loss == pytest.approx(ref.item(), rel=1e-14)
    assert dpred.dtype == np.float64
    assert_scale_close(dpred, ref_grad.numpy(), rtol=1e-14, what="dpred")
    np.testing.assert_allclose(dpred, 2 * (pred - target) / pred.size, rtol=1e-15)


def test_mse_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        mse_loss(np.zeros((3, 1)), np.zeros(3))


# --- centred differences -------------------------------------------------------------------


def centred_differences(f, arrays, h=1e-6):
    """d f / d a for every entry of every array in ``arrays`` (perturbed one at a time)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + h
            up = f()
            a[idx] = old - h
            down = f()
            a[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def assert_matches_differences(analytic, numeric, loss_scale, what):
    # Rounding in the differences costs ~eps |loss| / h ~ 1e-10 |loss|; a wrong gradient
    # costs a fraction of its own size.
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        err = np.abs(a - n).max()
        assert err <= 1e-6 * np.abs(n).max() + 1e-8 * (1 + loss_scale), f"{what}[{i}]: {err:.3g}"


def test_linear_backward_matches_centred_differences():
    rng = np.random.default_rng(1)
    x, W, b, G = (rng.normal(size=s) for s in [(5, 4), (4, 3), (3,), (5, 3)])
    out, cache = linear_forward(*read_only(x, W, b))
    dx, dW, db = linear_backward(read_only(G)[0], cache)
    assert (dx.shape, dW.shape, db.shape) == (x.shape, W.shape, b.shape)
    numeric = centred_differences(lambda: np.sum(linear_forward(x, W, b)[0] * G), [x, W, b])
    assert_matches_differences([dx, dW, db], numeric, np.abs(out * G).sum(), "linear")


def kink_safe_mlp(rng, name, depth):
    """A small healthy MLP whose hidden pre-activations keep clear of kinks at 0."""
    act, _ = act_pair(name)
    while True:
        widths = rng.integers(1, 5, size=depth + 1)
        X = rng.normal(size=(rng.integers(1, 4), widths[0]))
        weights, biases = random_mlp(rng, widths, GAIN[name], bias_scale=0.5)
        Zs = mlp_forward(X, weights, biases, act)[1][1][:-1]
        if name not in KINKED or all(np.abs(Z).min(initial=1.0) > 1e-3 for Z in Zs):
            return X, [w.copy() for w in weights], [b.copy() for b in biases]


FD_CASES = [(depth, ACT_NAMES[(depth - 1) % len(ACT_NAMES)]) for depth in range(1, 21)] + [
    (3, name) for name in ACT_NAMES
]


@pytest.mark.parametrize(("depth", "name"), FD_CASES, ids=[f"{n}-L{d}" for d, n in FD_CASES])
def test_mlp_backward_matches_centred_differences(depth, name):
    rng = np.random.default_rng(depth)
    X, weights, biases = kink_safe_mlp(rng, name, depth)
    act, act_grad = act_pair(name)
    Y_hat, cache = mlp_forward(X, weights, biases, act)
    G = rng.normal(size=Y_hat.shape)
    dWs, dbs, dAs = mlp_backward(G, cache, act_grad)

    def loss():
        return np.sum(mlp_forward(X, weights, biases, act)[0] * G)

    numeric = centred_differences(loss, [X, *weights, *biases])
    scale = np.abs(Y_hat * G).sum()
    assert_matches_differences([dAs[0]], numeric[:1], scale, "dX")
    assert_matches_differences(dWs, numeric[1:depth + 1], scale, "dW")
    assert_matches_differences(dbs, numeric[depth + 1:], scale, "db")


# --- PyTorch autograd --------------------------------------------------------------------


def torch_mlp(torch, torch_act, X, weights, biases, dY, params):
    """PyTorch's (Y_hat, dWs, dbs, dAs) for the same MLP, in float64."""
    leaf = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    A = leaf(X)
    Ws, bs, inputs = [leaf(W) for W in weights], [leaf(b) for b in biases], [A]
    for l, (W, b) in enumerate(zip(Ws, bs)):
        Z = A @ W + b
        if l == len(Ws) - 1:
            break
        A = torch_act(Z, **params)
        inputs.append(A)
    grads = torch.autograd.grad(Z, inputs + Ws + bs, grad_outputs=torch.tensor(dY))
    grads = [g.numpy() for g in grads]
    L = len(Ws)
    return Z.detach().numpy(), grads[L:2 * L], grads[2 * L:], grads[:L]


def assert_mlp_matches_torch(torch, torch_activations, assert_scale_close, name, X, weights,
                             biases, dY, params=None, rtol=1e-10):
    params = dict(ACTIVATIONS[name].params) if params is None else params
    act, act_grad = act_pair(name, **params)
    X, dY = read_only(X, dY)
    Y_hat, cache = mlp_forward(X, weights, biases, act)
    dWs, dbs, dAs = mlp_backward(dY, cache, act_grad)
    ref_Y, ref_dWs, ref_dbs, ref_dAs = torch_mlp(torch, torch_activations[name], X, weights,
                                                 biases, dY, params)
    assert_scale_close(Y_hat, ref_Y, rtol, what="Y_hat")
    # Per layer, scaled by that layer's own largest gradient: a gradient that vanished
    # to 1e-30 is held to the same 1e-10 as one of order 1.
    for what, ours, ref in (("dW", dWs, ref_dWs), ("db", dbs, ref_dbs), ("dA", dAs, ref_dAs)):
        assert len(ours) == len(ref)
        for i, (o, r) in enumerate(zip(ours, ref)):
            assert o.dtype == np.float64
            assert_scale_close(o, r, rtol, what=f"{name} {what} of layer {i + 1}")
    return dAs


def sweep_config(seed, name):
    """A random MLP whose gradients may vanish or explode by up to ~30 orders of magnitude."""
    rng = np.random.default_rng([seed, ACT_NAMES.index(name)])
    depth = int(rng.integers(1, 31))
    widths = rng.integers(1, 65, size=depth + 1)
    batch = int(rng.integers(1, 33))
    # The end-to-end growth 10^u is spread evenly over the layers (at most 100x each).
    u = rng.uniform(-30, 0 if name in BOUNDED else 30)
    per_layer = 10 ** np.clip(u / depth, -2.0, 2.0)
    weights, biases = random_mlp(rng, widths, GAIN[name] * per_layer)
    X = rng.normal(size=(batch, widths[0]))
    dY = rng.normal(size=(batch, widths[-1]))
    return X, weights, biases, dY


SWEEP_SEEDS = range(30)


@pytest.mark.parametrize("name", ACT_NAMES)
@pytest.mark.parametrize("seed", SWEEP_SEEDS)
def test_mlp_matches_torch_on_random_configurations(seed, name, torch, torch_activations,
                                                    assert_scale_close):
    X, weights, biases, dY = sweep_config(seed, name)
    assert_mlp_matches_torch(torch, torch_activations, assert_scale_close, name, X, weights,
                             biases, dY)


def test_sweep_reaches_vanishing_and_exploding_gradients():
    ratios = []
    for name in ("linear", "leaky_relu"):
        for seed in SWEEP_SEEDS:
            X, weights, biases, dY = sweep_config(seed, name)
            act, act_grad = act_pair(name)
            dAs = mlp_backward(dY, mlp_forward(X, weights, biases, act)[1], act_grad)[2]
            ratios.append(np.abs(dAs[0]).max() / np.abs(dY).max())
    assert min(ratios) < 1e-20 and max(ratios) > 1e20


ORTHOGONAL_CASES = [(name, factor) for name in ACT_NAMES for factor in (0.1, 10.0)
                    if not (name in BOUNDED and factor > 1)]


@pytest.mark.parametrize(("name", "factor"), ORTHOGONAL_CASES,
                         ids=[f"{n}-x{f:g}" for n, f in ORTHOGONAL_CASES])
def test_mlp_matches_torch_when_gradients_vanish_or_explode(name, factor, torch,
                                                            torch_activations,
                                                            assert_scale_close):
    # Scaled orthogonal weights: each layer multiplies the backpropagated signal by about
    # `factor`, so over 30 layers it reaches ~1e-30 or ~1e+30 (less where units are off).
    rng = np.random.default_rng(5)
    depth, width = 30, 16
    weights = read_only(*(factor * np.linalg.qr(rng.normal(size=(width, width)))[0]
                          for _ in range(depth)))
    biases = read_only(*(np.zeros(width) for _ in range(depth)))
    X, dY = rng.normal(size=(8, width)), rng.normal(size=(8, width))
    dAs = assert_mlp_matches_torch(torch, torch_activations, assert_scale_close, name, X,
                                   weights, biases, dY)
    ratio = np.abs(dAs[0]).max() / np.abs(dAs[-1]).max()
    if name in ("linear", "relu", "leaky_relu"):  # positively homogeneous: exact powers
        assert (ratio < 1e-20) if factor < 1 else (ratio > 1e20)


@pytest.mark.parametrize(("name", "params"), [("leaky_relu", {"alpha": 0.2}),
                                              ("elu", {"alpha": 0.5})])
def test_mlp_matches_torch_with_non_default_slopes(name, params, torch, torch_activations,
                                                   assert_scale_close):
    X, weights, biases, dY = sweep_config(100, name)
    assert_mlp_matches_torch(torch, torch_activations, assert_scale_close, name, X, weights,
                             biases, dY, params=params)


# --- structure and the array contract -------------------------------------------------------


def test_depth_one_is_a_single_linear_layer_and_never_calls_the_activation():
    rng = np.random.default_rng(6)
    X, W, b, dY = read_only(rng.normal(size=(4, 3)), rng.normal(size=(3, 2)),
                            rng.normal(size=2), rng.normal(size=(4, 2)))

    def forbidden(z):
        raise AssertionError("the output layer is linear")

    Y_hat, cache = mlp_forward(X, [W], [b], forbidden)
    np.testing.assert_allclose(Y_hat, X @ W + b, rtol=1e-15)
    dWs, dbs, dAs = mlp_backward(dY, cache, forbidden)
    np.testing.assert_allclose(dWs[0], X.T @ dY, rtol=1e-15)
    np.testing.assert_allclose(dbs[0], dY.sum(axis=0), rtol=1e-15)
    np.testing.assert_allclose(dAs[0], dY @ W.T, rtol=1e-15)


def test_gradient_lists_are_ordered_input_side_first():
    rng = np.random.default_rng(7)
    widths = [5, 4, 3, 2]
    weights, biases = random_mlp(rng, widths, 1.0)
    X = rng.normal(size=(6, 5))
    act, act_grad = act_pair("tanh")
    Y_hat, cache = mlp_forward(X, weights, biases, act)
    dWs, dbs, dAs = mlp_backward(np.ones_like(Y_hat), cache, act_grad)
    assert [w.shape for w in dWs] == [w.shape for w in weights]
    assert [b.shape for b in dbs] == [b.shape for b in biases]
    assert [a.shape for a in dAs] == [(6, n) for n in widths[:-1]]


def test_activation_derivative_is_taken_at_the_pre_activation():
    # With act = exp, act(Z) != Z, so evaluating the derivative at A instead of Z shows.
    X, W1, b1, W2, b2 = read_only([[0.5, -1.0]], [[1.0], [2.0]], [0.25], [[3.0]], [0.0])
    Y_hat, cache = mlp_forward(X, [W1, W2], [b1, b2], np.exp)
    z1 = 0.5 - 2.0 + 0.25
    assert Y_hat[0, 0] == pytest.approx(3.0 * math.exp(z1))
    seen = []
    mlp_backward(np.ones((1, 1)), cache, lambda z: seen.append(z.copy()) or np.exp(z))
    assert len(seen) == 1 and seen[0][0, 0] == pytest.approx(z1)


def test_mlp_is_built_from_the_linear_layer(monkeypatch):
    calls = {"forward": 0, "backward": 0}

    def counting(name, fn):
        def wrapper(*args):
            calls[name] += 1
            return fn(*args)
        return wrapper

    monkeypatch.setattr(layers, "linear_forward", counting("forward", linear_forward))
    monkeypatch.setattr(layers, "linear_backward", counting("backward", linear_backward))
    rng = np.random.default_rng(8)
    weights, biases = random_mlp(rng, [3, 4, 4, 2], 1.0)
    act, act_grad = act_pair("relu")
    Y_hat, cache = layers.mlp_forward(rng.normal(size=(2, 3)), weights, biases, act)
    layers.mlp_backward(np.ones_like(Y_hat), cache, act_grad)
    assert calls == {"forward": 3, "backward": 3}


def test_float32_inputs_give_float64_results():
    rng = np.random.default_rng(9)
    weights, biases = random_mlp(rng, [3, 4, 2], 1.0)
    X = rng.normal(size=(2, 3)).astype(np.float32)
    act, act_grad = act_pair("sigmoid")
    Y_hat, cache = mlp_forward(X, [w.astype(np.float32) for w in weights], biases, act)
    assert Y_hat.dtype == np.float64
    dWs, dbs, dAs = mlp_backward(np.ones((2, 2), dtype=np.float32), cache, act_grad)
    assert all(a.dtype == np.float64 for a in dWs + dbs + dAs)


@pytest.mark.parametrize(("weights", "biases"), [([], []), ([np.ones((2, 2))], [])])
def test_mlp_refuses_mismatched_layer_lists(weights, biases):
    with pytest.raises(ValueError):
        mlp_forward(np.ones((1, 2)), weights, biases, np.tanh)


@pytest.mark.parametrize("name", ACT_NAMES)
def test_a_quiet_pass_gives_the_plain_pass_bit_for_bit(name):
    """The grader's reference networks skip the per-call wrapper of each activation;
    the values must not move by a single bit."""
    from grader.engine.activations import quiet_pass

    act = ACTIVATIONS[name]
    rng = np.random.default_rng(7)
    dims = [5, 7, 7, 3, 4]
    Ws = [rng.normal(0, 2.0, (i, o)) for i, o in zip(dims[:-1], dims[1:])]
    bs = [rng.normal(0, 0.5, o) for o in dims[1:]]
    X, dY = rng.normal(0, 3.0, (6, 5)) * 40, rng.normal(size=(6, 4))
    y, cache = mlp_forward(X, Ws, bs, act.fn)
    y_quiet, cache_quiet = quiet_pass(mlp_forward, X, Ws, bs, act=act)
    assert y.tobytes() == y_quiet.tobytes()
    grads = mlp_backward(dY, cache, act.grad)
    quiet = quiet_pass(mlp_backward, dY, cache_quiet, act=act, derivative=True)
    for plain, fast in zip(grads, quiet):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(plain, fast))
