# A correct submission written independently of the reference solutions (style: loops).
"""The remedies: residual MLP, layer norm and batch norm (style: loops)."""

import math

import numpy as np


# ---------------------------------------------------------------- residual MLP

def residual_forward(X, weights, biases, act):
    A = np.asarray(X, dtype=np.float64)
    L = len(weights)
    As = [A]
    Zs = []
    Ws = []
    skips = []
    for i in range(L):
        W = np.asarray(weights[i], dtype=np.float64)
        b = np.asarray(biases[i], dtype=np.float64)
        Ws.append(W)
        Z = A @ W + b
        Zs.append(Z)
        if i < L - 1:
            branch = np.asarray(act(Z), dtype=np.float64)
            skip = W.shape[0] == W.shape[1]
            skips.append(skip)
            if skip:
                A = A + branch
            else:
                A = branch
            As.append(A)
        else:
            skips.append(False)
            A = Z
    cache = {"As": As, "Zs": Zs, "Ws": Ws, "skips": skips}
    return A, cache


def residual_backward(dY_hat, cache, act_grad):
    As = cache["As"]
    Zs = cache["Zs"]
    Ws = cache["Ws"]
    skips = cache["skips"]
    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    dAs = [None] * L
    dA_out = np.asarray(dY_hat, dtype=np.float64)   # gradient on layer i's output
    for i in range(L - 1, -1, -1):
        if i == L - 1:
            dZ = dA_out
        else:
            dZ = dA_out * np.asarray(act_grad(Zs[i]), dtype=np.float64)
        dWs[i] = As[i].T @ dZ
        dbs[i] = dZ.sum(axis=0)
        dA_in = dZ @ Ws[i].T
        if skips[i]:
            dA_in = dA_in + dA_out
        dAs[i] = dA_in
        dA_out = dA_in
    return dWs, dbs, dAs


# ---------------------------------------------------------------- layer norm

def layernorm_forward(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    D = x.shape[-1]
    rows = x.reshape(-1, D)
    xhat = np.empty_like(rows)
    inv_std = np.empty(rows.shape[0], dtype=np.float64)
    for r in range(rows.shape[0]):
        row = rows[r]
        mu = row.mean()
        centred = row - mu
        var = float(np.mean(centred * centred))
        inv = 1.0 / math.sqrt(var + eps)
        inv_std[r] = inv
        xhat[r] = centred * inv
    out = (xhat * gamma + beta).reshape(x.shape)
    cache = {"xhat": xhat, "inv_std": inv_std, "gamma": gamma, "shape": x.shape}
    return out, cache


def layernorm_backward(dout, cache):
    xhat = cache["xhat"]
    inv_std = cache["inv_std"]
    gamma = cache["gamma"]
    D = xhat.shape[1]
    d = np.asarray(dout, dtype=np.float64).reshape(-1, D)
    dgamma = np.sum(d * xhat, axis=0)
    dbeta = np.sum(d, axis=0)
    dx = np.empty_like(d)
    for r in range(d.shape[0]):
        dxhat = d[r] * gamma
        s1 = dxhat.sum()
        s2 = np.sum(dxhat * xhat[r])
        dx[r] = inv_std[r] / D * (D * dxhat - s1 - xhat[r] * s2)
    return dx.reshape(cache["shape"]), dgamma, dbeta


# ---------------------------------------------------------------- batch norm

def batchnorm_forward(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    N = x.shape[0]
    mu = x.sum(axis=0) / N
    centred = x - mu
    var = np.sum(centred * centred, axis=0) / N
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = centred * inv_std
    out = xhat * gamma + beta
    cache = {"xhat": xhat, "inv_std": inv_std, "gamma": gamma}
    return out, cache


def batchnorm_backward(dout, cache):
    xhat = cache["xhat"]
    inv_std = cache["inv_std"]
    gamma = cache["gamma"]
    dout = np.asarray(dout, dtype=np.float64)
    N = xhat.shape[0]
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dxhat = dout * gamma
    s1 = dxhat.sum(axis=0)
    s2 = np.sum(dxhat * xhat, axis=0)
    dx = inv_std / N * (N * dxhat - s1 - xhat * s2)
    return dx, dgamma, dbeta
