# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""Gradient clipping with PyTorch float64 (vector_norm, clip_grad_norm_, clamp)."""
import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (kept for the house style)


def _t(a):
    return torch.from_numpy(np.array(a, dtype=np.float64, copy=True))


def global_norm(grads, norm_type=2.0):
    ts = [_t(g).reshape(-1) for g in grads]
    if not ts:
        return 0.0
    flat = torch.cat(ts)
    return torch.linalg.vector_norm(flat, ord=float(norm_type)).item()


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    params = []
    for g in grads:
        gt = _t(g)
        p = torch.zeros_like(gt, requires_grad=True)
        p.grad = gt
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=float(norm_type))
    clipped = [p.grad.detach().clone().numpy() for p in params]
    return clipped, float(total.item())


def clip_grad_value(grads, clip_value):
    c = float(clip_value)
    return [torch.clamp(_t(g), min=-c, max=c).numpy() for g in grads]
