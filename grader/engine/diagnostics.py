"""Gradient diagnostics of exercise 5: per-layer norms, their ratio, a verdict, gradient checks.

``grads`` and ``norms`` are ordered input side first (index 0 is layer 1), like every
per-layer list in the engine. Nothing here modifies its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from grader.engine.clipping import global_norm

VANISH_BELOW = 1e-2
EXPLODE_ABOVE = 1e2

# relative_error's floor on the denominator, so that two all-zero arrays agree.
_FLOOR = 1e-12


def layer_norms(grads: Sequence[np.ndarray]) -> np.ndarray:
    """||g||_F for every g in grads.  Returns a float64 array of shape (len(grads),)."""
    # global_norm rescales before squaring: a 1e200 gradient has a norm, not inf, and a
    # 1e-200 one is not flushed to 0, which is the range the diagnosis has to tell apart.
    return np.array([global_norm([g], 2.0) for g in grads], dtype=np.float64)


def gradient_ratio(norms) -> float:
    """norms[0] / norms[-1]: the input-side layer over the output-side layer.  Returns a float.

    x / 0 is inf and 0 / 0 is NaN (IEEE division, no warning).
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"need a non-empty 1-D sequence of norms, got shape {norms.shape}")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        return float(norms[0] / norms[-1])


def diagnose(norms, vanish_below=VANISH_BELOW, explode_above=EXPLODE_ABOVE) -> str:
    """ratio = gradient_ratio(norms): below vanish_below "vanishing", above explode_above
    "exploding", otherwise (the thresholds themselves included) "healthy".

    A NaN ratio (both norms 0) is neither below nor above, so it is "healthy", exactly
    as the two comparisons read.  Returns one of the three strings.
    """
    ratio = gradient_ratio(norms)
    if ratio < vanish_below:
        return "vanishing"
    if ratio > explode_above:
        return "exploding"
    return "healthy"


def numerical_gradient(f: Callable[[np.ndarray], float], x, h=1e-5) -> np.ndarray:
    """df/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / (2h) for every entry i of x.

    f maps an array shaped like x to a scalar.  x: any shape.  Returns an array of x's
    shape.  f is called on a private copy, so x is never touched, even while f runs.
    """
    probe = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(probe)
    for idx in np.ndindex(probe.shape):
        old = probe[idx]
        # Both points are computed from the saved value, each rounded once: stepping
        # +h, -2h, +h in place rounds at every step, which puts the lower point (and the
        # restored value) an ulp off for about half of all entries.
        probe[idx] = old + h
        up = float(f(probe))
        probe[idx] = old - h
        down = float(f(probe))
        probe[idx] = old
        grad[idx] = (up - down) / (2.0 * h)
    return grad


def relative_error(a, b) -> float:
    """max|a - b| / max(1e-12, max|a| + max|b|).  a, b: the same shape.  Returns a float."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b shapes differ: {a.shape} vs {b.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        diff = np.max(np.abs(a - b), initial=0.0)
        scale = np.max(np.abs(a), initial=0.0) + np.max(np.abs(b), initial=0.0)
        return float(diff / max(_FLOOR, scale))
