"""Training history: plain SGD on the MSE against the fixed random target, as exercise 7.

Each step records, before any clipping, the loss, every layer's |dA| and |dW| and the
global 2-norm of all gradients; with ``max_norm`` the gradients of all trained arrays
(weights, biases, and gamma/beta of the norms) are then clipped together by
``clipping.clip_grad_norm``, exactly as ``clip_grad_norm(dWs + dbs, max_norm)`` does for
the plain MLP. A run whose loss stops being finite ends there: the steps after it would
only repeat NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grader.engine.clipping import clip_grad_norm, global_norm
from grader.engine.layers import mse_loss
from grader.explore import model
from grader.explore.measure import layer_norms


@dataclass(frozen=True)
class History:
    """Per step (the loss before the step is taken); rows of the norms are input side first.

    ``diverged_at`` is the first step whose loss is not finite (None if none was).
    """

    loss: tuple[float, ...]
    grad_norms: tuple[tuple[float, ...], ...]
    weight_grad_norms: tuple[tuple[float, ...], ...]
    total_norm: tuple[float, ...]
    clipped: tuple[bool, ...]
    diverged_at: int | None


def train(net: model.Network, X: np.ndarray, T: np.ndarray, lr: float, steps: int,
          max_norm: float | None = None) -> History:
    rows = []
    diverged_at = None
    # Divergence to inf and NaN is the result being shown, not an error to warn about.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for t in range(steps):
            row, net = _step(net, X, T, lr, max_norm)
            rows.append(row)
            if not math.isfinite(row[0]):
                diverged_at = t
                break
    loss, grad_norms, weight_norms, total, clipped = zip(*rows) if rows else ((),) * 5
    return History(tuple(loss), tuple(grad_norms), tuple(weight_norms), tuple(total),
                   tuple(clipped), diverged_at)


def _step(net, X, T, lr, max_norm):
    Y_hat, cache = model.forward(net, X)
    loss, dY_hat = mse_loss(Y_hat, T)
    grads = model.backward(dY_hat, cache)
    g = model.gradients(net, grads)
    total = global_norm(g)
    if max_norm is not None:
        g, total = clip_grad_norm(g, max_norm)
    updated = [p - lr * d for p, d in zip(model.parameters(net), g)]
    row = (loss, _floats(layer_norms(grads.dAs)), _floats(layer_norms(grads.dWs)), total,
           max_norm is not None and total > max_norm)
    return row, model.with_parameters(net, updated)


def _floats(a) -> tuple[float, ...]:
    return tuple(float(v) for v in a)
