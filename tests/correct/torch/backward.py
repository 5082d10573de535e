# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""The manual backward pass, with PyTorch float64 and autograd doing the local derivatives."""
import numpy as np
import torch
import torch.nn.functional as F


def _t(a, grad=False):
    t = torch.from_numpy(np.array(a, dtype=np.float64, copy=True))
    return t.requires_grad_(True) if grad else t


def _np(t):
    return t.detach().clone().numpy()


@torch.enable_grad()
def mse_loss(pred, target):
    p = _t(pred, grad=True)
    y = _t(target)
    loss = F.mse_loss(p, y)
    loss.backward()
    return float(loss.item()), _np(p.grad)


def _linear(x, W, b):
    return x @ W + b


def linear_forward(x, W, b):
    xt, Wt, bt = _t(x), _t(W), _t(b)
    with torch.no_grad():
        out = _linear(xt, Wt, bt)
    cache = (xt.numpy(), Wt.numpy(), bt.numpy())  # private copies
    return _np(out), cache


@torch.enable_grad()
def _linear_grads(dout, x, W, b):
    xt, Wt, bt = _t(x, True), _t(W, True), _t(b, True)
    out = _linear(xt, Wt, bt)
    out.backward(_t(dout))
    return _np(xt.grad), _np(Wt.grad), _np(bt.grad)


def linear_backward(dout, cache):
    x, W, b = cache
    return _linear_grads(dout, x, W, b)


def mlp_forward(X, weights, biases, act):
    A = _t(X)
    As, Zs = [A.numpy()], []
    L = len(weights)
    out = A
    for l, (W, b) in enumerate(zip(weights, biases), start=1):
        with torch.no_grad():
            Z = _linear(torch.from_numpy(As[-1]), _t(W), _t(b))
        Zn = Z.numpy()
        Zs.append(Zn)
        if l < L:
            An = np.array(act(Zn.copy()), dtype=np.float64, copy=True)
            As.append(An)
        else:
            out = Z
    cache = {
        "As": As,  # As[i] is the input of layer i+1
        "Zs": Zs,
        "weights": [np.array(W, dtype=np.float64, copy=True) for W in weights],
        "biases": [np.array(b, dtype=np.float64, copy=True) for b in biases],
    }
    return _np(out), cache


def mlp_backward(dY_hat, cache, act_grad):
    As, Zs = cache["As"], cache["Zs"]
    weights, biases = cache["weights"], cache["biases"]
    L = len(weights)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dZ = np.array(dY_hat, dtype=np.float64, copy=True)
    for i in range(L - 1, -1, -1):
        dA_prev, dW, db = _linear_grads(dZ, As[i], weights[i], biases[i])
        dWs[i], dbs[i], dAs[i] = dW, db, dA_prev
        if i > 0:
            local = torch.from_numpy(np.array(act_grad(Zs[i - 1].copy()), dtype=np.float64, copy=True))
            dZ = (torch.from_numpy(dA_prev.copy()) * local).numpy()
    return dWs, dbs, dAs
