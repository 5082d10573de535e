# A correct submission written independently of the reference solutions (style: plain).
"""Remedies: residual MLP, layer norm, batch norm (style: plain)."""
import numpy as np


def residual_forward(X, weights, biases, act):
    A = X
    layers = []
    L = len(weights)
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = A @ W + b
        skip = l < L - 1 and W.shape[0] == W.shape[1]
        layers.append((A, W, Z, skip))
        if l == L - 1:
            A = Z
        elif skip:
            A = A + act(Z)
        else:
            A = act(Z)
    return A, layers


def residual_backward(dY_hat, cache, act_grad):
    L = len(cache)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = dY_hat
    for l in reversed(range(L)):
        A_prev, W, Z, skip = cache[l]
        dZ = dA if l == L - 1 else dA * act_grad(Z)
        dWs[l] = A_prev.T @ dZ
        dbs[l] = dZ.sum(axis=0)
        dA_prev = dZ @ W.T
        if skip:
            dA_prev = dA_prev + dA
        dA = dA_prev
        dAs[l] = dA
    return dWs, dbs, dAs


def layernorm_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    return xhat * gamma + beta, (xhat, rstd, gamma)


def layernorm_backward(dout, cache):
    xhat, rstd, gamma = cache
    D = xhat.shape[-1]
    dgamma = (dout * xhat).reshape(-1, D).sum(axis=0)
    dbeta = dout.reshape(-1, D).sum(axis=0)
    dxhat = dout * gamma
    dx = rstd / D * (D * dxhat - dxhat.sum(axis=-1, keepdims=True)
                     - xhat * (dxhat * xhat).sum(axis=-1, keepdims=True))
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    return xhat * gamma + beta, (xhat, rstd, gamma)


def batchnorm_backward(dout, cache):
    xhat, rstd, gamma = cache
    N = xhat.shape[0]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma
    dx = rstd / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta
