# A correct submission written independently of the reference solutions (style: plain).
"""Gradient diagnostics (style: plain)."""
import numpy as np


def layer_norms(grads):
    return np.array([np.linalg.norm(g) for g in grads])


def gradient_ratio(norms):
    norms = np.asarray(norms, dtype=float)
    return norms[0] / norms[-1]


def diagnose(norms, vanish_below=1e-2, explode_above=1e2):
    r = gradient_ratio(norms)
    if r < vanish_below:
        return "vanishing"
    if r > explode_above:
        return "exploding"
    return "healthy"


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad


def relative_error(a, b):
    return np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(a)) + np.max(np.abs(b)))
