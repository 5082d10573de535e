"""Training of exercise 7: plain SGD on the MLP of exercise 4, optionally with clipping.

Built from the engine's own pieces (``layers`` for the loss and the passes, ``clipping``
for the global-norm clip, ``diagnostics`` for the per-layer norms), so what it records is
exactly what the other exercises compute.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import numpy as np

from grader.engine import clipping, layers
from grader.engine.diagnostics import layer_norms


def sgd_train(X, Y, weights: Sequence, biases: Sequence, act: Callable, act_grad: Callable,
              lr, steps, max_norm=None) -> dict[str, np.ndarray]:
    """Each step: loss and dY_hat from mse_loss(Y_hat, Y), dWs and dbs from mlp_backward,
    dWs + dbs clipped together by clip_grad_norm when max_norm is given, then
    W_l -= lr dW_l and b_l -= lr db_l.

    X: (N, D); Y: (N, fan_out of layer L); weights, biases as for mlp_forward (left as they
    are: training runs on copies).  Returns {"loss": (steps,), the loss before each step,
    "grad_norms": (steps, L), ||dW_l||_F of each layer before clipping}.
    """
    steps = operator.index(steps)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    layers.check_layers(weights, biases)
    Ws = [np.array(W, dtype=np.float64, copy=True) for W in weights]
    bs = [np.array(b, dtype=np.float64, copy=True) for b in biases]
    L = len(Ws)
    losses = np.empty(steps, dtype=np.float64)
    grad_norms = np.empty((steps, L), dtype=np.float64)
    # A run that diverges to inf and then NaN is a result to show (what clipping
    # prevents), not an error to warn about.
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for t in range(steps):
            Y_hat, cache = layers.mlp_forward(X, Ws, bs, act)
            losses[t], dY_hat = layers.mse_loss(Y_hat, Y)
            dWs, dbs, _ = layers.mlp_backward(dY_hat, cache, act_grad)
            # Recorded before clipping: the norms show what the network produced, the
            # clip only limits the step taken with it.
            grad_norms[t] = layer_norms(dWs)
            if max_norm is not None:
                clipped, _ = clipping.clip_grad_norm(dWs + dbs, max_norm)
                dWs, dbs = clipped[:L], clipped[L:]
            for W, dW in zip(Ws, dWs):
                W -= lr * dW
            for b, db in zip(bs, dbs):
                b -= lr * db
    return {"loss": losses, "grad_norms": grad_norms}
