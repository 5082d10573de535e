# A correct submission written independently of the reference solutions (style: loops).
"""Gradient diagnostics: per-layer norms, ratios, numerical gradients (style: loops)."""

import math

import numpy as np


def layer_norms(grads):
    norms = []
    with np.errstate(over="ignore", under="ignore"):
        for g in grads:
            g = np.asarray(g, dtype=np.float64)
            norms.append(math.sqrt(float(np.sum(g * g))))
    return np.array(norms, dtype=np.float64)


def gradient_ratio(norms):
    first = np.float64(norms[0])
    last = np.float64(norms[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = first / last
    return float(ratio)


def diagnose(norms, vanish_below=1e-2, explode_above=1e2):
    ratio = gradient_ratio(norms)
    if ratio < vanish_below:
        return "vanishing"
    if ratio > explode_above:
        return "exploding"
    return "healthy"


def numerical_gradient(f, x, h=1e-5):
    # Perturb x itself (so an f that reads x directly also sees the change),
    # one entry at a time, and put every entry back exactly as it was.
    in_place = (isinstance(x, np.ndarray) and x.dtype == np.float64
                and x.flags.writeable)
    xs = x if in_place else np.array(x, dtype=np.float64)
    grad = np.zeros(xs.shape, dtype=np.float64)
    for idx in np.ndindex(xs.shape):
        old = xs[idx]
        try:
            xs[idx] = old + h
            f_plus = float(f(xs))
            xs[idx] = old - h
            f_minus = float(f(xs))
        finally:
            xs[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = float(np.max(np.abs(a - b)))
    den = max(1e-12, float(np.max(np.abs(a))) + float(np.max(np.abs(b))))
    return float(num / den)
