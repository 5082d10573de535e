"""Judging a network's backward pass layer by layer: shared by the MLP and the residual MLP.

A backward pass returns ``(dWs, dbs, dAs)``, three lists input side first. Its
feedback is a per-layer table and one sentence naming the layer where the error
enters: the wrong layer nearest the output, since the gradient flows from there.
"""

from __future__ import annotations

import numpy as np

from grader.checks import status
from grader.checks.common import fail
from grader.checks.compare import compare, compare_many, fmt, fmt_pair, norm
from grader.checks.model import Case, LayerRow
from grader.checks.schema import Arr, ArrList, Ignored, Mismatch, Seq, conform
from grader.course import Tolerance

GRAD_NAMES = ("dWs", "dbs", "dAs")


def value_message(function: str, name: str, diff, case: Case) -> str:
    """'function: name is wrong at index ...: expected X, got Y', without values when hidden."""
    if case.hidden:
        return (f"{function}: {name} is wrong on a hidden input (error relative to its "
                f"scale: {fmt(diff.rel_error)})")
    at = f" at index {diff.index}" if diff.index else ""
    return (f"{function}: {name} is wrong{at}: expected {fmt_pair(diff.expected, diff.got)} "
            f"(error relative to its scale: {fmt(diff.rel_error)})")


def conform_grads(case: Case, value, ref, function: str) -> tuple:
    """The student's (dWs, dbs, dAs) shaped like ``ref``, or Failed naming the layer."""
    schema = Seq("the return value", tuple(ArrList(n, tuple(a.shape for a in r))
                                           for n, r in zip(GRAD_NAMES, ref)))
    try:
        return conform(schema, value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"{function} returned: " + with_layer(exc.message),
                   shape_hint(exc.message, value, ref)) from None


def with_layer(message: str) -> str:
    """'dWs[2] has shape ...' -> 'dWs[2] (layer 3) has shape ...'."""
    head, _, rest = message.partition("]")
    if "[" in head and head.split("[", 1)[1].isdigit():
        index = int(head.split("[", 1)[1])
        return f"{head}] (layer {index + 1}){rest}"
    return message


def shape_hint(message: str, value, ref) -> str:
    try:
        shapes = [[np.shape(a) for a in part] for part in value]
    except TypeError:
        shapes = None
    if shapes and all(s == [a.shape for a in r][::-1] for s, r in zip(shapes, ref)):
        return ("the lists are in reverse order: index 0 must be layer 1 (the input side)")
    if message.startswith("dWs"):
        return "dW_l = A_{l-1}.T @ dZ_l has W_l's shape (fan_in, fan_out)"
    if message.startswith("dbs"):
        return "db_l = dZ_l.sum(axis=0) has b_l's shape (fan_out,)"
    if message.startswith("dAs"):
        return "dAs[i] = dZ @ W.T is the gradient of layer i+1's input, shape (N, fan_in)"
    return "return a tuple (dWs, dbs, dAs) of three lists with one array per layer"


def layer_match(student, ref, tol: Tolerance) -> tuple[np.ndarray, np.ndarray]:
    """(match, rel_error) per layer, dW, db and dA together: all 3L comparisons in one pass."""
    L = len(ref[0])
    ok, rel = compare_many([part[l] for l in range(L) for part in student],
                           [part[l] for l in range(L) for part in ref], tol)
    return ok.reshape(L, 3).all(axis=1), rel.reshape(L, 3).max(axis=1)


def layer_rows(student, ref, tol: Tolerance, hidden: bool,
               match: tuple[np.ndarray, np.ndarray] | None = None) -> list[LayerRow]:
    """The per-layer table; ``match`` is ``layer_match``'s answer when the caller has it
    (a backward pass that matches needs no table, so callers ask for that first)."""
    ok, rel = match if match is not None else layer_match(student, ref, tol)
    return [LayerRow(layer=l + 1,
                     ref_norm=float("nan") if hidden else norm(ref[0][l]),
                     student_norm=norm(student[0][l]),
                     rel_error=float(rel[l]), match=bool(ok[l]))
            for l in range(len(ref[0]))]


def entry_layer(rows) -> int:
    """The wrong layer nearest the output (1-based)."""
    return max(r.layer for r in rows if not r.match)


def entry_message(rows, student, ref, tol) -> str:
    L = len(rows)
    entry = entry_layer(rows)
    wrong = [f"{name}[{entry - 1}]" for name, s, r in zip(GRAD_NAMES, student, ref)
             if not compare(s[entry - 1], r[entry - 1], tol).ok]
    text = (f"the error enters the backward pass at layer {entry} of {L} "
            f"({', '.join(wrong)} off by {fmt(rows[entry - 1].rel_error)} relative to its "
            f"scale)")
    if entry < L:
        span = f"layer {L} (output side) still matches" if entry == L - 1 else \
            f"layers {entry + 1}-{L} (output side) still match"
        text += f"; {span}"
    else:
        text += "; even the output layer differs"
    matching_below = [r.layer for r in rows if r.layer < entry and r.match]
    if len(matching_below) == 1:
        text += f"; layer {matching_below[0]} matches again"
    elif matching_below:
        text += f"; layers {', '.join(map(str, matching_below))} match again"
    return text


def blame_forward(case: Case, forward_value, shape: tuple, expected: np.ndarray,
                  tol: Tolerance, forward: str, backward: str, module: str) -> None:
    """Fail with a pointer to the forward function when its output is already wrong.

    A backward function works from the cache its forward function made, so a wrong
    forward pass can make a correct backward pass look wrong; say so instead of
    naming a layer.
    """
    try:
        y_hat, _ = conform(Seq("the return value", (Arr("Y_hat", shape), Ignored("cache"))),
                           forward_value)
    except Mismatch:
        y_hat = None
    if y_hat is None or not compare(y_hat, expected, tol).ok:
        raise fail(case, status.WRONG,
                   f"the gradients differ, but {forward} already returns a wrong Y_hat on "
                   f"this case and {backward} works from its cache",
                   f"fix {forward} first (see {module}.{forward}), then check again")
