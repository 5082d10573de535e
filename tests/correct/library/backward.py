# A correct submission written independently of the reference solutions (style: library).
"""Manual forward and backward passes for an MLP, in CS231n-like layer code."""
import numpy as np


def mse_loss(pred, target):
    diff = pred - target
    loss = np.mean(diff ** 2)
    dpred = 2.0 * diff / diff.size
    return loss, dpred


def linear_forward(x, W, b):
    out = x @ W + b
    cache = (x, W, b)
    return out, cache


def linear_backward(dout, cache):
    x, W, b = cache
    dx = dout @ W.T
    dW = np.einsum("ni,nj->ij", x, dout)
    db = np.sum(dout, axis=0)
    return dx, dW, db


def mlp_forward(X, weights, biases, act):
    L = len(weights)
    A = X
    layer_caches = []
    for l in range(L):
        Z, lc = linear_forward(A, weights[l], biases[l])
        layer_caches.append((lc, Z))
        A = act(Z) if l < L - 1 else Z
    return A, layer_caches


def mlp_backward(dY_hat, cache, act_grad):
    L = len(cache)
    dWs = [None] * L
    dbs = [None] * L
    dAs = [None] * L
    dZ = dY_hat
    for l in reversed(range(L)):
        lc, _ = cache[l]
        dA, dWs[l], dbs[l] = linear_backward(dZ, lc)
        dAs[l] = dA
        if l > 0:
            _, Z_prev = cache[l - 1]
            dZ = dA * act_grad(Z_prev)
    return dWs, dbs, dAs
