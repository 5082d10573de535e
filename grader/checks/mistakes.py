"""Models of the typical backward-pass mistakes, to name the one a student made.

Each model recomputes the MLP's gradients the way a student with that one
misconception would. When a student's wrong answer matches a model, the
feedback names the misconception instead of only the place it shows. These
are deliberately wrong implementations; the reference engine never has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from grader.engine.activations import ACTIVATIONS


@dataclass(frozen=True)
class Mistake:
    name: str
    hint: str
    grads: Callable  # (X, Ws, bs, act_name, dY) -> (dWs, dbs, dAs)


def _backward(X, Ws, bs, act_name, dY, *, grad_at_output=False, output_act=False,
              no_act_grad=False, mean_bias=False, mean_weight=False, shift_dA=False):
    act = ACTIVATIONS[act_name]
    As, Zs = [np.asarray(X, np.float64)], []
    for l, (W, b) in enumerate(zip(Ws, bs)):
        Zs.append(As[-1] @ W + b)
        As.append(Zs[-1] if l == len(Ws) - 1 else act.fn(Zs[-1]))
    L, N = len(Ws), As[0].shape[0]
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = np.asarray(dY, np.float64)
    for l in reversed(range(L)):
        at = As[l + 1] if grad_at_output else Zs[l]
        if no_act_grad or (l == L - 1 and not output_act):
            dZ = dA
        else:
            dZ = dA * act.grad(at)
        dWs[l] = As[l].T @ dZ / (N if mean_weight else 1)
        dbs[l] = dZ.mean(axis=0) if mean_bias else dZ.sum(axis=0)
        dAs[l] = dA if shift_dA else dZ @ Ws[l].T
        dA = dZ @ Ws[l].T
    return dWs, dbs, dAs


def _reversed(X, Ws, bs, act_name, dY):
    dWs, dbs, dAs = _backward(X, Ws, bs, act_name, dY)
    return dWs[::-1], dbs[::-1], dAs[::-1]


MLP_MISTAKES = (
    Mistake("derivative at the output",
            "act_grad is evaluated at the layer's output A_l = act(Z_l); evaluate it at the "
            "pre-activation Z_l (keep Z_l in the cache)",
            lambda *a: _backward(*a, grad_at_output=True)),
    Mistake("activation at the output layer",
            "the output layer is linear (Y_hat = Z_L), so dZ_L = dY_hat: do not multiply "
            "by act_grad there",
            lambda *a: _backward(*a, output_act=True)),
    Mistake("no activation derivative",
            "the hidden layers' dZ_l = dA_l * act_grad(Z_l): the activation's derivative is "
            "missing",
            lambda *a: _backward(*a, no_act_grad=True)),
    Mistake("bias gradient averaged",
            "the bias gradient sums dZ over the batch (dZ.sum(axis=0)); it is not averaged: "
            "the 1/N is already in dY_hat",
            lambda *a: _backward(*a, mean_bias=True)),
    Mistake("weight gradient averaged",
            "dW = A_prev.T @ dZ with no division by the batch size: the 1/N is already in dY_hat",
            lambda *a: _backward(*a, mean_weight=True, mean_bias=True)),
    Mistake("dAs holds the wrong gradient",
            "dAs[i] is the gradient with respect to layer i+1's input A_i (dAs[0] is dX), "
            "i.e. dZ @ W.T, not the gradient arriving at the layer's output",
            lambda *a: _backward(*a, shift_dA=True)),
    Mistake("reversed layer order",
            "the lists are in reverse order: index 0 must be layer 1 (the input side), "
            "so reverse your lists before returning them",
            _reversed),
)


def matching_mistake(mistakes, args, student, close) -> Mistake | None:
    """The first mistake whose gradients all match the student's, if any.

    ``student`` is a tuple of lists of arrays; ``close(a, b)`` compares two arrays.
    """
    for mistake in mistakes:
        try:
            model = mistake.grads(*args)
        except (ValueError, IndexError):
            continue
        if all(len(s) == len(m) and all(np.shape(a) == np.shape(b) and close(a, b)
                                        for a, b in zip(s, m))
               for s, m in zip(student, model)):
            return mistake
    return None
