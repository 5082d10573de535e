# A correct submission written independently of the reference solutions (style: loops).
"""Plain SGD on the MLP with optional clipping by global norm (style: loops)."""

import math

import numpy as np


def _forward(X, Ws, bs, act):
    A = X
    As = [A]
    Zs = []
    L = len(Ws)
    for i in range(L):
        Z = A @ Ws[i] + bs[i]
        Zs.append(Z)
        if i < L - 1:
            A = np.asarray(act(Z), dtype=np.float64)
            As.append(A)
        else:
            A = Z
    return A, As, Zs


def _backward(dY, As, Zs, Ws, act_grad):
    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    dZ = dY
    for i in range(L - 1, -1, -1):
        dWs[i] = As[i].T @ dZ
        dbs[i] = dZ.sum(axis=0)
        if i > 0:
            dA_prev = dZ @ Ws[i].T
            dZ = dA_prev * np.asarray(act_grad(Zs[i - 1]), dtype=np.float64)
    return dWs, dbs


def _frobenius(g):
    return math.sqrt(float(np.sum(g * g)))


def sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=None):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    Ws = [np.array(W, dtype=np.float64) for W in weights]
    bs = [np.array(b, dtype=np.float64) for b in biases]
    L = len(Ws)
    history = {"loss": [], "grad_norms": []}
    for step in range(int(steps)):
        Y_hat, As, Zs = _forward(X, Ws, bs, act)
        diff = Y_hat - Y
        loss = float(np.mean(diff * diff))
        dY = 2.0 * diff / diff.size
        dWs, dbs = _backward(dY, As, Zs, Ws, act_grad)
        history["loss"].append(loss)
        row = []
        for i in range(L):
            row.append(_frobenius(dWs[i]))
        history["grad_norms"].append(row)
        grads = dWs + dbs
        if max_norm is not None:
            total = 0.0
            for g in grads:
                total += float(np.sum(g * g))
            total_norm = math.sqrt(total)
            coef = min(float(max_norm) / (total_norm + 1e-6), 1.0)
            clipped = []
            for g in grads:
                clipped.append(g * coef)
            grads = clipped
        for i in range(L):
            Ws[i] = Ws[i] - lr * grads[i]
            bs[i] = bs[i] - lr * grads[L + i]
    return history
