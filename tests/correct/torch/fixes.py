# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""The remedies (residual connections, layer norm, batch norm) with PyTorch float64 and autograd."""
import numpy as np
import torch
import torch.nn.functional as F


def _t(a, grad=False):
    t = torch.from_numpy(np.array(a, dtype=np.float64, copy=True))
    return t.requires_grad_(True) if grad else t


def _np(t):
    return t.detach().clone().numpy()


@torch.enable_grad()
def _linear_grads(dout, x, W, b):
    xt, Wt, bt = _t(x, True), _t(W, True), _t(b, True)
    out = xt @ Wt + bt
    out.backward(_t(dout))
    return _np(xt.grad), _np(Wt.grad), _np(bt.grad)


# ---------------------------------------------------------------- residual

def _is_residual(W, l, L):
    return l < L and W.shape[0] == W.shape[1]


def residual_forward(X, weights, biases, act):
    weights = [np.array(W, dtype=np.float64, copy=True) for W in weights]
    biases = [np.array(b, dtype=np.float64, copy=True) for b in biases]
    L = len(weights)
    As, Zs = [np.array(X, dtype=np.float64, copy=True)], []
    out = torch.from_numpy(As[0].copy())
    for l in range(1, L + 1):
        W, b = weights[l - 1], biases[l - 1]
        A_prev = torch.from_numpy(As[-1])
        with torch.no_grad():
            Z = A_prev @ torch.from_numpy(W) + torch.from_numpy(b)
        Zs.append(Z.numpy())
        if l < L:
            H = torch.from_numpy(np.array(act(Z.numpy().copy()), dtype=np.float64, copy=True))
            A = A_prev + H if _is_residual(W, l, L) else H
            As.append(A.numpy())
        else:
            out = Z
    cache = {"As": As, "Zs": Zs, "weights": weights, "biases": biases}
    return _np(out), cache


def residual_backward(dY_hat, cache, act_grad):
    As, Zs = cache["As"], cache["Zs"]
    weights, biases = cache["weights"], cache["biases"]
    L = len(weights)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = np.array(dY_hat, dtype=np.float64, copy=True)  # gradient wrt the output of layer l
    for l in range(L, 0, -1):
        W = weights[l - 1]
        if l == L:
            dZ = dA
        else:
            local = torch.from_numpy(np.array(act_grad(Zs[l - 1].copy()), dtype=np.float64, copy=True))
            dZ = (torch.from_numpy(dA) * local).numpy()
        dA_prev, dW, db = _linear_grads(dZ, As[l - 1], W, biases[l - 1])
        if _is_residual(W, l, L):
            dA_prev = (torch.from_numpy(dA_prev) + torch.from_numpy(dA)).numpy()
        dWs[l - 1], dbs[l - 1], dAs[l - 1] = dW, db, dA_prev
        dA = dA_prev
    return dWs, dbs, dAs


# ---------------------------------------------------------------- layer norm

def _ln(x, gamma, beta, eps):
    return F.layer_norm(x, (x.shape[-1],), gamma, beta, eps)


def layernorm_forward(x, gamma, beta, eps=1e-5):
    xt, gt, bt = _t(x), _t(gamma), _t(beta)
    with torch.no_grad():
        out = _ln(xt, gt, bt, eps)
    cache = (xt.numpy(), gt.numpy(), bt.numpy(), float(eps))
    return _np(out), cache


@torch.enable_grad()
def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    xt, gt, bt = _t(x, True), _t(gamma, True), _t(beta, True)
    out = _ln(xt, gt, bt, eps)
    out.backward(_t(dout))
    return _np(xt.grad), _np(gt.grad), _np(bt.grad)


# ---------------------------------------------------------------- batch norm

def _bn(x, gamma, beta, eps):
    # torch.batch_norm is what F.batch_norm(training=True, running stats None) calls;
    # it is used directly so that a batch of one (which F.batch_norm refuses) is
    # computed by the same PyTorch kernel.
    return torch.batch_norm(x, gamma, beta, None, None, True, 0.1, eps, False)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    xt, gt, bt = _t(x), _t(gamma), _t(beta)
    with torch.no_grad():
        out = _bn(xt, gt, bt, eps)
    cache = (xt.numpy(), gt.numpy(), bt.numpy(), float(eps))
    return _np(out), cache


@torch.enable_grad()
def batchnorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    xt, gt, bt = _t(x, True), _t(gamma, True), _t(beta, True)
    out = _bn(xt, gt, bt, eps)
    out.backward(_t(dout))
    return _np(xt.grad), _np(gt.grad), _np(bt.grad)
