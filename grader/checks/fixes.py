"""Exercise 6: the remedies, a residual MLP and two normalisations, judged like exercise 4.

Each backward function takes the cache its own forward function made, so a backward
case runs forward then backward in the child and the forward output comes back too:
when it is already wrong, the feedback blames the forward pass, not the gradients.
The residual MLP is judged layer by layer (the table and the entry layer of
``mlp_backward``); its cases mix layers that add their input (square, hidden) with
ones that cannot (the widths differ, or it is the output layer), and hold a 30-layer
sigmoid stack whose gradient would vanish below 1e-25 without the skips.

Layer norm (statistics of each row) and batch norm (of each column) are compared
array by array (out; dx, dgamma, dbeta), each to NORM_TOLERANCE of its own largest
entry. Their cases hold a batch of one row (layer norm) and of two (batch norm),
constant rows and columns whose variance is 0, so only eps keeps them finite, a
spread below eps, eps = 0.5, a single feature and a square batch (where a missing
keepdims broadcasts silently). Hidden groups have 1 or at least 3 entries: with
exactly 2, x_hat is +-1 up to eps and dx is a difference of nearly equal terms
whose rounding depends on how it is written; the public batch of 2 keeps its
spread near 1, where it stays below 1e-11.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from grader.checks import status
from grader.checks.common import (HIDDEN_MAX_BATCH, HIDDEN_MAX_DEPTH, HIDDEN_MAX_WIDTH, Failed,
                                  check_inputs_kept, completed_calls, conformed, fail, judging,
                                  passed, pick, reference, with_hint)
from grader.checks.compare import close, compare
from grader.checks.layerwise import (blame_forward, conform_grads, entry_layer, entry_message,
                                     layer_match, layer_rows, value_message)
from grader.checks.mistakes import (RESIDUAL_MISTAKES, matching_mistake,
                                    residual_forward_variant)
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.schema import Arr, Ignored, Mismatch, Seq, conform
from grader.course import Tolerance
from grader.engine import fixes as engine
from grader.engine.activations import ACTIVATIONS, quiet_pass
from grader.sandbox.run import Call, TaskOutcome
from grader.sandbox.wire import Provided, Ref

RESIDUAL_TOLERANCE = Tolerance(rtol=0.0, atol_scale=1e-8)
NORM_TOLERANCE = Tolerance(rtol=0.0, atol_scale=1e-8)
LOOSE = Tolerance(rtol=1e-6, atol_scale=1e-6)
HIDDEN_ACTS = ("relu", "tanh", "sigmoid", "linear")


# --- residual_forward / residual_backward -----------------------------------------------

def _net(rng, dims, N, act, scale) -> dict:
    Ws = [rng.normal(0, scale / np.sqrt(i), (i, o)) for i, o in zip(dims[:-1], dims[1:])]
    bs = [rng.normal(0, 0.1, o) for o in dims[1:]]
    return {"X": rng.normal(size=(N, dims[0])), "Ws": Ws, "bs": bs, "act": act,
            "dY": rng.normal(size=(N, dims[-1]))}


def _residual_public_data() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(6001)
    kink = _net(rng, [3, 3, 2], 3, "relu", 1.0)
    kink["X"] = np.zeros((3, 3))
    kink["bs"] = [np.array([0.0, 0.5, -0.5]), np.zeros(2)]
    return [
        ("3 layers, tanh, widths 4 -> 4 -> 4 -> 2 (layers 1 and 2 add their input)",
         _net(rng, [4, 4, 4, 2], 5, "tanh", 1.0)),
        ("5 layers, ReLU, widths 3 -> 5 -> 5 -> 2 -> 2 -> 3 (layers 2 and 4 add their input; "
         "1 and 3 change the width)", _net(rng, [3, 5, 5, 2, 2, 3], 4, "relu", 1.0)),
        ("depth 1, a square 3 -> 3 layer (the output layer never adds its input)",
         _net(rng, [3, 3], 2, "relu", 1.0)),
        ("a square output layer, widths 4 -> 4 -> 4, sigmoid (only layer 1 adds its input)",
         _net(rng, [4, 4, 4], 3, "sigmoid", 1.0)),
        ("widths 1 -> 4 -> 4 -> 2, tanh (layer 1 maps 1 -> 4: no skip, though numpy would "
         "broadcast one)", _net(rng, [1, 4, 4, 2], 3, "tanh", 1.0)),
        ("30 sigmoid layers of width 8, small weights: a plain MLP's gradient would vanish "
         "below 1e-25, the skips keep it", _net(rng, [8] * 31, 4, "sigmoid", 0.5)),
        ("6 ReLU layers of width 6, batch 1", _net(rng, [6] * 7, 1, "relu", 1.0)),
        ("width 1 everywhere, linear activation, batch 3", _net(rng, [1, 1, 1, 1], 3,
                                                               "linear", 1.0)),
        ("ReLU with pre-activations exactly 0 (the kink)", kink),
    ]


def _residual_hidden_data(rng: np.random.Generator, n: int) -> list[tuple[str, dict]]:
    out = []
    for k in range(n):
        depth = int(rng.integers(1, HIDDEN_MAX_DEPTH + 1))
        dims = [int(rng.integers(1, HIDDEN_MAX_WIDTH + 1))]
        for _ in range(depth):
            # Most layers keep the width, so most hidden layers add their input.
            dims.append(dims[-1] if rng.random() < 0.6
                        else int(rng.integers(1, HIDDEN_MAX_WIDTH + 1)))
        act = pick(rng, HIDDEN_ACTS)
        batch = int(rng.integers(1, HIDDEN_MAX_BATCH + 1))
        out.append((f"hidden case {k + 1}", _net(rng, dims, batch, act,
                                                 float(10 ** rng.uniform(-0.5, 0.1)))))
    return out


def _residual_cases(backward: bool) -> tuple[Callable, Callable]:
    def case(label, data, hidden) -> Case:
        forward = Call("residual_forward", (data["X"], data["Ws"], data["bs"],
                                            Provided(data["act"])), drop=(1,))
        calls = (forward,)
        if backward:
            calls += (Call("residual_backward", (data["dY"], Ref(0, (1,)),
                                                 Provided(data["act"] + "_grad"))),)
        return Case(label, calls, data, hidden)

    def public() -> list[Case]:
        return [case(label, data, False) for label, data in _residual_public_data()]

    def hidden(rng: np.random.Generator, n: int) -> list[Case]:
        return [case(label, data, True) for label, data in _residual_hidden_data(rng, n)]

    return public, hidden


def _residual_reference_forward(case: Case):
    d = case.data
    return reference(case, "residual_forward", lambda: quiet_pass(
        engine.residual_forward, d["X"], d["Ws"], d["bs"], act=ACTIVATIONS[d["act"]]))


def _residual_reference_backward(case: Case):
    _, cache = _residual_reference_forward(case)
    return reference(case, "residual_backward", lambda: quiet_pass(
        engine.residual_backward, case.data["dY"], cache, act=ACTIVATIONS[case.data["act"]],
        derivative=True))


RESIDUAL_FORWARD_MISTAKES = (
    ("the output layer never adds its input, even when it is square: Y_hat = Z_L",
     dict(skip_at_output=True)),
    ("only a layer whose widths match (fan_in == fan_out) adds its input; where they differ "
     "numpy broadcasts the sum instead of refusing it: test W.shape[0] == W.shape[1]",
     dict(broadcast_skip=True)),
    ("the skip goes around the activation: A_l = A_{l-1} + act(Z_l), not act(A_{l-1} + Z_l)",
     dict(skip_inside=True)),
    ("the branch is activated before the skip is added: A_l = A_{l-1} + act(Z_l)",
     dict(branch_linear=True)),
    ("a hidden layer whose input and output widths match adds its input: "
     "A_l = A_{l-1} + act(Z_l)", dict(no_skip=True)),
    ("the output layer is linear: Y_hat = Z_L, with no activation after the last layer",
     dict(output_act=True)),
)


def _forward_shape(data) -> tuple[int, int]:
    return data["X"].shape[0], data["Ws"][-1].shape[1]


WIDTH_HINT = ("a layer adds its input only when its widths match (W.shape[0] == W.shape[1]) "
              "and it is not the output layer; the others are plain MLP layers")


def _residual_calls(case: Case, outcome: TaskOutcome):
    """The calls' outcomes; a failed sum of two widths gets a hint about which layers add."""
    try:
        return completed_calls(case, outcome)
    except Failed as failed:
        broadcast = "could not be broadcast" in failed.result.message
        raise with_hint(failed, WIDTH_HINT if broadcast else "") from None


@judging
def _judge_residual_forward(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    d = case.data
    (call,) = _residual_calls(case, outcome)
    y_hat, _ = conformed(case, Seq("the return value", (Arr("Y_hat", _forward_shape(d)),
                                                        Ignored("cache"))),
                         call.value, "residual_forward")
    check_inputs_kept(case, (call,))
    expected = _residual_reference_forward(case)[0]
    diff = compare(y_hat, expected, tol)
    if diff.ok:
        return passed(case)
    hint = ""
    for text, flags in RESIDUAL_FORWARD_MISTAKES:
        try:
            model = residual_forward_variant(d["X"], d["Ws"], d["bs"], d["act"], **flags)[0]
        except ValueError:
            continue
        if close(y_hat, model, LOOSE) and not close(expected, model, LOOSE):
            hint = text
            break
    raise fail(case, status.WRONG, value_message("residual_forward", "Y_hat", diff, case), hint)


@judging
def _judge_residual_backward(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
    d = case.data
    calls = _residual_calls(case, outcome)
    ref = _residual_reference_backward(case)
    student = conform_grads(case, calls[1].value, ref, "residual_backward")
    check_inputs_kept(case, calls)
    match = layer_match(student, ref, tol)
    if match[0].all():
        return passed(case)
    rows = layer_rows(student, ref, tol, case.hidden, match)
    blame_forward(case, calls[0].value, _forward_shape(d),
                  _residual_reference_forward(case)[0], tol, "residual_forward",
                  "residual_backward", "fixes")
    args = (d["X"], d["Ws"], d["bs"], d["act"], d["dY"])
    mistake = matching_mistake(RESIDUAL_MISTAKES, args, student,
                               lambda a, b: close(a, b, LOOSE))
    message = entry_message(rows, student, ref, tol)
    hint = mistake.hint if mistake else _residual_position_hint(rows, d["Ws"])
    return CaseResult(case.label, status.WRONG, message, hint, case.hidden, tuple(rows))


def _residual_position_hint(rows, Ws) -> str:
    L = len(rows)
    entry = entry_layer(rows)
    fan_in, fan_out = Ws[entry - 1].shape
    if entry == L:
        return ("start from the output layer, which is linear and never adds its input: "
                "dZ_L = dY_hat, dW_L = A_{L-1}.T @ dZ_L, db_L = dZ_L.sum(axis=0), "
                "dA_{L-1} = dZ_L @ W_L.T")
    if fan_in == fan_out:
        return (f"layer {entry} adds its input: dZ_{entry} = dA_{entry} * "
                f"act_grad(Z_{entry}), and dA_{entry - 1} = dZ_{entry} @ W_{entry}.T + "
                f"dA_{entry} (the skip)")
    return (f"layer {entry} changes the width ({fan_in} -> {fan_out}), so it adds nothing: "
            f"dZ_{entry} = dA_{entry} * act_grad(Z_{entry}) and dA_{entry - 1} = "
            f"dZ_{entry} @ W_{entry}.T, as in the MLP")


# --- layernorm / batchnorm --------------------------------------------------------------

# Each kind: the axis its statistics run over, and what one group of them is.
AXES = {"layernorm": 1, "batchnorm": 0}
GROUP = {"layernorm": "row", "batchnorm": "column"}
TITLES = {"layernorm": "layer norm", "batchnorm": "batch norm"}


def _norm_data(rng, shape, eps=None, positional=False, offset=0.0, scale=1.0) -> dict:
    N, D = shape
    return {"x": rng.normal(size=shape) * scale + offset,
            "gamma": rng.normal(1.0, 0.3, D), "beta": rng.normal(0.0, 1.0, D),
            "dout": rng.normal(size=shape), "eps": eps, "positional": positional}


def _constant(data: dict, axis: int, index: int, value: float) -> dict:
    x = data["x"].copy()
    if axis == 1:
        x[index, :] = value
    else:
        x[:, index] = value
    return {**data, "x": x}


def _layernorm_public_data() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(6002)
    return [
        ("a (4, 5) batch", _norm_data(rng, (4, 5), offset=0.5, scale=2.0)),
        ("a batch of 1 row, 6 features", _norm_data(rng, (1, 6))),
        ("a constant row (its variance is 0: only eps keeps it finite)",
         _constant(_norm_data(rng, (3, 4)), 1, 1, 2.0)),
        ("a square (4, 4) batch", _norm_data(rng, (4, 4), offset=1.0)),
        ("eps = 0.5", _norm_data(rng, (3, 5), eps=0.5)),
        ("eps = 0.01 by position", _norm_data(rng, (2, 3), eps=0.01, positional=True)),
        ("a spread of 1e-3 (variance 1e-6, below eps)",
         _norm_data(rng, (3, 4), offset=3.0, scale=1e-3)),
        ("a (3, 1) input: one feature, so every row is constant", _norm_data(rng, (3, 1))),
        ("a wide (2, 64) batch", _norm_data(rng, (2, 64), scale=3.0)),
    ]


def _batchnorm_public_data() -> list[tuple[str, dict]]:
    rng = np.random.default_rng(6003)
    return [
        ("an (8, 3) batch", _norm_data(rng, (8, 3), offset=0.5, scale=2.0)),
        ("a batch of 2", _norm_data(rng, (2, 4))),
        ("a constant column (its variance is 0: only eps keeps it finite)",
         _constant(_norm_data(rng, (5, 3)), 0, 1, -0.5)),
        ("a square (4, 4) batch", _norm_data(rng, (4, 4), offset=1.0)),
        ("eps = 0.5", _norm_data(rng, (6, 3), eps=0.5)),
        ("eps = 0.01 by position", _norm_data(rng, (4, 2), eps=0.01, positional=True)),
        ("a spread of 1e-3 (variance 1e-6, below eps)",
         _norm_data(rng, (6, 2), offset=-2.0, scale=1e-3)),
        ("a (5, 1) input: a single feature", _norm_data(rng, (5, 1))),
        ("a (32, 16) batch", _norm_data(rng, (32, 16), offset=2.0)),
    ]


def _norm_hidden_data(kind: str, rng: np.random.Generator, n: int) -> list[tuple[str, dict]]:
    out = []
    for k in range(n):
        # Groups of exactly 2 are left out (see the module docstring); 1 is exact.
        group = pick(rng, (1, *range(3, 33))) if kind == "layernorm" \
            else int(rng.integers(3, 33))
        other = int(rng.integers(1, 33))
        shape = (other, group) if kind == "layernorm" else (group, other)
        eps = [None, 1e-5, 1e-3, 0.1, 1.0][int(rng.integers(5))]
        data = _norm_data(rng, shape, eps, positional=bool(rng.random() < 0.3),
                          offset=float(rng.normal(0.0, 2.0)),
                          scale=float(10 ** rng.uniform(-2, 1)))
        data["dout"] = data["dout"] * 10 ** rng.uniform(-2, 2)
        if rng.random() < 0.2:
            axis = AXES[kind]
            data = _constant(data, axis, int(rng.integers(shape[1 - axis])),
                             pick(rng, (-1.0, 0.5, 2.0)))
        out.append((f"hidden case {k + 1}", data))
    return out


def _norm_cases(kind: str, backward: bool) -> tuple[Callable, Callable]:
    public_data = {"layernorm": _layernorm_public_data,
                   "batchnorm": _batchnorm_public_data}[kind]

    def case(label, data, hidden) -> Case:
        args, kwargs = (data["x"], data["gamma"], data["beta"]), {}
        if data["eps"] is not None:
            if data["positional"]:
                args += (data["eps"],)
            else:
                kwargs = {"eps": data["eps"]}
        calls = (Call(f"{kind}_forward", args, kwargs, drop=(1,)),)
        if backward:
            calls += (Call(f"{kind}_backward", (data["dout"], Ref(0, (1,)))),)
        return Case(label + _eps_note(data, label), calls, {**data, "kind": kind}, hidden)

    def public() -> list[Case]:
        return [case(label, data, False) for label, data in public_data()]

    def hidden(rng: np.random.Generator, n: int) -> list[Case]:
        return [case(label, data, True) for label, data in _norm_hidden_data(kind, rng, n)]

    return public, hidden


def _eps_note(data: dict, label: str) -> str:
    return "" if data["eps"] is not None or "eps" in label or label.startswith("hidden") \
        else " (eps not given: 1e-5)"


def _eps(data: dict) -> float:
    return 1e-5 if data["eps"] is None else data["eps"]


def _norm_reference_forward(case: Case):
    d = case.data
    forward = getattr(engine, f"{d['kind']}_forward")
    return reference(case, "forward", lambda: forward(d["x"], d["gamma"], d["beta"], _eps(d)))


def _norm_reference_backward(case: Case):
    _, cache = _norm_reference_forward(case)
    backward = getattr(engine, f"{case.data['kind']}_backward")
    return reference(case, "backward", lambda: backward(case.data["dout"], cache))


def normalize_variant(x, gamma, beta, eps, axis, *, ddof=0, eps_outside=False, no_sqrt=False,
                      no_keepdims=False, no_affine=False):
    """out as a student with one misconception computes it (ValueError where numpy refuses)."""
    x = np.asarray(x, np.float64)
    # ddof=1 on a group of one warns through the warnings module, not np.errstate.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = x.mean(axis=axis, keepdims=not no_keepdims)
        var = x.var(axis=axis, keepdims=not no_keepdims, ddof=ddof)
        centred = x - mean
        if eps_outside:
            x_hat = centred / (np.sqrt(var) + eps)
        elif no_sqrt:
            x_hat = centred / (var + eps)
        else:
            x_hat = centred / np.sqrt(var + eps)
        return x_hat if no_affine else gamma * x_hat + beta


def normalize_backward_variant(dout, x, gamma, eps, axis, *, no_mean_term=False,
                               no_var_term=False, other_axis=False, no_gamma=False,
                               dgamma_plain=False, dbeta_mean=False):
    """(dx, dgamma, dbeta) as a student with one misconception computes them."""
    x, dout = np.asarray(x, np.float64), np.asarray(dout, np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    rstd = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    x_hat = (x - mean) * rstd
    g = dout if no_gamma else dout * gamma
    means_over = 1 - axis if other_axis else axis
    dx = g
    if not no_mean_term:
        dx = dx - g.mean(axis=means_over, keepdims=True)
    if not no_var_term:
        dx = dx - x_hat * (g * x_hat).mean(axis=means_over, keepdims=True)
    dgamma = dout.sum(axis=0) if dgamma_plain else (dout * x_hat).sum(axis=0)
    dbeta = dout.mean(axis=0) if dbeta_mean else dout.sum(axis=0)
    return rstd * dx, dgamma, dbeta


# The eps values code hard-codes: the contract's default and the usual others.
FIXED_EPS = (1e-5, 1e-6, 1e-8, 1e-12, 1e-3)


def _fixed_eps_hint(value: float) -> str:
    return (f"this matches eps = {value:g} written into the code: use the eps argument you "
            "are given (1e-5 is only its default)")


def _forward_mistakes(kind: str) -> tuple:
    group, other = GROUP[kind], GROUP["batchnorm" if kind == "layernorm" else "layernorm"]
    axis = AXES[kind]
    mistakes = [
        ("use the biased variance (divide by the count: np.var's default ddof=0), as "
         "PyTorch does", dict(ddof=1)),
        (f"{TITLES[kind]} takes the mean and variance of each {group} (axis={axis}), not of "
         f"each {other}", dict(axis=1 - axis)),
        ("eps goes inside the square root: (x - mean) / sqrt(var + eps)",
         dict(eps_outside=True)),
        ("divide by the standard deviation sqrt(var + eps), not by the variance",
         dict(no_sqrt=True)),
        *((_fixed_eps_hint(value), dict(eps=value)) for value in FIXED_EPS),
        ("scale and shift the normalised values: out = gamma * x_hat + beta",
         dict(no_affine=True)),
    ]
    if kind == "layernorm":
        mistakes.insert(2, ("keep the statistics' axis (keepdims=True): x.mean(axis=1) has "
                            "shape (N,), and x - mean then subtracts row i's mean from "
                            "column i", dict(no_keepdims=True)))
    return tuple(mistakes)


def _backward_mistakes(kind: str) -> tuple:
    group = GROUP[kind]
    over = f"over each {group}, axis={AXES[kind]}"
    return (
        (f"dx has a term from the mean, which depends on every entry of the {group}: "
         f"subtract the mean of g = dout * gamma ({over})", dict(no_mean_term=True)),
        (f"dx has a term from the variance: subtract x_hat * mean(g * x_hat) ({over}), "
         "g = dout * gamma", dict(no_var_term=True)),
        ("the mean and the variance depend on x too: dx = rstd * (g - mean(g) - x_hat * "
         f"mean(g * x_hat)), g = dout * gamma, means {over}",
         dict(no_mean_term=True, no_var_term=True)),
        (f"the means in dx run over the same axis as the forward statistics ({over})",
         dict(other_axis=True)),
        ("dx goes through gamma first: g = dout * gamma", dict(no_gamma=True)),
        ("dgamma = sum over the batch of dout * x_hat (gamma multiplies x_hat)",
         dict(dgamma_plain=True)),
        ("dbeta sums dout over the batch (axis=0); it is not averaged", dict(dbeta_mean=True)),
    )


def _make_norm_forward_judge(kind: str):
    function = f"{kind}_forward"

    @judging
    def judge(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
        d = case.data
        (call,) = completed_calls(case, outcome)
        out = _conform_out(case, call.value, function)
        check_inputs_kept(case, (call,))
        expected = _norm_reference_forward(case)[0]
        diff = compare(out, expected, tol, _norm_terms(d)["out"])
        if diff.ok:
            return passed(case)
        raise fail(case, status.WRONG, value_message(function, "out", diff, case),
                   _forward_hint(kind, d, out, expected))

    return judge


def _conform_out(case: Case, value, function: str):
    shape = case.data["x"].shape
    try:
        out, _ = conform(Seq("the return value", (Arr("out", shape), Ignored("cache"))), value)
    except Mismatch as exc:
        hint = ""
        if exc.status == status.NON_FINITE:
            hint = ("0 / 0: with eps inside the square root a constant group gives "
                    "0 / sqrt(eps) = 0; np.var(..., ddof=1) divides by count - 1, which is 0 "
                    "for a group of one")
        raise fail(case, exc.status, f"{function} returned: {exc.message}", hint) from None
    return out


def _forward_hint(kind: str, d: dict, out, expected) -> str:
    axis, eps = AXES[kind], _eps(d)
    for text, flags in _forward_mistakes(kind):
        flags = dict(flags)
        try:
            model = normalize_variant(d["x"], d["gamma"], d["beta"], flags.pop("eps", eps),
                                      flags.pop("axis", axis), **flags)
        except ValueError:
            continue
        if np.all(np.isfinite(model)) and close(out, model, LOOSE) \
                and not close(expected, model, LOOSE):
            return text
    return ""


def _make_norm_backward_judge(kind: str):
    function = f"{kind}_backward"
    names = ("dx", "dgamma", "dbeta")

    @judging
    def judge(case: Case, outcome: TaskOutcome, tol: Tolerance) -> CaseResult:
        d = case.data
        calls = completed_calls(case, outcome)
        N, D = d["x"].shape
        schema = Seq("the return value", (Arr("dx", (N, D)), Arr("dgamma", (D,)),
                                          Arr("dbeta", (D,))))
        try:
            grads = conform(schema, calls[1].value)
        except Mismatch as exc:
            raise fail(case, exc.status, f"{function} returned: {exc.message}",
                       _norm_shape_hint(exc.message)) from None
        check_inputs_kept(case, calls)
        ref = _norm_reference_backward(case)
        terms = _norm_terms(d)
        diffs = [compare(g, r, tol, terms[name]) for name, g, r in zip(names, grads, ref)]
        if all(diff.ok for diff in diffs):
            return passed(case)
        _blame_norm_forward(case, calls[0].value, tol)
        wrong = [name for name, diff in zip(names, diffs) if not diff.ok]
        first = names.index(wrong[0])
        message = value_message(function, wrong[0], diffs[first], case)
        right = [name for name in names if name not in wrong]
        if len(wrong) > 1:
            message += f"; {' and '.join(wrong[1:])} {'is' if len(wrong) == 2 else 'are'} " \
                       "wrong too"
        if right:
            message += f"; {' and '.join(right)} {'matches' if len(right) == 1 else 'match'}"
        raise fail(case, status.WRONG, message, _backward_hint(kind, d, grads, ref))

    return judge


def _norm_terms(d: dict) -> dict[str, float]:
    """The size of the terms each result is a sum or difference of (see compare.ROUNDING).

    x - mean rounds to about eps |x| whatever the spread, and is then multiplied by
    rstd = 1 / sqrt(var + eps); so x_hat carries rounding of size |x| rstd. With one
    feature (layer norm) every exact x_hat, dx and dgamma is 0, and what any code
    computes for them is that rounding, multiplied on.
    """
    x, dout = d["x"], d["dout"]
    axis = AXES[d["kind"]]
    rstd = float(np.max(1.0 / np.sqrt(x.var(axis=axis) + _eps(d))))
    spread = 1.0 + float(np.max(np.abs(x))) * rstd  # |x_hat| and its rounding, at most
    g = float(np.max(np.abs(dout))) * float(np.max(np.abs(d["gamma"])))
    n = x.shape[0]
    return {"out": float(np.max(np.abs(d["gamma"]))) * spread + float(np.max(np.abs(d["beta"]))),
            "dx": rstd * g * spread,
            "dgamma": n * float(np.max(np.abs(dout))) * spread,
            "dbeta": n * float(np.max(np.abs(dout)))}


def _norm_shape_hint(message: str) -> str:
    if message.startswith(("dgamma", "dbeta")):
        return "dgamma and dbeta have gamma's shape (D,): sum over the batch, axis=0"
    if message.startswith("dx"):
        return "dx has x's shape (N, D)"
    return "return a tuple (dx, dgamma, dbeta)"


def _blame_norm_forward(case: Case, forward_value, tol: Tolerance) -> None:
    kind = case.data["kind"]
    try:
        out, _ = conform(Seq("the return value", (Arr("out", case.data["x"].shape),
                                                  Ignored("cache"))), forward_value)
    except Mismatch:
        out = None
    if out is None or not compare(out, _norm_reference_forward(case)[0], tol,
                                  _norm_terms(case.data)["out"]).ok:
        raise fail(case, status.WRONG,
                   f"the gradients differ, but {kind}_forward already returns a wrong out on "
                   f"this case and {kind}_backward works from its cache",
                   f"fix {kind}_forward first (see fixes.{kind}_forward), then check again")


def _backward_hint(kind: str, d: dict, grads, ref) -> str:
    mistakes = (*_backward_mistakes(kind),
                *((_fixed_eps_hint(value), {"eps": value}) for value in FIXED_EPS))
    for text, flags in mistakes:
        flags = dict(flags)
        model = normalize_backward_variant(d["dout"], d["x"], d["gamma"],
                                           flags.pop("eps", _eps(d)), AXES[kind], **flags)
        if all(close(g, m, LOOSE) for g, m in zip(grads, model)) \
                and not all(close(r, m, LOOSE) for r, m in zip(ref, model)):
            return text
    return ""


# --- the catalogue ----------------------------------------------------------------------

def _make_checks() -> dict[str, CheckDef]:
    rf_pub, rf_hid = _residual_cases(False)
    rb_pub, rb_hid = _residual_cases(True)
    checks = {
        "residual_forward": CheckDef("residual_forward", rf_pub, rf_hid,
                                     _judge_residual_forward, RESIDUAL_TOLERANCE,
                                     "the residual MLP, forward"),
        "residual_backward": CheckDef("residual_backward", rb_pub, rb_hid,
                                      _judge_residual_backward, RESIDUAL_TOLERANCE,
                                      "the residual MLP, backward, layer by layer"),
    }
    for kind in ("layernorm", "batchnorm"):
        f_pub, f_hid = _norm_cases(kind, False)
        b_pub, b_hid = _norm_cases(kind, True)
        checks[f"{kind}_forward"] = CheckDef(f"{kind}_forward", f_pub, f_hid,
                                             _make_norm_forward_judge(kind), NORM_TOLERANCE,
                                             f"{TITLES[kind]}, forward")
        checks[f"{kind}_backward"] = CheckDef(f"{kind}_backward", b_pub, b_hid,
                                              _make_norm_backward_judge(kind), NORM_TOLERANCE,
                                              f"{TITLES[kind]}, backward")
    return checks


CHECKS = _make_checks()
