# A correct submission written independently of the reference solutions (style: plain).
"""The manual backward pass of an MLP (style: plain)."""
import numpy as np


def mse_loss(pred, target):
    diff = pred - target
    return np.mean(diff ** 2), 2 * diff / diff.size


def linear_forward(x, W, b):
    return x @ W + b, (x, W, b)


def linear_backward(dout, cache):
    x, W, b = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def mlp_forward(X, weights, biases, act):
    A = X
    layers = []
    L = len(weights)
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = A @ W + b
        layers.append((A, W, Z))
        A = act(Z) if l < L - 1 else Z
    return A, layers


def mlp_backward(dY_hat, cache, act_grad):
    L = len(cache)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = dY_hat
    for l in reversed(range(L)):
        A_prev, W, Z = cache[l]
        dZ = dA if l == L - 1 else dA * act_grad(Z)
        dWs[l] = A_prev.T @ dZ
        dbs[l] = dZ.sum(axis=0)
        dA = dZ @ W.T
        dAs[l] = dA
    return dWs, dbs, dAs
