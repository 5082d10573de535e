"""The manual backward pass of exercise 4: MSE loss, a linear layer and the MLP.

Forward functions return ``(out, cache)``; backward functions take ``(dout, cache)``
and return gradients in the order of the forward function's inputs. Lists of
per-layer arrays are ordered input side first (index 0 is layer 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def mse_loss(pred, target):
    """loss = mean((pred - target)^2), dpred = 2 (pred - target) / pred.size.

    pred, target: same shape.  Returns (loss: float, dpred: pred's shape).
    """
    pred, target = _f64(pred), _f64(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {pred.shape} vs {target.shape}")
    diff = pred - target
    return float(np.mean(diff * diff)), 2.0 * diff / diff.size


def linear_forward(x, W, b):
    """out = x @ W + b.

    x: (N, fan_in), W: (fan_in, fan_out), b: (fan_out,).  Returns (out: (N, fan_out), cache).
    """
    x, W, b = _f64(x), _f64(W), _f64(b)
    out = x @ W
    out += b  # in place: the same sums, one (N, fan_out) temporary fewer
    return out, (x, W)


def linear_backward(dout, cache):
    """dx = dout @ W.T, dW = x.T @ dout, db = sum of dout over the batch.

    dout: (N, fan_out).  Returns (dx: (N, fan_in), dW: (fan_in, fan_out), db: (fan_out,)).
    """
    x, W = cache
    dout = _f64(dout)
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def check_layers(weights: Sequence, biases: Sequence) -> None:
    """Raise ValueError unless there is at least one layer and one bias per weight."""
    if len(weights) != len(biases) or not weights:
        raise ValueError(
            f"need one bias per weight and at least one layer, "
            f"got {len(weights)} weights and {len(biases)} biases"
        )


def mlp_forward(X, weights: Sequence, biases: Sequence, act: Callable):
    """Z_l = A_{l-1} @ W_l + b_l, A_l = act(Z_l) for l < L, Y_hat = Z_L, A_0 = X.

    X: (N, D); weights[i]: (fan_in, fan_out) and biases[i]: (fan_out,) of layer i+1.
    Returns (Y_hat: (N, fan_out of layer L), cache).
    """
    check_layers(weights, biases)
    A = _f64(X)
    layer_caches, Zs = [], []
    last = len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z, layer_cache = linear_forward(A, W, b)
        layer_caches.append(layer_cache)
        Zs.append(Z)
        A = Z if l == last else _f64(act(Z))
    # Each layer's pre-activation Z_l is kept: the derivative is taken at Z, not at A.
    return A, (tuple(layer_caches), tuple(Zs))


def mlp_backward(dY_hat, cache, act_grad: Callable):
    """dZ_L = dY_hat; dZ_l = dA_l * act_grad(Z_l) for l < L; then linear_backward per layer.

    dY_hat: Y_hat's shape.  Returns (dWs, dbs, dAs), lists of length L input side first:
    dWs[i], dbs[i] are layer i+1's weight and bias gradients and dAs[i] the gradient with
    respect to its input A_i (dAs[0] is dX).
    """
    layer_caches, Zs = cache
    L = len(layer_caches)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = _f64(dY_hat)
    for l in reversed(range(L)):
        dZ = dA if l == L - 1 else dA * _f64(act_grad(Zs[l]))
        dA, dWs[l], dbs[l] = linear_backward(dZ, layer_caches[l])
        dAs[l] = dA
    return dWs, dbs, dAs
