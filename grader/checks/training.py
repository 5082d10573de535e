"""Exercise 7: SGD with clipping, judged by its history, step by step and layer by layer.

The history is compared with the engine's run on the same inputs: the loss before each
step, and each layer's weight-gradient norm before clipping, entry by entry to
TOLERANCE (1e-7 of each entry). A correct loop written differently (the joint norm
computed another way, the clip applied to lr instead of the gradients) differs by
rounding that a few steps of SGD carry forward; the cases keep every run smooth and
bounded, so that stays far below 1e-7. The feedback names the first step where the
history differs and, for the norms, the layer, with the table of all layers at that
step; models of the usual mistakes (norms recorded after clipping, each layer clipped
on its own, biases left out of the clip, the loss taken after the step, lr applied
twice, the clip ignored) name the mistake.

The activation and its derivative are the grader's own (sandbox/child.py), so only the
loop itself is graded here. Every case also checks that the given weights and biases
are left as they were.
"""

from __future__ import annotations

import numpy as np

from grader.checks import status
from grader.checks.common import (check_inputs_kept, completed_calls, fail, judging, passed,
                                  pick, reference)
from grader.checks.compare import fmt, fmt_pair, mismatches
from grader.checks.model import Case, CaseResult, CheckDef, LayerRow
from grader.checks.schema import Arr, Keys, Mismatch, conform
from grader.course import Tolerance
from grader.engine import clipping, layers
from grader.engine.activations import ACTIVATIONS, bare
from grader.engine.diagnostics import layer_norms
from grader.engine.training import sgd_train
from grader.sandbox.run import Call, TaskOutcome
from grader.sandbox.wire import Provided

TOLERANCE = Tolerance(rtol=1e-7, atol_scale=1e-12)
LOOSE = Tolerance(rtol=1e-5, atol_scale=1e-9)
HIDDEN_ACTS = ("relu", "tanh", "sigmoid", "linear")
# A hidden run whose loss climbs past this is redrawn: a run that diverges is chaotic,
# and rounding alone could then tell two correct loops apart.
MAX_LOSS = 1e6

COPY_HINT = ("train on copies: Ws = [np.array(W, copy=True) for W in weights] (and the "
             "same for biases); W -= lr * dW on a given array changes the caller's")


# --- cases ------------------------------------------------------------------------------

def _train_data(rng, dims, N, act, scale, lr, steps, max_norm) -> dict:
    Ws = [rng.normal(0, scale / np.sqrt(i), (i, o)) for i, o in zip(dims[:-1], dims[1:])]
    bs = [rng.normal(0, 0.1, o) for o in dims[1:]]
    return {"X": rng.normal(size=(N, dims[0])), "Y": rng.normal(size=(N, dims[-1])),
            "Ws": Ws, "bs": bs, "act": act, "lr": lr, "steps": steps, "max_norm": max_norm}


def _public_data() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(7001)
    return [
        ("2 layers, tanh, widths 3 -> 6 -> 2, batch 8, lr 0.1, 5 steps, no clipping",
         _train_data(rng, [3, 6, 2], 8, "tanh", 1.0, 0.1, 5, None)),
        ("max_norm = 0.01: the clip acts at every step (tanh, 3 layers, 6 steps)",
         _train_data(rng, [4, 5, 5, 2], 6, "tanh", 1.0, 0.5, 6, 0.01)),
        ("max_norm = 1e6: the clip never acts (ReLU, 3 layers, 6 steps)",
         _train_data(rng, [4, 5, 5, 2], 6, "relu", 1.0, 0.05, 6, 1e6)),
        ("a single step (sigmoid, widths 2 -> 3 -> 1, batch 4)",
         _train_data(rng, [2, 3, 1], 4, "sigmoid", 1.0, 0.2, 1, None)),
        ("10 sigmoid layers of width 4: the input-side grad norms vanish (8 steps)",
         _train_data(rng, [4] * 10 + [1], 16, "sigmoid", 1.0, 0.5, 8, None)),
        ("ReLU with weights 3 times too large, lr 0.05, max_norm = 1: the clip keeps the run "
         "finite", _train_data(rng, [4, 16, 16, 16, 1], 16, "relu", 3.0, 0.05, 12, 1.0)),
        ("max_norm = 0.5 on a run whose gradients shrink: the clip acts early, then not "
         "(tanh, 12 steps)", _train_data(rng, [3, 8, 2], 10, "tanh", 1.5, 0.3, 12, 0.5)),
        ("a linear network, one layer, batch 1, 3 steps",
         _train_data(rng, [3, 2], 1, "linear", 1.0, 0.1, 3, None)),
    ]


def _hidden_data(rng: np.random.Generator, n: int) -> list[tuple[str, dict]]:
    out = []
    while len(out) < n:
        depth = int(rng.integers(1, 6))
        dims = [int(d) for d in rng.integers(1, 9, size=depth + 1)]
        act = pick(rng, HIDDEN_ACTS)
        data = _train_data(rng, dims, int(rng.integers(1, 17)), act,
                           float(10 ** rng.uniform(-0.3, 0.3)), float(rng.uniform(0.01, 0.3)),
                           int(rng.integers(1, 21)), None)
        kind = int(rng.integers(3))
        if kind:
            start = _initial_norm(data)
            data["max_norm"] = float(start * rng.uniform(0.05, 0.5)) if kind == 1 \
                else float(start * 1e3 + 1.0)
        history = _run(data)
        if np.all(np.isfinite(history["loss"])) and np.all(np.isfinite(history["grad_norms"])) \
                and history["loss"].max() < MAX_LOSS:
            out.append((f"hidden case {len(out) + 1}", data))
    return out


def _initial_norm(data: dict) -> float:
    act = ACTIVATIONS[data["act"]]
    y_hat, cache = layers.mlp_forward(data["X"], data["Ws"], data["bs"], act.fn)
    dWs, dbs, _ = layers.mlp_backward(layers.mse_loss(y_hat, data["Y"])[1], cache, act.grad)
    return clipping.global_norm(dWs + dbs)


def _run(data: dict) -> dict:
    act = ACTIVATIONS[data["act"]]
    # sgd_train runs under np.errstate(under="ignore") already, as bare activations need:
    # the same values without two error-state switches per layer per step.
    return sgd_train(data["X"], data["Y"], data["Ws"], data["bs"], bare(act.fn),
                     bare(act.grad), data["lr"], data["steps"], data["max_norm"])


def _cases_public() -> list[Case]:
    return [_case(label, data, False) for label, data in _public_data()]


def _cases_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    return [_case(label, data, True) for label, data in _hidden_data(rng, n)]


def _case(label, data, hidden) -> Case:
    kwargs = {} if data["max_norm"] is None else {"max_norm": data["max_norm"]}
    call = Call("sgd_train", (data["X"], data["Y"], data["Ws"], data["bs"],
                              Provided(data["act"]), Provided(data["act"] + "_grad"),
                              data["lr"], data["steps"]), kwargs)
    return Case(label, (call,), data, hidden)


def _reference(case: Case) -> dict:
    return reference(case, "sgd_train", lambda: _run(case.data))


# --- mistake models ---------------------------------------------------------------------

def train_variant(data: dict, *, norms_after_clip=False, clip_each=None,
                  clip_weights_only=False, total_of_weights=False, loss_after_step=False,
                  lr_factor=None, ignore_clip=False, no_bias_update=False,
                  norms_with_bias=False, squared_norms=False) -> dict:
    """The history of the loop as a student with one misconception writes it."""
    act = ACTIVATIONS[data["act"]]
    Ws = [np.array(W, dtype=np.float64) for W in data["Ws"]]
    bs = [np.array(b, dtype=np.float64) for b in data["bs"]]
    L, max_norm = len(Ws), None if ignore_clip else data["max_norm"]
    step = data["lr"] if lr_factor is None else lr_factor(data["lr"])
    losses, norms = [], []
    with np.errstate(all="ignore"):
        for _ in range(data["steps"]):
            y_hat, cache = layers.mlp_forward(data["X"], Ws, bs, act.fn)
            loss, dY = layers.mse_loss(y_hat, data["Y"])
            raw_dWs, raw_dbs, _ = layers.mlp_backward(dY, cache, act.grad)
            dWs, dbs = raw_dWs, raw_dbs
            if max_norm is not None:
                dWs, dbs = _clip_variant(dWs, dbs, max_norm, clip_each, clip_weights_only,
                                         total_of_weights)
            recorded = (dWs, dbs) if norms_after_clip else (raw_dWs, raw_dbs)
            if norms_with_bias:
                norms.append([clipping.global_norm([dW, db]) for dW, db in zip(*recorded)])
            else:
                row = layer_norms(recorded[0])
                norms.append(row * row if squared_norms else row)
            for l in range(L):
                Ws[l] = Ws[l] - step * dWs[l]
                if not no_bias_update:
                    bs[l] = bs[l] - step * dbs[l]
            if loss_after_step:
                loss = layers.mse_loss(layers.mlp_forward(data["X"], Ws, bs, act.fn)[0],
                                       data["Y"])[0]
            losses.append(loss)
    return {"loss": np.array(losses, dtype=np.float64),
            "grad_norms": np.array(norms, dtype=np.float64).reshape(data["steps"], L)}


def _clip_variant(dWs, dbs, max_norm, clip_each, weights_only, total_of_weights):
    if clip_each == "layer":
        pairs = [clipping.clip_grad_norm([dW, db], max_norm)[0] for dW, db in zip(dWs, dbs)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if clip_each == "array":
        return tuple([clipping.clip_grad_norm([g], max_norm)[0][0] for g in part]
                     for part in (dWs, dbs))
    if weights_only:
        total = clipping.global_norm(dWs if total_of_weights else dWs + dbs)
        coef = min(max_norm / (total + 1e-6), 1.0)
        return [dW * coef for dW in dWs], dbs
    clipped, _ = clipping.clip_grad_norm(dWs + dbs, max_norm)
    return clipped[:len(dWs)], clipped[len(dWs):]


TRAIN_MISTAKES: tuple[tuple[str, dict], ...] = (
    ("record grad_norms before clipping: they show what the backward pass produced, the "
     "clip only limits the step", dict(norms_after_clip=True)),
    ("clip all gradients together: one factor min(1, max_norm / (total_norm + 1e-6)) from "
     "the joint norm of dWs + dbs, not one per layer", dict(clip_each="layer")),
    ("clip all gradients together: one factor min(1, max_norm / (total_norm + 1e-6)) from "
     "the joint norm of dWs + dbs, not one per array", dict(clip_each="array")),
    ("clip the biases' gradients too: clip_grad_norm(dWs + dbs, max_norm) scales all of "
     "them by one factor from their joint norm", dict(clip_weights_only=True)),
    ("clip the biases' gradients too: clip_grad_norm(dWs + dbs, max_norm) scales all of "
     "them by one factor from their joint norm",
     dict(clip_weights_only=True, total_of_weights=True)),
    ("record the loss before the step: history['loss'][t] is the loss the gradients of "
     "step t were computed from", dict(loss_after_step=True)),
    ("apply lr once: W -= lr * dW (here the step is lr * lr * dW)",
     dict(lr_factor=lambda lr: lr * lr)),
    ("apply lr once: W -= lr * dW (here the step is 2 * lr * dW)",
     dict(lr_factor=lambda lr: 2.0 * lr)),
    ("clip when max_norm is given: clip_grad_norm(dWs + dbs, max_norm) between the backward "
     "pass and the step", dict(ignore_clip=True)),
    ("update the biases too: b_l -= lr * db_l", dict(no_bias_update=True)),
    ("grad_norms[t, l] is the norm of the weight gradient dW alone, not of dW and db",
     dict(norms_with_bias=True)),
    ("grad_norms holds norms, not squared norms: take the square root",
     dict(squared_norms=True)),
)


# --- judging ----------------------------------------------------------------------------

def _schema(data: dict) -> Keys:
    steps, L = data["steps"], len(data["Ws"])
    return Keys("the history", (("loss", Arr("history['loss']", (steps,))),
                                ("grad_norms", Arr("history['grad_norms']", (steps, L)))))


@judging
def _judge(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    d = case.data
    (call,) = completed_calls(case, outcome)
    try:
        history = conform(_schema(d), call.value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"sgd_train returned: {exc.message}",
                   _schema_hint(exc, d)) from None
    check_inputs_kept(case, (call,), COPY_HINT)
    ref = _reference(case)
    steps, L = d["steps"], len(d["Ws"])
    loss_ok = ~mismatches(history["loss"], ref["loss"], tol)
    norms_ok = ~mismatches(history["grad_norms"], ref["grad_norms"], tol)
    if loss_ok.all() and norms_ok.all():
        return passed(case)
    first_loss = int(np.argmin(loss_ok)) if not loss_ok.all() else steps
    bad_norm_steps = np.flatnonzero(~norms_ok.all(axis=1))
    first_norm = int(bad_norm_steps[0]) if bad_norm_steps.size else steps
    hint = _mistake_hint(d, history, ref)
    if first_loss <= first_norm:
        message = _loss_message(case, first_loss, history["loss"], ref["loss"])
        return CaseResult(case.label, status.WRONG, message,
                          hint or _loss_hint(first_loss, d), case.hidden)
    t = first_norm
    message = _norm_message(case, t, norms_ok[t], history["grad_norms"], ref["grad_norms"])
    got, want = history["grad_norms"][t], ref["grad_norms"][t]
    rows = tuple(LayerRow(layer=l + 1, ref_norm=float("nan") if case.hidden else float(want[l]),
                          student_norm=float(got[l]), rel_error=_rel(got[l], want[l]),
                          match=bool(norms_ok[t, l]))
                 for l in range(L))
    return CaseResult(case.label, status.WRONG, message,
                      hint or _norm_hint(t, d), case.hidden, rows)


def _schema_hint(exc: Mismatch, data: dict) -> str:
    if exc.status == status.NON_FINITE:
        if data["max_norm"] is not None:
            return ("the run diverged: clip dWs + dbs together to max_norm (clip_grad_norm) "
                    "between the backward pass and each step")
        return "the run diverged: check the update W -= lr * dW (its sign, and lr once)"
    if exc.message.startswith("the history"):
        return 'return a dict: {"loss": losses, "grad_norms": grad_norms}'
    if exc.status == status.BAD_TYPE:
        return "store each history as one float64 array: np.array(values, dtype=np.float64)"
    if exc.status != status.WRONG_SHAPE:
        return ""
    if "grad_norms" in exc.message:
        return "grad_norms has one row per step and one column per layer: shape (steps, L)"
    return "loss has one entry per step: shape (steps,)"


def _mistake_hint(data: dict, history: dict, ref: dict) -> str:
    for text, flags in TRAIN_MISTAKES:
        model = train_variant(data, **flags)
        if _history_close(history, model) and not _history_close(ref, model):
            return text
    return ""


def _history_close(a: dict, b: dict) -> bool:
    return all(np.all(np.isfinite(b[key])) and not mismatches(a[key], b[key], LOOSE).any()
               for key in ("loss", "grad_norms"))


def _step(t: int) -> str:
    return "step 1, before any update" if t == 0 else f"step {t + 1}, after {t} " \
        f"update{'s' * (t > 1)}"


def _rel(got: float, want: float) -> float:
    return abs(got - want) / abs(want) if want else (float("inf") if got else 0.0)


def _loss_message(case: Case, t: int, got: np.ndarray, want: np.ndarray) -> str:
    where = f"history['loss'][{t}] ({_step(t)})"
    if case.hidden:
        text = (f"sgd_train: the loss history first differs at {where} on a hidden input "
                f"(relative error {fmt(_rel(got[t], want[t]))})")
    else:
        text = (f"sgd_train: the loss history first differs at {where}: expected "
                f"{fmt_pair(want[t], got[t])}")
    if t:
        steps = "step 1 matches" if t == 1 else f"steps 1-{t} match"
        text += f"; {steps} (loss and grad norms)"
    return text


def _norm_message(case: Case, t: int, ok_row: np.ndarray, got: np.ndarray,
                  want: np.ndarray) -> str:
    L = ok_row.size
    wrong = [l + 1 for l in range(L) if not ok_row[l]]
    entry = wrong[-1]
    where = f"history['grad_norms'][{t}, {entry - 1}] ({_step(t)}, layer {entry} of {L})"
    if case.hidden:
        text = (f"sgd_train: the grad norms first differ at {where} on a hidden input "
                f"(relative error {fmt(_rel(got[t, entry - 1], want[t, entry - 1]))})")
    else:
        text = (f"sgd_train: the grad norms first differ at {where}: expected "
                f"{fmt_pair(want[t, entry - 1], got[t, entry - 1])}")
    others = [l for l in wrong if l != entry]
    if others:
        text += f"; layer{'s' * (len(others) > 1)} {', '.join(map(str, others))} " \
                f"differ{'s' * (len(others) == 1)} too"
    if len(wrong) < L:
        text += f"; layer{'s' * (L - len(wrong) > 1)} " \
                f"{', '.join(str(l + 1) for l in range(L) if ok_row[l])} match"
    return text + ("; the loss at step 1 matches" if t == 0 else
                   f"; the losses up to step {t + 1} match")


def _loss_hint(t: int, data: dict) -> str:
    if t == 0:
        return ("the loss before any update is already off: it is mean((Y_hat - Y)**2) of "
                "the MLP's forward pass (act after every hidden layer, linear output layer)")
    clip = (", after clipping dWs + dbs together (clip_grad_norm(dWs + dbs, max_norm))"
            if data["max_norm"] is not None else "")
    return (f"the loss and grad norms match up to step {t}, so the update after it "
            f"differs: W_l -= lr * dW_l and b_l -= lr * db_l{clip}")


def _norm_hint(t: int, data: dict) -> str:
    text = ("grad_norms[t, l] is the Frobenius norm of layer l+1's weight gradient dW from "
            "that step's backward pass, taken before clipping")
    if t:
        text += f" (the loss at step {t + 1} matches, so the weights there are right)"
    return text


CHECKS = {
    "sgd_train": CheckDef("sgd_train", _cases_public, _cases_hidden, _judge, TOLERANCE,
                          "SGD with clipping, its loss and grad-norm history"),
}
