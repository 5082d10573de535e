# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""Diagnostics of gradient flow, computed with PyTorch float64."""
import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (kept for the house style)


def _t(a):
    return torch.from_numpy(np.array(a, dtype=np.float64, copy=True))


def layer_norms(grads):
    norms = [torch.linalg.vector_norm(_t(g).reshape(-1), ord=2) for g in grads]
    if not norms:
        return np.zeros((0,), dtype=np.float64)
    return torch.stack(norms).numpy()


def gradient_ratio(norms):
    n = _t(norms).reshape(-1)
    return (n[0] / n[-1]).item()


def diagnose(norms, vanish_below=1e-2, explode_above=1e2):
    r = gradient_ratio(norms)
    if r < vanish_below:
        return "vanishing"
    if r > explode_above:
        return "exploding"
    return "healthy"


def numerical_gradient(f, x, h=1e-5):
    base = np.array(x, dtype=np.float64, copy=True)
    flat = base.reshape(-1)
    grad = torch.zeros(flat.shape[0], dtype=torch.float64)
    for i in range(flat.shape[0]):
        xp = base.copy()
        xp.reshape(-1)[i] = flat[i] + h
        fp = float(f(xp))
        xm = base.copy()
        xm.reshape(-1)[i] = flat[i] - h
        fm = float(f(xm))
        grad[i] = (torch.tensor(fp, dtype=torch.float64) - torch.tensor(fm, dtype=torch.float64)) / (2.0 * h)
    return grad.reshape(base.shape).numpy()


def relative_error(a, b):
    at, bt = _t(a), _t(b)
    if at.numel() == 0 and bt.numel() == 0:
        return 0.0
    num = torch.max(torch.abs(at - bt))
    den = torch.max(torch.abs(at)) + torch.max(torch.abs(bt))
    den = torch.maximum(torch.tensor(1e-12, dtype=torch.float64), den)
    return (num / den).item()
