# A correct submission written independently of the reference solutions (style: library).
"""Plain SGD on the MLP with optional global-norm clipping, library style (self-contained)."""
import numpy as np


def _forward(X, Ws, bs, act):
    L = len(Ws)
    A = X
    cache = []
    for l in range(L):
        Z = A @ Ws[l] + bs[l]
        cache.append((A, Z))
        A = act(Z) if l < L - 1 else Z
    return A, cache


def _backward(dY, Ws, cache, act_grad):
    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    dZ = dY
    for l in reversed(range(L)):
        A, _ = cache[l]
        dWs[l] = A.T @ dZ
        dbs[l] = np.sum(dZ, axis=0)
        if l > 0:
            dZ = (dZ @ Ws[l].T) * act_grad(cache[l - 1][1])
    return dWs, dbs


def _frobenius(g):
    g = np.ravel(g)
    if g.size == 1:
        return np.abs(g[0])
    return np.linalg.norm(g)


def _global_norm2(grads):
    v = np.abs(np.concatenate([np.ravel(g) for g in grads]))
    m = np.max(v)
    if m == 0.0 or not np.isfinite(m):
        return m
    return m * np.sqrt(np.sum((v / m) ** 2))


def sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=None):
    Ws = [np.array(W, dtype=np.float64) for W in weights]
    bs = [np.array(b, dtype=np.float64) for b in biases]
    L = len(Ws)
    losses = []
    norms = []
    for _ in range(steps):
        Y_hat, cache = _forward(X, Ws, bs, act)
        diff = Y_hat - Y
        losses.append(np.mean(diff ** 2))
        dY = 2.0 * diff / diff.size
        dWs, dbs = _backward(dY, Ws, cache, act_grad)
        norms.append([_frobenius(dW) for dW in dWs])
        if max_norm is not None:
            total = _global_norm2(dWs + dbs)
            coef = min(max_norm / (total + 1e-6), 1.0)
            dWs = [g * coef for g in dWs]
            dbs = [g * coef for g in dbs]
        Ws = [W - lr * dW for W, dW in zip(Ws, dWs)]
        bs = [b - lr * db for b, db in zip(bs, dbs)]
    return {
        "loss": np.array(losses, dtype=np.float64),
        "grad_norms": np.array(norms, dtype=np.float64).reshape(steps, L),
    }
