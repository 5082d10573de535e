# A correct submission written independently of the reference solutions (style: loops).
"""Gradient clipping by global norm and by value (style: loops)."""

import math

import numpy as np


def global_norm(grads, norm_type=2.0):
    p = float(norm_type)
    if math.isinf(p) and p > 0:
        best = 0.0
        for g in grads:
            g = np.asarray(g, dtype=np.float64)
            if g.size == 0:
                continue
            m = float(np.max(np.abs(g)))
            if m > best or math.isnan(m):
                best = m
        return float(best)
    total = 0.0
    with np.errstate(over="ignore", under="ignore"):
        for g in grads:
            g = np.asarray(g, dtype=np.float64)
            if g.size == 0:
                continue
            if p == 0.0:
                total += float(np.count_nonzero(g))
            elif p == 1.0:
                total += float(np.sum(np.abs(g)))
            elif p == 2.0:
                total += float(np.sum(g * g))
            else:
                total += float(np.sum(np.abs(g) ** p))
    if p == 0.0 or p == 1.0:
        return float(total)
    if p == 2.0:
        return float(math.sqrt(total))
    return float(total ** (1.0 / p))


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    total_norm = global_norm(grads, norm_type)
    coef = float(max_norm) / (total_norm + 1e-6)
    coef = min(coef, 1.0)
    clipped = []
    for g in grads:
        clipped.append(np.asarray(g, dtype=np.float64) * coef)
    return clipped, total_norm


def clip_grad_value(grads, clip_value):
    v = float(clip_value)
    clipped = []
    for g in grads:
        g = np.asarray(g, dtype=np.float64)
        out = g.copy()
        out[g > v] = v
        out[g < -v] = -v
        clipped.append(out)
    return clipped
