"""The remedies of exercise 6 against PyTorch autograd (float64) and centred differences."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import fixes
from grader.engine.activations import ACTIVATIONS
from grader.engine.fixes import (
    batchnorm_backward,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    residual_backward,
    residual_forward,
)
from grader.engine.layers import linear_backward, linear_forward, mlp_backward, mlp_forward

from .test_layers import (
    ACT_NAMES,
    BOUNDED,
    GAIN,
    KINKED,
    act_pair,
    assert_matches_differences,
    centred_differences,
    random_mlp,
    read_only,
)

# --- residual MLP: PyTorch ---------------------------------------------------------------


def torch_residual(torch, torch_act, X, weights, biases, dY, params):
    """PyTorch's (Y_hat, dWs, dbs, dAs) for the residual MLP, written from the spec."""
    leaf = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    A = leaf(X)
    Ws, bs, inputs = [leaf(W) for W in weights], [leaf(b) for b in biases], [A]
    L = len(Ws)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        Z = A @ W + b
        if l == L - 1:
            break
        A = A + torch_act(Z, **params) if W.shape[0] == W.shape[1] else torch_act(Z, **params)
        inputs.append(A)
    grads = [g.numpy() for g in torch.autograd.grad(Z, inputs + Ws + bs,
                                                   grad_outputs=torch.tensor(dY))]
    return Z.detach().numpy(), grads[L:2 * L], grads[2 * L:], grads[:L]


def residual_widths(rng, depth):
    """Widths in which most neighbours match (residual layers) and some do not (plain ones)."""
    widths = [int(rng.integers(1, 9))]
    for _ in range(depth):
        widths.append(widths[-1] if rng.random() < 0.65 else int(rng.integers(1, 9)))
    return widths


def residual_config(seed, name):
    rng = np.random.default_rng([seed, ACT_NAMES.index(name), 6])
    depth = int(rng.integers(1, 13))
    widths = residual_widths(rng, depth)
    # The branch may shrink or blow up the signal; the skip keeps at least the identity.
    per_layer = 10 ** rng.uniform(-2.0, 0.0 if name in BOUNDED else 0.5)
    weights, biases = random_mlp(rng, widths, GAIN[name] * per_layer)
    batch = int(rng.integers(1, 9))
    X, dY = read_only(rng.normal(size=(batch, widths[0])), rng.normal(size=(batch, widths[-1])))
    return X, weights, biases, dY


def assert_residual_matches_torch(torch, torch_activations, assert_scale_close, name, X,
                                  weights, biases, dY, rtol=1e-10):
    params = dict(ACTIVATIONS[name].params)
    act, act_grad = act_pair(name)
    Y_hat, cache = residual_forward(X, weights, biases, act)
    dWs, dbs, dAs = residual_backward(dY, cache, act_grad)
    ref_Y, ref_dWs, ref_dbs, ref_dAs = torch_residual(torch, torch_activations[name], X,
                                                      weights, biases, dY, params)
    assert_scale_close(Y_hat, ref_Y, rtol, what="Y_hat")
    for what, ours, ref in (("dW", dWs, ref_dWs), ("db", dbs, ref_dbs), ("dA", dAs, ref_dAs)):
        assert len(ours) == len(ref) == len(weights)
        for i, (o, r) in enumerate(zip(ours, ref)):
            assert o.dtype == np.float64
            assert_scale_close(o, r, rtol, what=f"{name} {what} of layer {i + 1}")
    return dAs


@pytest.mark.parametrize("name", ACT_NAMES)
@pytest.mark.parametrize("seed", range(12))
def test_residual_matches_torch_on_random_configurations(seed, name, torch, torch_activations,
                                                         assert_scale_close):
    X, weights, biases, dY = residual_config(seed, name)
    assert_residual_matches_torch(torch, torch_activations, assert_scale_close, name, X,
                                  weights, biases, dY)


WIDTH_CASES = {
    "all-square": [4, 4, 4, 4, 4],
    "none-square": [3, 5, 2, 6, 1],
    "mismatch-in-the-middle": [4, 4, 6, 6, 6, 2],
    "square-output-layer": [3, 3, 3],
    "width-1": [1, 1, 1, 1],
    "depth-1-square": [5, 5],
    "depth-1": [3, 2],
}


@pytest.mark.parametrize("widths", list(WIDTH_CASES.values()), ids=list(WIDTH_CASES))
@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid"])
def test_residual_matches_torch_for_every_mix_of_widths(widths, name, torch, torch_activations,
                                                       assert_scale_close):
    rng = np.random.default_rng(len(widths))
    weights, biases = random_mlp(rng, widths, GAIN[name])
    for batch in (1, 5):
        X, dY = rng.normal(size=(batch, widths[0])), rng.normal(size=(batch, widths[-1]))
        assert_residual_matches_torch(torch, torch_activations, assert_scale_close, name, X,
                                      weights, biases, dY)


# --- residual MLP: centred differences and structure -----------------------------------------


def kink_safe_residual(rng, name, depth):
    act, _ = act_pair(name)
    while True:
        widths = residual_widths(rng, depth)
        X = rng.normal(size=(int(rng.integers(1, 4)), widths[0]))
        weights, biases = random_mlp(rng, widths, GAIN[name], bias_scale=0.5)
        Zs = residual_forward(X, weights, biases, act)[1][1][:-1]
        if name not in KINKED or all(np.abs(Z).min(initial=1.0) > 1e-3 for Z in Zs):
            return X, [w.copy() for w in weights], [b.copy() for b in biases]


FD_CASES = [(depth, ACT_NAMES[(depth + 3) % len(ACT_NAMES)]) for depth in range(1, 9)]


@pytest.mark.parametrize(("depth", "name"), FD_CASES, ids=[f"{n}-L{d}" for d, n in FD_CASES])
def test_residual_backward_matches_centred_differences(depth, name):
    rng = np.random.default_rng(depth + 40)
    X, weights, biases = kink_safe_residual(rng, name, depth)
    act, act_grad = act_pair(name)
    Y_hat, cache = residual_forward(X, weights, biases, act)
    G = rng.normal(size=Y_hat.shape)
    dWs, dbs, dAs = residual_backward(G, cache, act_grad)

    def loss():
        return np.sum(residual_forward(X, weights, biases, act)[0] * G)

    numeric = centred_differences(loss, [X, *weights, *biases])
    scale = np.abs(Y_hat * G).sum()
    assert_matches_differences([dAs[0]], numeric[:1], scale, "dX")
    assert_matches_differences(dWs, numeric[1:depth + 1], scale, "dW")
    assert_matches_differences(dbs, numeric[depth + 1:], scale, "db")


def test_without_square_hidden_layers_the_residual_net_is_the_mlp():
    rng = np.random.default_rng(20)
    weights, biases = random_mlp(rng, [3, 5, 2, 6, 6], 1.0)  # the last layer is square
    X, dY = read_only(rng.normal(size=(4, 3)), rng.normal(size=(4, 6)))
    act, act_grad = act_pair("tanh")
    Y_res, cache_res = residual_forward(X, weights, biases, act)
    Y_mlp, cache_mlp = mlp_forward(X, weights, biases, act)
    np.testing.assert_array_equal(Y_res, Y_mlp)
    for ours, mlp in zip(residual_backward(dY, cache_res, act_grad),
                         mlp_backward(dY, cache_mlp, act_grad)):
        for o, m in zip(ours, mlp):
            np.testing.assert_array_equal(o, m)


def test_square_hidden_layers_add_their_input_and_the_output_layer_never_does():
    rng = np.random.default_rng(21)
    (W1, W2, W3), (b1, b2, b3) = random_mlp(rng, [3, 3, 4, 4], 1.0)
    X = read_only(rng.normal(size=(2, 3)))[0]
    A1 = X + np.tanh(X @ W1 + b1)  # square: residual
    A2 = np.tanh(A1 @ W2 + b2)  # 3 -> 4: plain
    expected = A2 @ W3 + b3  # square, but the output layer: linear, no skip
    Y_hat, _ = residual_forward(X, [W1, W2, W3], [b1, b2, b3], act_pair("tanh")[0])
    np.testing.assert_allclose(Y_hat, expected, rtol=1e-14)


def test_the_skip_passes_the_gradient_back_whole():
    # A branch that is identically zero leaves only the skip: every square hidden layer is
    # the identity, forward and backward, so dX = dY W_L^T exactly.
    rng = np.random.default_rng(22)
    weights, biases = random_mlp(rng, [4, 4, 4, 4, 4, 2], 1.0)
    X, dY = read_only(rng.normal(size=(3, 4)), rng.normal(size=(3, 2)))
    Y_hat, cache = residual_forward(X, weights, biases, np.zeros_like)
    np.testing.assert_allclose(Y_hat, X @ weights[-1] + biases[-1], rtol=1e-14)
    dWs, dbs, dAs = residual_backward(dY, cache, np.zeros_like)
    for dA in dAs:
        np.testing.assert_allclose(dA, dY @ weights[-1].T, rtol=1e-14)
    assert all((dW == 0).all() for dW in dWs[:-1]) and all((db == 0).all() for db in dbs[:-1])


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_skip_connections_rescue_a_deep_saturating_net(name):
    # 40 sigmoid layers with small weights: the plain MLP loses the signal entirely,
    # the residual one keeps it whole (dA_{l-1} = dA_l + a small branch term).
    rng = np.random.default_rng(23)
    depth, width = 40, 8
    weights, biases = random_mlp(rng, [width] * (depth + 1), 0.5)
    X, dY = rng.normal(size=(4, width)), rng.normal(size=(4, width))
    act, act_grad = act_pair(name)
    plain = mlp_backward(dY, mlp_forward(X, weights, biases, act)[1], act_grad)[2]
    skip = residual_backward(dY, residual_forward(X, weights, biases, act)[1], act_grad)[2]
    ratio = lambda dAs: np.linalg.norm(dAs[0]) / np.linalg.norm(dAs[-1])  # noqa: E731
    assert ratio(plain) < 1e-10
    assert 0.5 < ratio(skip) < 1e3


def test_residual_activation_derivative_is_taken_at_the_pre_activation():
    X, W1, b1, W2, b2 = read_only([[0.5, -1.0]], [[1.0, 0.0], [2.0, 1.0]], [0.25, 0.0],
                                  [[3.0], [1.0]], [0.0])
    _, cache = residual_forward(X, [W1, W2], [b1, b2], np.exp)
    seen = []
    residual_backward(np.ones((1, 1)), cache, lambda z: seen.append(z.copy()) or np.exp(z))
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], X @ W1 + b1, rtol=1e-15)


def test_residual_net_is_built_from_the_linear_layer(monkeypatch):
    from grader.engine import layers

    calls = {"forward": 0, "backward": 0}

    def counting(name, fn):
        def wrapper(*args):
            calls[name] += 1
            return fn(*args)
        return wrapper

    monkeypatch.setattr(layers, "linear_forward", counting("forward", linear_forward))
    monkeypatch.setattr(layers, "linear_backward", counting("backward", linear_backward))
    rng = np.random.default_rng(24)
    weights, biases = random_mlp(rng, [3, 3, 4, 2], 1.0)
    act, act_grad = act_pair("relu")
    Y_hat, cache = fixes.residual_forward(rng.normal(size=(2, 3)), weights, biases, act)
    fixes.residual_backward(np.ones_like(Y_hat), cache, act_grad)
    assert calls == {"forward": 3, "backward": 3}


def test_residual_gradients_are_ordered_and_shaped_like_the_mlp_ones():
    rng = np.random.default_rng(25)
    widths = [5, 5, 3, 3, 2]
    weights, biases = random_mlp(rng, widths, 1.0)
    act, act_grad = act_pair("gelu")
    X = np.float32(rng.normal(size=(6, 5)))
    Y_hat, cache = residual_forward(X, weights, biases, act)
    assert Y_hat.shape == (6, 2) and Y_hat.dtype == np.float64
    dWs, dbs, dAs = residual_backward(np.ones((6, 2), dtype=np.float32), cache, act_grad)
    assert [w.shape for w in dWs] == [w.shape for w in weights]
    assert [b.shape for b in dbs] == [b.shape for b in biases]
    assert [a.shape for a in dAs] == [(6, n) for n in widths[:-1]]
    assert all(a.dtype == np.float64 for a in dWs + dbs + dAs)


@pytest.mark.parametrize(("weights", "biases"), [([], []), ([np.ones((2, 2))], [])])
def test_residual_refuses_mismatched_layer_lists(weights, biases):
    with pytest.raises(ValueError):
        residual_forward(np.ones((1, 2)), weights, biases, np.tanh)


# --- layer norm and batch norm: PyTorch ----------------------------------------------------

NORMS = {
    "layernorm": (layernorm_forward, layernorm_backward),
    "batchnorm": (batchnorm_forward, batchnorm_backward),
}
# The axis over which each kind takes its statistics.
AXIS = {"layernorm": 1, "batchnorm": 0}


def torch_norm(torch, kind, x, gamma, beta, eps, dout):
    """PyTorch's (out, dx, dgamma, dbeta) in float64."""
    F = torch.nn.functional
    t, g, b = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, gamma, beta))
    if kind == "layernorm":
        out = F.layer_norm(t, (x.shape[1],), weight=g, bias=b, eps=eps)
    else:
        out = F.batch_norm(t, None, None, weight=g, bias=b, training=True, eps=eps)
    grads = torch.autograd.grad(out, [t, g, b], grad_outputs=torch.tensor(dout))
    return [out.detach().numpy()] + [a.numpy() for a in grads]


def norm_inputs(seed, shape, offset=0.0, spread=1.0):
    rng = np.random.default_rng(seed)
    D = shape[1]
    return read_only(offset + spread * rng.normal(size=shape), rng.normal(1.0, 0.5, size=D),
                     rng.normal(size=D), rng.normal(size=shape))


def run_norm(kind, x, gamma, beta, dout, eps):
    forward, backward = NORMS[kind]
    out, cache = forward(x, gamma, beta, eps)
    return [out, *backward(dout, cache)]


def cancelling_scale(x, gamma, dout, eps, axis):
    """The size of the terms whose difference is dx: |dout gamma| / sqrt(var + eps).

    In a group of two, dx is that times about eps / (var + eps), so any implementation,
    PyTorch's included, is only accurate to a few ulps of this scale, not of dx itself.
    """
    rstd = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    return np.abs(dout * gamma).max() * rstd.max()


def assert_norm_matches_torch(torch, assert_scale_close, kind, x, gamma, beta, dout, eps,
                              rtol=1e-10):
    ours = run_norm(kind, x, gamma, beta, dout, eps)
    ref = torch_norm(torch, kind, x, gamma, beta, eps, dout)
    for what, o, r in zip(("out", "dx", "dgamma", "dbeta"), ours, ref):
        assert type(o) is np.ndarray and o.dtype == np.float64
        if what != "dx":
            assert_scale_close(o, r, rtol, what=f"{kind} {what}")
            continue
        err, scale = np.abs(o - r).max(), np.abs(r).max()
        floor = 1e-14 * cancelling_scale(x, gamma, dout, eps, AXIS[kind])
        assert err <= rtol * scale + floor, f"{kind} dx: {err:.3g} vs |dx| {scale:.3g}"


# Batch of 1 for layer norm, batch of 2 for batch norm (the smallest PyTorch accepts in
# training), single features, tall and wide batches. A group of one value (a batch of 1
# for batch norm, one feature for layer norm) is tested exactly below instead: PyTorch
# refuses the first and answers the second with round-off where the result is 0.
SHAPES = [(1, 6), (2, 3), (2, 1), (3, 2), (5, 4), (8, 16), (32, 3), (3, 40)]
TORCH_CASES = [(kind, shape) for kind in NORMS for shape in SHAPES
               if shape[AXIS[kind]] > 1]
EPSILONS = [1e-5, 1e-3, 0.5, 10.0]


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize(("kind", "shape"), TORCH_CASES,
                         ids=[f"{kind}-{n}x{d}" for kind, (n, d) in TORCH_CASES])
def test_normalisation_matches_torch(kind, shape, eps, torch, assert_scale_close):
    x, gamma, beta, dout = norm_inputs(sum(shape), shape)
    assert_norm_matches_torch(torch, assert_scale_close, kind, x, gamma, beta, dout, eps)


@pytest.mark.parametrize("kind", list(NORMS))
@pytest.mark.parametrize(("offset", "spread"), [(1e3, 1.0), (-50.0, 1e-2), (0.0, 1e4),
                                                (0.0, 1e-4), (3.0, 1e-150)])
def test_normalisation_matches_torch_for_shifted_and_scaled_inputs(kind, offset, spread, torch,
                                                                   assert_scale_close):
    # The output only depends on (x - mean) / sqrt(var + eps): a large common offset must
    # not swamp the spread, and a spread far below sqrt(eps) leaves an output near beta.
    x, gamma, beta, dout = norm_inputs(7, (6, 5), offset, spread)
    assert_norm_matches_torch(torch, assert_scale_close, kind, x, gamma, beta, dout, 1e-5)


def test_layernorm_matches_torch_with_eps_zero(torch, assert_scale_close):
    x, gamma, beta, dout = norm_inputs(8, (4, 5))
    assert_norm_matches_torch(torch, assert_scale_close, "layernorm", x, gamma, beta, dout, 0.0)


def test_batchnorm_with_eps_zero_is_the_plain_standardisation():
    # PyTorch refuses eps <= 0 in training mode; the formula itself is fine for var > 0,
    # and so is the transposed layer norm, which computes the same thing.
    x, gamma, beta, dout = norm_inputs(8, (4, 5))
    ours = run_norm("batchnorm", x, gamma, beta, dout, 0.0)
    out, cache = layernorm_forward(x.T, np.ones(4), np.zeros(4), 0.0)
    np.testing.assert_allclose(ours[0], gamma * out.T + beta, rtol=1e-13)
    dx = layernorm_backward((dout * gamma).T, cache)[0].T
    np.testing.assert_allclose(ours[1], dx, rtol=1e-13, atol=1e-15)


def test_default_eps_is_1e_minus_5():
    x, gamma, beta, _ = norm_inputs(9, (3, 4))
    for forward, _ in NORMS.values():
        np.testing.assert_array_equal(forward(x, gamma, beta)[0], forward(x, gamma, beta, 1e-5)[0])


# --- layer norm and batch norm: exact cases and properties -----------------------------------


@pytest.mark.parametrize(("kind", "shape"), [("layernorm", (4, 1)), ("batchnorm", (1, 4))])
def test_a_group_of_one_gives_beta_and_no_gradient(kind, shape):
    # One value per group: it is its own mean, x_hat = 0 exactly, out = beta, and nothing
    # flows back to x or gamma. (PyTorch's layer_norm returns ~1e-14 of round-off for dx,
    # and its batch_norm refuses a batch of 1 in training mode.)
    x, gamma, beta, dout = norm_inputs(10, shape)
    out, dx, dgamma, dbeta = run_norm(kind, x, gamma, beta, dout, 1e-5)
    np.testing.assert_array_equal(out, np.broadcast_to(beta, shape))
    np.testing.assert_array_equal(dx, np.zeros(shape))
    np.testing.assert_array_equal(dgamma, np.zeros(shape[1]))
    np.testing.assert_allclose(dbeta, dout.sum(axis=0), rtol=1e-15)


@pytest.mark.parametrize("kind", list(NORMS))
@pytest.mark.parametrize("shape", [(2, 3), (4, 5), (3, 7)])
def test_normalisation_matches_centred_differences(kind, shape):
    x, gamma, beta, dout = (a.copy() for a in norm_inputs(11 + sum(shape), shape))
    forward, _ = NORMS[kind]
    out, dx, dgamma, dbeta = run_norm(kind, x, gamma, beta, dout, 1e-3)
    numeric = centred_differences(lambda: np.sum(forward(x, gamma, beta, 1e-3)[0] * dout),
                                  [x, gamma, beta])
    assert_matches_differences([dx, dgamma, dbeta], numeric, np.abs(out * dout).sum(), kind)


@pytest.mark.parametrize("kind", list(NORMS))
@pytest.mark.parametrize("eps", [1e-5, 10.0])
def test_each_group_is_normalised_with_the_biased_variance(kind, eps):
    x, _, _, dout = norm_inputs(12, (6, 5))
    axis = AXIS[kind]
    out, cache = NORMS[kind][0](x, np.ones(5), np.zeros(5), eps)
    var = x.var(axis=axis, keepdims=True)  # numpy's default ddof=0: the biased variance
    np.testing.assert_allclose(out, (x - x.mean(axis=axis, keepdims=True)) / np.sqrt(var + eps),
                               rtol=1e-13)
    np.testing.assert_allclose(out.mean(axis=axis), 0.0, atol=1e-15)
    np.testing.assert_allclose(out.var(axis=axis, keepdims=True), var / (var + eps), rtol=1e-13)


@pytest.mark.parametrize("kind", list(NORMS))
@pytest.mark.parametrize("eps", [1e-5, 1.0])
def test_gradient_of_each_group_sums_to_zero(kind, eps):
    # Shifting a whole group by a constant changes nothing downstream, so dx summed over
    # the group is 0: the mean's own gradient term is what makes it so.
    x, gamma, beta, dout = norm_inputs(13, (7, 4))
    _, dx, _, _ = run_norm(kind, x, gamma, beta, dout, eps)
    np.testing.assert_allclose(dx.sum(axis=AXIS[kind]), 0.0, atol=1e-13 * np.abs(dx).max())


@pytest.mark.parametrize("kind", list(NORMS))
def test_normalisation_leaves_its_inputs_and_cache_alone(kind):
    x, gamma, beta, dout = norm_inputs(14, (5, 3))  # read-only: any write raises
    forward, backward = NORMS[kind]
    out, cache = forward(x, gamma, beta)
    first = backward(dout, cache)
    second = backward(dout, cache)  # the cache is not spent by a first backward pass
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not any(np.shares_memory(out, a) for a in (x, gamma, beta))


@pytest.mark.parametrize("kind", list(NORMS))
def test_float32_and_lists_give_float64(kind):
    forward, backward = NORMS[kind]
    out, cache = forward(np.float32([[1.0, 2.0], [4.0, 3.0]]), [1.0, 1.0], np.float32([0, 0]))
    grads = backward([[1.0, 0.0], [0.0, 1.0]], cache)
    assert all(a.dtype == np.float64 for a in (out, *grads))


@pytest.mark.parametrize("kind", list(NORMS))
@pytest.mark.parametrize(("x_shape", "param_shape"), [((3, 4), (1,)), ((3, 4), (3,)),
                                                      ((3, 4), (3, 4)), ((4,), (4,)),
                                                      ((2, 3, 4), (4,))])
def test_normalisation_refuses_shapes_outside_the_contract(kind, x_shape, param_shape):
    with pytest.raises(ValueError):
        NORMS[kind][0](np.ones(x_shape), np.ones(param_shape), np.zeros(param_shape))

