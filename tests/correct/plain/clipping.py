# A correct submission written independently of the reference solutions (style: plain).
"""Gradient clipping (style: plain)."""
import numpy as np


def global_norm(grads, norm_type=2.0):
    if len(grads) == 0:
        return 0.0
    flat = np.concatenate([np.ravel(g) for g in grads])
    return np.linalg.norm(flat, ord=norm_type)


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    total_norm = global_norm(grads, norm_type)
    coef = max_norm / (total_norm + 1e-6)
    clipped = [g * min(coef, 1.0) for g in grads]
    return clipped, total_norm


def clip_grad_value(grads, clip_value):
    return [np.clip(g, -clip_value, clip_value) for g in grads]
