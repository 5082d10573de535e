# A correct submission written independently of the reference solutions (style: loops).
"""The manual backward pass of an MLP, layer by layer (style: loops)."""

import numpy as np


def mse_loss(pred, target):
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    diff = pred - target
    loss = float(np.mean(diff * diff))
    dpred = 2.0 * diff / diff.size
    return loss, dpred


def linear_forward(x, W, b):
    x = np.asarray(x, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = x @ W + b
    cache = {"x": x, "W": W, "b": b}
    return out, cache


def linear_backward(dout, cache):
    dout = np.asarray(dout, dtype=np.float64)
    x = cache["x"]
    W = cache["W"]
    dx = dout @ W.T
    x2 = x.reshape(-1, W.shape[0])
    d2 = dout.reshape(-1, W.shape[1])
    dW = x2.T @ d2
    db = d2.sum(axis=0)
    return dx, dW, db


def mlp_forward(X, weights, biases, act):
    A = np.asarray(X, dtype=np.float64)
    L = len(weights)
    As = [A]          # As[i] is the input of layer i+1
    Zs = []           # Zs[i] is the pre-activation of layer i+1
    Ws = []
    for i in range(L):
        W = np.asarray(weights[i], dtype=np.float64)
        b = np.asarray(biases[i], dtype=np.float64)
        Ws.append(W)
        Z = A @ W + b
        Zs.append(Z)
        if i < L - 1:
            A = np.asarray(act(Z), dtype=np.float64)
            As.append(A)
        else:
            A = Z
    cache = {"As": As, "Zs": Zs, "Ws": Ws}
    return A, cache


def mlp_backward(dY_hat, cache, act_grad):
    As = cache["As"]
    Zs = cache["Zs"]
    Ws = cache["Ws"]
    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    dAs = [None] * L
    dZ = np.asarray(dY_hat, dtype=np.float64)   # the output layer is linear
    for i in range(L - 1, -1, -1):
        A_prev = As[i]
        dWs[i] = A_prev.T @ dZ
        dbs[i] = dZ.sum(axis=0)
        dA_prev = dZ @ Ws[i].T
        dAs[i] = dA_prev
        if i > 0:
            dZ = dA_prev * np.asarray(act_grad(Zs[i - 1]), dtype=np.float64)
    return dWs, dbs, dAs
