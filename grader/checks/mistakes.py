"""Models of the typical backward-pass mistakes, to name the one a student made.

Each model recomputes the gradients of the MLP (exercise 4) or of the residual MLP
(exercise 6) the way a student with that one misconception would. When a student's
wrong answer matches a model, the feedback names the misconception instead of only
the place it shows. These are deliberately wrong implementations; the reference
engine never has them.
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


def _reversed(backward: Callable) -> Callable:
    """The gradients of ``backward`` with each list in reverse order (output side first)."""
    return lambda *args: tuple(part[::-1] for part in backward(*args))


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
            _reversed(_backward)),
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


# --- the residual MLP of exercise 6 ----------------------------------------------------

def residual_forward_variant(X, Ws, bs, act_name, *, skip_at_output=False,
                             broadcast_skip=False, skip_inside=False, branch_linear=False,
                             no_skip=False, output_act=False):
    """Y_hat as a student with one misconception about the skips computes it, with the
    (A_in, Z, A_out, skip) of every layer; ValueError where numpy cannot add the skip."""
    act = ACTIVATIONS[act_name]
    A, layers = np.asarray(X, np.float64), []
    L = len(Ws)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        Z = A @ W + b
        last = l == L - 1
        square = W.shape[0] == W.shape[1]
        skip = not no_skip and ((square and not last) or (skip_at_output and last and square)
                                or (broadcast_skip and not last))
        branch = Z if branch_linear or (last and not output_act) else act.fn(Z)
        if skip and skip_inside and not last:
            out = act.fn(A + Z)
        elif skip:
            out = A + branch
        else:
            out = branch
        if out.shape != Z.shape:
            raise ValueError("the skip changed the layer's width")
        layers.append((A, Z, out, skip))
        A = out
    return A, layers


def _residual_backward(X, Ws, bs, act_name, dY, *, drop_skip=False, skip_at_output=False,
                       grad_at_output=False, no_act_grad=False, output_act=False,
                       shift_dA=False):
    act = ACTIVATIONS[act_name]
    _, layers = residual_forward_variant(X, Ws, bs, act_name)
    L = len(Ws)
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    dA = np.asarray(dY, np.float64)
    for l in reversed(range(L)):
        A_in, Z, A_out, skip = layers[l]
        last = l == L - 1
        if no_act_grad or (last and not output_act):
            dZ = dA
        else:
            dZ = dA * act.grad(A_out if grad_at_output else Z)
        dWs[l] = A_in.T @ dZ
        dbs[l] = dZ.sum(axis=0)
        through = dZ @ Ws[l].T
        square = Ws[l].shape[0] == Ws[l].shape[1]
        if (skip and not drop_skip) or (skip_at_output and last and square):
            through = through + dA
        dAs[l] = dA if shift_dA else through
        dA = through
    return dWs, dbs, dAs


RESIDUAL_MISTAKES = (
    Mistake("skip gradient dropped",
            "a layer that adds its input passes the gradient back along two paths: "
            "dA_{l-1} = dZ_l @ W_l.T + dA_l; the skip's dA_l is missing",
            lambda *a: _residual_backward(*a, drop_skip=True)),
    Mistake("skip gradient at the output layer",
            "the output layer never adds its input (Y_hat = Z_L), so the gradient takes no "
            "skip there: dA_{L-1} = dZ_L @ W_L.T, even when W_L is square",
            lambda *a: _residual_backward(*a, skip_at_output=True)),
    Mistake("derivative at the output",
            "act_grad is evaluated at the pre-activation Z_l, not at the layer's output "
            "A_l = A_{l-1} + act(Z_l) (keep Z_l in the cache)",
            lambda *a: _residual_backward(*a, grad_at_output=True)),
    Mistake("activation at the output layer",
            "the output layer is linear (Y_hat = Z_L), so dZ_L = dY_hat: do not multiply "
            "by act_grad there",
            lambda *a: _residual_backward(*a, output_act=True)),
    Mistake("no activation derivative",
            "the branch's dZ_l = dA_l * act_grad(Z_l): the activation's derivative is missing",
            lambda *a: _residual_backward(*a, no_act_grad=True)),
    Mistake("dAs holds the wrong gradient",
            "dAs[i] is the gradient with respect to layer i+1's input A_i (dAs[0] is dX), "
            "skip included, not the gradient arriving at the layer's output",
            lambda *a: _residual_backward(*a, shift_dA=True)),
    Mistake("reversed layer order",
            "the lists are in reverse order: index 0 must be layer 1 (the input side), "
            "so reverse your lists before returning them",
            _reversed(_residual_backward)),
)
