# A correct submission written independently of the reference solutions (style: plain).
"""SGD training of the MLP with optional clipping (style: plain)."""
import numpy as np


def sgd_train(X, Y, weights, biases, act, act_grad, lr, steps, max_norm=None):
    Ws = [W.copy() for W in weights]
    bs = [b.copy() for b in biases]
    L = len(Ws)
    history = {"loss": [], "grad_norms": []}
    for _ in range(steps):
        # forward
        A = X
        layers = []
        for l in range(L):
            Z = A @ Ws[l] + bs[l]
            layers.append((A, Z))
            A = act(Z) if l < L - 1 else Z
        diff = A - Y
        history["loss"].append(float(np.mean(diff ** 2)))
        # backward
        dA = 2 * diff / diff.size
        dWs, dbs = [None] * L, [None] * L
        for l in reversed(range(L)):
            A_prev, Z = layers[l]
            dZ = dA if l == L - 1 else dA * act_grad(Z)
            dWs[l] = A_prev.T @ dZ
            dbs[l] = dZ.sum(axis=0)
            dA = dZ @ Ws[l].T
        history["grad_norms"].append(np.array([np.linalg.norm(g) for g in dWs]))
        # clip
        if max_norm is not None:
            total = np.linalg.norm(np.concatenate([g.ravel() for g in dWs + dbs]))
            scale = min(max_norm / (total + 1e-6), 1.0)
            dWs = [g * scale for g in dWs]
            dbs = [g * scale for g in dbs]
        # step
        Ws = [W - lr * g for W, g in zip(Ws, dWs)]
        bs = [b - lr * g for b, g in zip(bs, dbs)]
    return history
