# A correct submission written independently of the reference solutions (style: library).
"""Gradient diagnostics and gradient checking, library style."""
import numpy as np


def _frobenius(g):
    g = np.ravel(g)
    if g.size == 1:
        # a single entry's norm is its magnitude: no square to overflow or underflow
        return np.abs(g[0])
    return np.linalg.norm(g)


def layer_norms(grads):
    return np.array([_frobenius(g) for g in grads], dtype=np.float64)


def gradient_ratio(norms):
    return np.divide(norms[0], norms[-1])


def diagnose(norms, vanish_below=1e-2, explode_above=1e2):
    r = gradient_ratio(norms)
    if r < vanish_below:
        return "vanishing"
    if r > explode_above:
        return "exploding"
    return "healthy"


def numerical_gradient(f, x, h=1e-5):
    xc = np.array(x, dtype=np.float64)
    grad = np.zeros_like(xc)
    it = np.nditer(xc, flags=["multi_index"])
    while not it.finished:
        ix = it.multi_index
        old = xc[ix]
        xc[ix] = old + h
        fp = f(xc)
        xc[ix] = old - h
        fm = f(xc)
        xc[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def relative_error(a, b):
    num = np.max(np.abs(np.subtract(a, b)))
    den = np.maximum(1e-12, np.max(np.abs(a)) + np.max(np.abs(b)))
    return num / den
