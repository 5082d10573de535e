"""The remedies of exercise 6: a residual MLP, layer norm and batch norm (training mode).

Forward functions return ``(out, cache)``; backward functions take ``(dout, cache)`` and
return gradients in the order of the forward function's inputs. The residual MLP keeps
the conventions of ``layers.mlp_forward``/``mlp_backward`` and is built from the same
linear layer. The normalisations follow PyTorch's ``layer_norm`` and ``batch_norm``
(``training=True``): biased variance, ``eps`` inside the square root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from grader.engine import layers


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --- residual MLP ----------------------------------------------------------------------


def residual_forward(X, weights: Sequence, biases: Sequence, act: Callable):
    """Z_l = A_{l-1} @ W_l + b_l; A_l = A_{l-1} + act(Z_l) when layer l < L is square,
    A_l = act(Z_l) for the other hidden layers; Y_hat = Z_L (never residual), A_0 = X.

    X: (N, D); weights[i]: (fan_in, fan_out) and biases[i]: (fan_out,) of layer i+1.
    Returns (Y_hat: (N, fan_out of layer L), cache).
    """
    layers.check_layers(weights, biases)
    A = _f64(X)
    layer_caches, Zs, skips = [], [], []
    last = len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z, layer_cache = layers.linear_forward(A, W, b)
        fan_in, fan_out = np.shape(W)
        # Only a layer that maps a width onto itself can add its input; the output layer
        # stays the plain linear read-out of the MLP.
        skip = l != last and fan_in == fan_out
        layer_caches.append(layer_cache)
        Zs.append(Z)
        skips.append(skip)
        if l == last:
            A = Z
        elif skip:
            A = A + _f64(act(Z))
        else:
            A = _f64(act(Z))
    return A, (tuple(layer_caches), tuple(Zs), tuple(skips))


def residual_backward(dY_hat, cache, act_grad: Callable):
    """dZ_l = dA_l * act_grad(Z_l) (dZ_L = dY_hat); dA_{l-1} = dZ_l @ W_l.T, plus dA_l
    itself when layer l adds its input.

    dY_hat: Y_hat's shape.  Returns (dWs, dbs, dAs), lists of length L input side first,
    as mlp_backward: dAs[i] is the gradient with respect to layer i+1's input A_i.
    """
    layer_caches, Zs, skips = cache
    L = len(layer_caches)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = _f64(dY_hat)
    for l in reversed(range(L)):
        dZ = dA if l == L - 1 else dA * _f64(act_grad(Zs[l]))
        dA_in, dWs[l], dbs[l] = layers.linear_backward(dZ, layer_caches[l])
        # The identity path: A_{l-1} reaches A_l unchanged, so its gradient arrives whole,
        # whatever the branch's factor does to it.
        dA = dA_in + dA if skips[l] else dA_in
        dAs[l] = dA
    return dWs, dbs, dAs


# --- normalisation ---------------------------------------------------------------------


def _check_params(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> None:
    # Broadcasting would silently accept a gamma of shape (1,) or (N, D); the contract is (D,).
    expected = x.shape[-1:]
    if x.ndim != 2 or gamma.shape != expected or beta.shape != expected:
        raise ValueError(
            f"need x of shape (N, D) and gamma, beta of shape (D,), got x {x.shape}, "
            f"gamma {gamma.shape}, beta {beta.shape}"
        )


def _normalize_forward(x, gamma, beta, eps, axis: int):
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    _check_params(x, gamma, beta)
    centred = x - x.mean(axis=axis, keepdims=True)
    # Biased variance (divide by the count, not count - 1), from the centred values: a
    # large common offset does not cancel digits as E[x^2] - E[x]^2 would.
    var = np.mean(centred * centred, axis=axis, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    x_hat = centred * rstd
    return gamma * x_hat + beta, (x_hat, rstd, gamma, axis)


def _normalize_backward(dout, cache):
    x_hat, rstd, gamma, axis = cache
    dout = _f64(dout)
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    # The mean and the variance both depend on every entry of the group, which gives the
    # two subtracted terms; drop them and the group's gradients no longer sum to zero.
    dx = rstd * (dx_hat
                 - dx_hat.mean(axis=axis, keepdims=True)
                 - x_hat * np.mean(dx_hat * x_hat, axis=axis, keepdims=True))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, mean and biased var of each row.

    x: (N, D); gamma, beta: (D,).  Returns (out: (N, D), cache).
    """
    return _normalize_forward(x, gamma, beta, eps, axis=1)


def layernorm_backward(dout, cache):
    """dx = rstd (dx_hat - rowmean(dx_hat) - x_hat rowmean(dx_hat x_hat)), dx_hat = dout gamma;
    dgamma = sum over rows of dout x_hat, dbeta = sum over rows of dout.

    dout: (N, D).  Returns (dx: (N, D), dgamma: (D,), dbeta: (D,)).
    """
    return _normalize_backward(dout, cache)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, mean and biased var of each column
    (over the batch), as in training mode.

    x: (N, D); gamma, beta: (D,).  Returns (out: (N, D), cache).
    """
    return _normalize_forward(x, gamma, beta, eps, axis=0)


def batchnorm_backward(dout, cache):
    """dx = rstd (dx_hat - colmean(dx_hat) - x_hat colmean(dx_hat x_hat)), dx_hat = dout gamma;
    dgamma = sum over rows of dout x_hat, dbeta = sum over rows of dout.

    dout: (N, D).  Returns (dx: (N, D), dgamma: (D,), dbeta: (D,)).
    """
    return _normalize_backward(dout, cache)
