"""Exercise 3: gradient clipping.

When gradients explode, a single update step can throw the weights far away. Clipping
runs after the backward pass and before the optimizer step: it bounds the size of the
step, either by rescaling all gradients together (by global norm) or entry by entry.

Check your work with: grader check --exercise clipping
"""

import numpy as np


def global_norm(grads, norm_type=2.0):
    """Joint p-norm of all gradients: (sum over every entry of every array of |g|**p)**(1/p).

    Shapes: grads is a list of arrays of any shapes; returns a Python float.
    norm_type is p > 0, or float("inf") for the largest absolute entry.
    Why it matters: this is the one number that clipping compares with max_norm; a
    sudden jump in it is how an exploding gradient shows up during training.
    Must not overflow for huge entries (1e200 squared is inf).

    Hint: divide every entry by the largest |entry| before raising to the power p,
    then multiply the result back.
    """
    # BEGIN SOLUTION
    magnitudes = [np.abs(np.asarray(g, dtype=np.float64)).ravel() for g in grads]
    flat = np.concatenate(magnitudes) if magnitudes else np.zeros(0)
    if flat.size == 0:
        return 0.0
    largest = flat.max()
    if norm_type == float("inf") or largest == 0.0 or not np.isfinite(largest):
        return float(largest)
    p = float(norm_type)
    return float(largest * np.sum((flat / largest) ** p) ** (1.0 / p))
    # END SOLUTION


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    """Clip by global norm: multiply every array by min(1, max_norm / (total_norm + 1e-6)).

    Shapes: grads is a list of arrays of any shapes; returns (clipped, total_norm) where
    clipped is a list of NEW arrays with the same shapes and total_norm a float (the norm
    before clipping, from global_norm).
    Why it matters: all gradients are scaled by the same factor, so the update keeps its
    direction but its length is capped: an exploding gradient cannot blow up one step.
    Same semantics as PyTorch's torch.nn.utils.clip_grad_norm_.

    Hint: never scale up: when total_norm is already below max_norm the factor is 1.
    """
    # BEGIN SOLUTION
    total_norm = global_norm(grads, norm_type)
    coef = max_norm / (total_norm + 1e-6)
    scale = min(coef, 1.0)
    clipped = [np.asarray(np.asarray(g, dtype=np.float64) * scale) for g in grads]
    return clipped, total_norm
    # END SOLUTION


def clip_grad_value(grads, clip_value):
    """Clip by value: clamp every entry of every array to [-clip_value, clip_value].

    Shapes: grads is a list of arrays of any shapes; returns a list of NEW arrays with
    the same shapes.
    Why it matters: a cheap guard against a few huge entries, but unlike clipping by
    norm it can change the direction of the update.

    Hint: np.clip returns a new array and leaves its input alone.
    """
    # BEGIN SOLUTION
    return [
        np.asarray(np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value))
        for g in grads
    ]
    # END SOLUTION
