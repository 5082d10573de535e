"""Gradient clipping of exercise 3: by global norm (PyTorch ``clip_grad_norm_``) and by value.

``grads`` is a list of arrays of any shapes. Results are new float64 arrays; the
inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# PyTorch's clip_grad_norm_ adds this to the norm so that a zero norm never divides.
_EPS = 1e-6


def _check_norm_type(norm_type) -> float:
    p = float(norm_type)
    if not p > 0:
        raise ValueError(f"norm_type must be positive or inf, got {norm_type!r}")
    return p


def _new_float64(g) -> np.ndarray:
    return np.array(g, dtype=np.float64, copy=True)


def global_norm(grads: Sequence[np.ndarray], norm_type=2.0) -> float:
    """||concat(g.ravel() for g in grads)||_p, p = norm_type (may be inf).  Returns a float."""
    p = _check_norm_type(norm_type)
    mags = [np.abs(np.asarray(g, dtype=np.float64)).ravel() for g in grads]
    mags = np.concatenate(mags) if mags else np.zeros(0)
    if mags.size == 0:
        return 0.0
    scale = mags.max()
    # inf and NaN entries give an inf or NaN norm, as in PyTorch.
    if p == math.inf or scale == 0.0 or not np.isfinite(scale):
        return float(scale)
    # Dividing by the largest magnitude first keeps squares of 1e200 from overflowing
    # and squares of 1e-200 from flushing to zero; the tiny ratios that do underflow
    # are negligible next to the 1 contributed by the largest entry.
    with np.errstate(under="ignore"):
        r = mags / scale
        total = np.dot(r, r) if p == 2.0 else np.sum(r**p)
        return float(scale * total ** (1.0 / p))


def unscaled_norms(grads: Sequence[np.ndarray], norm_type=2.0) -> tuple[float, float]:
    """The global norm as float64 arithmetic gives it without rescaling, in the two orders
    code computes it: one sum of |g|^p over every entry (np.linalg.norm of all entries),
    and the norm of the per-array norms (PyTorch's clip_grad_norm_).

    Both equal ``global_norm`` to rounding, except where the powers overflow (inf) or
    underflow (0, or a few digits lost among subnormal numbers); there they are what
    PyTorch and numpy return.
    """
    p = _check_norm_type(norm_type)
    mags = [np.abs(np.asarray(g, dtype=np.float64)).ravel() for g in grads]
    with np.errstate(all="ignore"):
        if p == math.inf:
            each = [float(m.max(initial=0.0)) for m in mags]
            return max(each, default=0.0), max(each, default=0.0)
        flat = np.concatenate(mags) if mags else np.zeros(0)
        one_sum = float(np.sum(flat**p) ** (1.0 / p))
        each = np.array([np.sum(m**p) ** (1.0 / p) for m in mags], dtype=np.float64)
        return one_sum, float(np.sum(each**p) ** (1.0 / p))


def clip_grad_norm(grads: Sequence[np.ndarray], max_norm, norm_type=2.0,
                   total_norm: float | None = None):
    """g * min(1, max_norm / (total_norm + 1e-6)) for every g.

    Returns (list of new arrays shaped like grads, total_norm before clipping: float).
    ``total_norm`` given: clip by that norm instead (one that overflowed as PyTorch's does).
    """
    if total_norm is None:
        total_norm = global_norm(grads, norm_type)
    # Multiplying unconditionally (by 1.0 when under the limit) mirrors PyTorch and
    # keeps the result a fresh array in both cases.
    clip_coef = min(max_norm / (total_norm + _EPS), 1.0)
    clipped = []
    # An inf entry meets a coefficient of 0 and becomes NaN, as in PyTorch: that is the
    # intended result, not an error to report. Subnormal products may round.
    with np.errstate(invalid="ignore", under="ignore"):
        for g in grads:
            out = _new_float64(g)
            out *= clip_coef  # in place on the copy, so 0-d arrays stay arrays
            clipped.append(out)
    return clipped, total_norm


def clip_grad_value(grads: Sequence[np.ndarray], clip_value) -> list[np.ndarray]:
    """clip(g, -clip_value, clip_value) for every g.  Returns a list of new arrays, same shapes."""
    clipped = []
    for g in grads:
        out = _new_float64(g)
        np.clip(out, -clip_value, clip_value, out=out)
        clipped.append(out)
    return clipped
