"""Exercise 4: the manual backward pass, judged layer by layer.

Backward functions take the cache their own forward function made, so each
case runs forward then backward in the child; only the gradients come back.
The activation handed to the MLP is the grader's own (see sandbox/child.py),
so a mistake in exercise 1 cannot cost marks here.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from grader.checks import status
from grader.checks.common import (HIDDEN_MAX_BATCH, HIDDEN_MAX_DEPTH, HIDDEN_MAX_SIDE,
                                  HIDDEN_MAX_WIDTH, check_inputs_kept, completed_calls, conformed,
                                  fail, judging, passed, pick, reference)
from grader.checks.compare import close, compare, within
from grader.checks.layerwise import (blame_forward, conform_grads, entry_layer, entry_message,
                                     layer_match, layer_rows, value_message)
from grader.checks.mistakes import MLP_MISTAKES, matching_mistake
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import Arr, Ignored, Mismatch, Num, Seq, conform
from grader.course import Tolerance
from grader.engine import layers
from grader.engine.activations import ACTIVATIONS, quiet_pass
from grader.sandbox.run import Call, TaskOutcome
from grader.sandbox.wire import Provided, Ref

TOLERANCE = Tolerance(rtol=0.0, atol_scale=1e-8)
LOSS_TOLERANCE = Tolerance(rtol=1e-10, atol_scale=1e-12)
HIDDEN_ACTS = ("relu", "tanh", "sigmoid", "linear")
LOOSE = Tolerance(rtol=1e-6, atol_scale=1e-6)


# --- mse_loss -------------------------------------------------------------------------

def _mse_cases_public() -> list[Case]:
    rng = np.random.default_rng(4001)
    shapes = [("a (4, 3) batch", (4, 3)), ("a single entry (1, 1)", (1, 1)),
              ("a 1-D array of 7", (7,)), ("a 3-D array (2, 3, 4)", (2, 3, 4)),
              ("a (32, 5) batch", (32, 5))]
    cases = [_mse_case(label, rng.normal(size=s), rng.normal(size=s), False)
             for label, s in shapes]
    pred = rng.normal(size=(3, 2))
    cases.append(_mse_case("predictions within 1e-6 of the targets", pred,
                           pred + rng.normal(0, 1e-6, (3, 2)), False))
    return cases


def _mse_cases_hidden(rng: np.random.Generator, n: int) -> list[Case]:
    cases = []
    for i in range(n):
        shape = tuple(int(d) for d in rng.integers(1, HIDDEN_MAX_SIDE + 1,
                                                   size=int(rng.integers(1, 4))))
        scale = 10.0 ** rng.uniform(-3, 3)
        cases.append(_mse_case(f"hidden case {i + 1}", rng.normal(0, scale, shape),
                               rng.normal(0, scale, shape), True))
    return cases


def _mse_case(label, pred, target, hidden) -> Case:
    return Case(label, (Call("mse_loss", (pred, target)),), {"pred": pred, "target": target},
                hidden)


HALF_HINT = ("this is the 1/2 (pred - target)^2 convention, whose derivative has no 2; the "
             "course's loss is PyTorch's MSELoss: loss = mean((pred - target)^2) and dpred = "
             "2 (pred - target) / pred.size")

MSE_MISTAKES = (
    ("the loss is the mean over all elements (PyTorch MSELoss), not the sum",
     lambda p, t: (float(np.sum((p - t) ** 2)), 2 * (p - t))),
    ("the derivative of (pred - target)^2 is 2 (pred - target): the factor 2 is missing",
     lambda p, t: (float(np.mean((p - t) ** 2)), (p - t) / p.size)),
    ("divide by pred.size (every element), not by the number of rows",
     lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (p - t) / p.shape[0])),
    ("dpred has the wrong sign: it is 2 (pred - target) / pred.size",
     lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (t - p) / p.size)),
    (HALF_HINT, lambda p, t: (float(0.5 * np.sum((p - t) ** 2)), p - t)),
    (HALF_HINT, lambda p, t: (float(0.5 * np.mean((p - t) ** 2)), (p - t) / p.size)),
    (HALF_HINT, lambda p, t: (float(0.5 * np.mean((p - t) ** 2)), 2 * (p - t) / p.size)),
)


@judging
def _judge_mse(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    pred, target = case.data["pred"], case.data["target"]
    (call,) = completed_calls(case, outcome)
    loss, dpred = conformed(case, Seq("the return value", (Num("loss"), Arr("dpred", pred.shape))),
                            call.value, "mse_loss")
    check_inputs_kept(case, (call,))
    ref_loss, ref_dpred = layers.mse_loss(pred, target)
    for name, got, want in (("loss", loss, ref_loss), ("dpred", dpred, ref_dpred)):
        got = np.float64(got) if name == "loss" else got
        if not within(got, want, tol):
            diff = compare(got, want, tol)
            hint = next((h for h, model in MSE_MISTAKES
                         if _close_pair(model(pred, target), (loss, dpred))), "")
            raise fail(case, status.WRONG, value_message("mse_loss", name, diff, case), hint)
    return passed(case)


def _close_pair(model, student) -> bool:
    return all(close(np.float64(s), np.float64(m), LOOSE) if np.ndim(m) == 0 else
               close(s, m, LOOSE) for s, m in zip(student, model))


# --- linear_forward / linear_backward -------------------------------------------------

LINEAR_SHAPES = [("a (4, 3) -> (4, 5) layer", 4, 3, 5), ("a single sample, 1 -> 1", 1, 1, 1),
                 ("a batch of 32, 64 -> 7", 32, 64, 7), ("a square 6 -> 6 layer", 3, 6, 6)]


def _linear_data(rng, N, fan_in, fan_out) -> dict:
    return {"x": rng.normal(size=(N, fan_in)),
            "W": rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out)),
            "b": rng.normal(0, 0.5, fan_out), "dout": rng.normal(size=(N, fan_out))}


def _linear_cases(backward: bool) -> Callable:
    def case(label, data, hidden) -> Case:
        forward = Call("linear_forward", (data["x"], data["W"], data["b"]),
                       drop=(0, 1) if backward else (1,))
        calls = (forward,)
        if backward:
            calls += (Call("linear_backward", (data["dout"], Ref(0, (1,)))),)
        return Case(label, calls, data, hidden)

    def public() -> list[Case]:
        rng = np.random.default_rng(4002)
        return [case(label, _linear_data(rng, N, i, o), False) for label, N, i, o in LINEAR_SHAPES]

    def hidden(rng: np.random.Generator, n: int) -> list[Case]:
        return [case(f"hidden case {k + 1}", _linear_data(rng, *(int(v) for v in (
            rng.integers(1, HIDDEN_MAX_BATCH + 1), rng.integers(1, HIDDEN_MAX_WIDTH + 1),
            rng.integers(1, HIDDEN_MAX_WIDTH + 1)))), True)
            for k in range(n)]

    return public, hidden


@judging
def _judge_linear_forward(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    x, W, b = case.data["x"], case.data["W"], case.data["b"]
    (call,) = completed_calls(case, outcome)
    out, _ = conformed(case, Seq("the return value", (Arr("out", (x.shape[0], W.shape[1])),
                                                      Ignored("cache"))), call.value,
                       "linear_forward")
    check_inputs_kept(case, (call,))
    expected = layers.linear_forward(x, W, b)[0]
    if not within(out, expected, tol):
        diff = compare(out, expected, tol)
        hint = "add the bias: out = x @ W + b" if close(out, x @ W, LOOSE) else ""
        raise fail(case, status.WRONG, value_message("linear_forward", "out", diff, case), hint)
    return passed(case)


@judging
def _judge_linear_backward(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    x, W, dout = case.data["x"], case.data["W"], case.data["dout"]
    calls = completed_calls(case, outcome)
    schema = Seq("the return value", (Arr("dx", x.shape), Arr("dW", W.shape),
                                      Arr("db", (W.shape[1],))))
    try:
        dx, dW, db = conform(schema, calls[1].value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"linear_backward returned: {exc.message}",
                   _linear_shape_hint(exc.message)) from None
    check_inputs_kept(case, calls)
    ref = layers.linear_backward(dout, layers.linear_forward(x, W, case.data["b"])[1])
    N = x.shape[0]
    hints = {"db": ("sum the bias gradient over the batch: db = dout.sum(axis=0)",
                    ref[2] / N),
             "dW": ("dW = x.T @ dout, with no division by the batch size", ref[1] / N)}
    for name, got, want in zip(("dx", "dW", "db"), (dx, dW, db), ref):
        if not within(got, want, tol):
            diff = compare(got, want, tol)
            hint, model = hints.get(name, ("", None))
            hint = hint if model is not None and close(got, model, LOOSE) else ""
            raise fail(case, status.WRONG, value_message("linear_backward", name, diff, case),
                       hint)
    return passed(case)


def _linear_shape_hint(message: str) -> str:
    if message.startswith("dW"):
        return "dW = x.T @ dout has W's shape (fan_in, fan_out)"
    if message.startswith("dx"):
        return "dx = dout @ W.T has x's shape (N, fan_in)"
    if message.startswith("db"):
        return "db = dout.sum(axis=0) has b's shape (fan_out,)"
    return "return the three gradients as a tuple (dx, dW, db)"


# --- mlp_forward / mlp_backward --------------------------------------------------------

def _mlp_data(rng, dims, N, act, scale, dY_scale=1.0) -> dict:
    Ws = [rng.normal(0, scale / np.sqrt(i), (i, o)) for i, o in zip(dims[:-1], dims[1:])]
    bs = [rng.normal(0, 0.1, o) for o in dims[1:]]
    return {"X": rng.normal(size=(N, dims[0])), "Ws": Ws, "bs": bs, "act": act,
            "dY": rng.normal(0, dY_scale, (N, dims[-1]))}


def _mlp_public_data() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(4003)
    kink = _mlp_data(rng, [3, 4, 2], 3, "relu", 1.0)
    kink["X"] = np.zeros((3, 3))
    kink["bs"] = [np.array([0.0, 0.5, 0.0, -0.5]), np.zeros(2)]
    return [
        ("2 layers, tanh, batch 4", _mlp_data(rng, [3, 5, 2], 4, "tanh", 1.0)),
        ("depth 1 (a single linear layer)", _mlp_data(rng, [4, 3], 2, "relu", 1.0)),
        ("3 layers, sigmoid, widths 64 -> 17 -> 1 -> 9, batch 32",
         _mlp_data(rng, [64, 17, 1, 9], 32, "sigmoid", 1.5)),
        ("width 1 everywhere, batch 1, ReLU", _mlp_data(rng, [1, 1, 1, 1], 1, "relu", 1.0)),
        ("ReLU with pre-activations exactly 0 (the kink)", kink),
        ("30 sigmoid layers with small weights: gradients vanish below 1e-25",
         _mlp_data(rng, [8] * 31, 4, "sigmoid", 0.5)),
        ("30 ReLU layers with large weights: gradients explode above 1e+25",
         _mlp_data(rng, [8] * 31, 4, "relu", 12.0)),
        ("5 tanh layers, widths 6 (square weights)", _mlp_data(rng, [6] * 6, 5, "tanh", 1.2)),
    ]


def _mlp_hidden_data(rng: np.random.Generator, n: int) -> list[tuple[str, dict]]:
    out = []
    for k in range(n):
        depth = int(rng.integers(1, HIDDEN_MAX_DEPTH + 1))
        dims = [int(d) for d in rng.integers(1, HIDDEN_MAX_WIDTH + 1, size=depth + 1)]
        act = pick(rng, HIDDEN_ACTS)
        batch = int(rng.integers(1, HIDDEN_MAX_BATCH + 1))
        out.append((f"hidden case {k + 1}", _mlp_data(rng, dims, batch, act,
                                                     float(10 ** rng.uniform(-0.3, 0.4)))))
    return out


def _mlp_cases(backward: bool) -> tuple[Callable, Callable]:
    def case(label, data, hidden) -> Case:
        forward = Call("mlp_forward", (data["X"], data["Ws"], data["bs"], Provided(data["act"])),
                       drop=(1,))
        calls = (forward,)
        if backward:
            calls += (Call("mlp_backward", (data["dY"], Ref(0, (1,)),
                                            Provided(data["act"] + "_grad"))),)
        return Case(label, calls, data, hidden)

    def public() -> list[Case]:
        return [case(label, data, False) for label, data in _mlp_public_data()]

    def hidden(rng: np.random.Generator, n: int) -> list[Case]:
        return [case(label, data, True) for label, data in _mlp_hidden_data(rng, n)]

    return public, hidden


def _forward_variant(data, *, output_act=False, no_act=False, no_bias=False):
    act = ACTIVATIONS[data["act"]].fn
    A = data["X"]
    for l, (W, b) in enumerate(zip(data["Ws"], data["bs"])):
        Z = A @ W + (0 if no_bias else b)
        last = l == len(data["Ws"]) - 1
        A = Z if no_act or (last and not output_act) else act(Z)
    return A


FORWARD_MISTAKES = (
    ("the output layer is linear: Y_hat = Z_L, with no activation after the last layer",
     dict(output_act=True)),
    ("apply the activation after every hidden layer: A_l = act(Z_l)", dict(no_act=True)),
    ("add each layer's bias: Z_l = A_{l-1} @ W_l + b_l", dict(no_bias=True)),
)


@judging
def _judge_mlp_forward(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    data = case.data
    (call,) = completed_calls(case, outcome)
    shape = (data["X"].shape[0], data["Ws"][-1].shape[1])
    y_hat, _ = conformed(case, Seq("the return value", (Arr("Y_hat", shape), Ignored("cache"))),
                         call.value, "mlp_forward")
    check_inputs_kept(case, (call,))
    expected = _reference_forward(case)[0]
    if not within(y_hat, expected, tol):
        diff = compare(y_hat, expected, tol)
        hint = next((h for h, flags in FORWARD_MISTAKES
                     if close(y_hat, _forward_variant(data, **flags), LOOSE)), "")
        raise fail(case, status.WRONG, value_message("mlp_forward", "Y_hat", diff, case), hint)
    return passed(case)


def _reference_forward(case: Case):
    data = case.data
    return reference(case, "mlp_forward", lambda: quiet_pass(
        layers.mlp_forward, data["X"], data["Ws"], data["bs"], act=ACTIVATIONS[data["act"]]))


def _reference_backward(case: Case):
    _, cache = _reference_forward(case)
    return reference(case, "mlp_backward", lambda: quiet_pass(
        layers.mlp_backward, case.data["dY"], cache, act=ACTIVATIONS[case.data["act"]],
        derivative=True))


@judging
def _judge_mlp_backward(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    data = case.data
    calls = completed_calls(case, outcome)
    ref = _reference_backward(case)
    student = conform_grads(case, calls[1].value, ref, "mlp_backward")
    check_inputs_kept(case, calls)
    match = layer_match(student, ref, tol)
    if match[0].all():
        return passed(case)
    rows = layer_rows(student, ref, tol, case.hidden, match)
    blame_forward(case, calls[0].value, (data["X"].shape[0], data["Ws"][-1].shape[1]),
                  _reference_forward(case)[0], tol, "mlp_forward", "mlp_backward", "backward")
    args = (data["X"], data["Ws"], data["bs"], data["act"], data["dY"])
    mistake = matching_mistake(MLP_MISTAKES, args, student, lambda a, b: close(a, b, LOOSE))
    message = entry_message(rows, student, ref, tol)
    hint = mistake.hint if mistake else _position_hint(rows)
    return CaseResult(case.label, status.WRONG, message, hint, case.hidden, tuple(rows))


def _position_hint(rows) -> str:
    L = len(rows)
    entry = entry_layer(rows)
    if entry == L:
        return ("start from the output layer: dZ_L = dY_hat (it is linear), dW_L = A_{L-1}.T @ "
                "dZ_L, db_L = dZ_L.sum(axis=0), dA_{L-1} = dZ_L @ W_L.T")
    return (f"layer {entry} is the first hidden layer the gradient reaches through an "
            f"activation: check dZ_{entry} = dA_{entry} * act_grad(Z_{entry}) and what you "
            f"pass on to layer {entry - 1}" if entry > 1 else
            "check the input layer: dW_1 = X.T @ dZ_1 and dAs[0] = dZ_1 @ W_1.T")


FUNCTIONS = ("mse_loss", "linear_forward", "linear_backward", "mlp_forward", "mlp_backward")


def _make_checks() -> dict[str, CheckDef]:
    mse = CheckDef("mse_loss", _mse_cases_public, _mse_cases_hidden, _judge_mse, LOSS_TOLERANCE,
                   "mean squared error and its gradient")
    lf_pub, lf_hid = _linear_cases(False)
    lb_pub, lb_hid = _linear_cases(True)
    mf_pub, mf_hid = _mlp_cases(False)
    mb_pub, mb_hid = _mlp_cases(True)
    return {
        "mse_loss": mse,
        "linear_forward": CheckDef("linear_forward", lf_pub, lf_hid, _judge_linear_forward,
                                   TOLERANCE, "a fully connected layer, forward"),
        "linear_backward": CheckDef("linear_backward", lb_pub, lb_hid, _judge_linear_backward,
                                    TOLERANCE, "a fully connected layer, backward"),
        "mlp_forward": CheckDef("mlp_forward", mf_pub, mf_hid, _judge_mlp_forward, TOLERANCE,
                                "the MLP forward pass"),
        "mlp_backward": CheckDef("mlp_backward", mb_pub, mb_hid, _judge_mlp_backward, TOLERANCE,
                                 "the MLP backward pass, layer by layer"),
    }


CHECKS = _make_checks()
