"""The remedies' judges (exercise 6), fed outcomes fabricated in this process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.checks import fixes, status
from grader.checks.mistakes import RESIDUAL_MISTAKES, residual_forward_variant
from grader.engine import fixes as engine
from grader.engine import layers
from grader.engine.activations import ACTIVATIONS
from grader.sandbox.run import CallOutcome, ErrorInfo, TaskOutcome
from grader.sandbox.wire import DROPPED

from conftest import run_in_process

ENGINE = {name: getattr(engine, name) for name in fixes.CHECKS}
KINDS = ("layernorm", "batchnorm")


def _cases(function, hidden=0, seed=9):
    check = fixes.CHECKS[function]
    return check.public() + check.hidden(np.random.default_rng(seed), hidden)


def _case(function, label_part):
    return next(c for c in _cases(function) if label_part in c.label)


def _judge(case, **impls):
    function = case.calls[-1].function
    check = fixes.CHECKS[function]
    outcome = run_in_process(case, {**ENGINE, **impls})
    return check.judge(case, outcome, check.tolerance)


def _outcome(forward_value, backward_value=None):
    calls = (CallOutcome((forward_value, DROPPED)),)
    if backward_value is not None:
        calls += (CallOutcome(backward_value),)
    return TaskOutcome("ok", calls)


@pytest.mark.parametrize("function", sorted(fixes.CHECKS))
def test_the_engine_passes_every_public_and_hidden_case(function):
    for case in _cases(function, hidden=30):
        result = _judge(case)
        assert result.passed, (case.label, result.message)


# --- residual ---------------------------------------------------------------------------

def _args(case):
    d = case.data
    return d["X"], d["Ws"], d["bs"], d["act"], d["dY"]


def _backward_from(model):
    """A residual_backward that returns the model's gradients for the case at hand."""
    def impl(case):
        return lambda dY_hat, cache, act_grad: model(*_args(case))
    return impl


@pytest.mark.parametrize("mistake", RESIDUAL_MISTAKES, ids=lambda m: m.name)
def test_each_residual_mistake_model_is_named_in_the_hint(mistake):
    hints = []
    for case in _cases("residual_backward"):
        result = _judge(case, residual_backward=_backward_from(mistake.grads)(case))
        if not result.passed:
            hints.append(result.hint)
            assert "enters the backward pass at layer" in result.message or \
                result.status == status.WRONG_SHAPE, result.message
    assert mistake.hint in hints, hints


@pytest.mark.parametrize("text, flags", fixes.RESIDUAL_FORWARD_MISTAKES,
                         ids=[str(f) for _, f in fixes.RESIDUAL_FORWARD_MISTAKES])
def test_each_residual_forward_mistake_is_named(text, flags):
    hints = []
    for case in _cases("residual_forward"):
        d = case.data
        try:
            y_hat = residual_forward_variant(d["X"], d["Ws"], d["bs"], d["act"], **flags)[0]
        except ValueError:
            continue
        result = _judge(case, residual_forward=lambda *a, y=y_hat: (y, None))
        if not result.passed:
            hints.append(result.hint)
    assert text in hints, hints


def test_the_public_nets_hold_every_kind_of_layer():
    kinds = set()
    for case in _cases("residual_forward"):
        Ws = case.data["Ws"]
        for l, W in enumerate(Ws):
            last, square = l == len(Ws) - 1, W.shape[0] == W.shape[1]
            kinds.add(("output" if last else "hidden", square))
            if not last and not square and 1 in W.shape:
                kinds.add("broadcastable")
    assert kinds >= {("output", True), ("output", False), ("hidden", True), ("hidden", False),
                     "broadcastable"}


def test_the_deep_residual_case_keeps_a_gradient_the_plain_mlp_loses():
    case = _case("residual_backward", "30 sigmoid layers")
    d = case.data
    sigmoid = ACTIVATIONS["sigmoid"]
    _, plain_cache = layers.mlp_forward(d["X"], d["Ws"], d["bs"], sigmoid.fn)
    plain = layers.mlp_backward(d["dY"], plain_cache, sigmoid.grad)[2]
    residual = fixes._residual_reference_backward(case)[2]
    assert np.abs(plain[0]).max() < 1e-25
    assert np.abs(residual[0]).max() > 1e-3 * np.abs(residual[-1]).max()
    dropped = next(m for m in RESIDUAL_MISTAKES if m.name == "skip gradient dropped")
    result = _judge(case, residual_backward=_backward_from(dropped.grads)(case))
    assert "at layer 29 of 30" in result.message and result.hint == dropped.hint


def test_the_entry_layer_and_the_position_hint_know_which_layers_add_their_input():
    case = _case("residual_backward", "5 layers, ReLU")  # layers 2 and 4 add their input
    ref = [list(part) for part in fixes._residual_reference_backward(case)]

    def judged(layer):
        grads = [list(part) for part in ref]
        grads[0][layer - 1] = grads[0][layer - 1] * 1.01
        return fixes.CHECKS["residual_backward"].judge(
            case, _outcome(fixes._residual_reference_forward(case)[0], tuple(grads)),
            fixes.RESIDUAL_TOLERANCE)

    at_skip, at_plain = judged(4), judged(3)
    assert "at layer 4 of 5" in at_skip.message and "layer 5 (output side) still matches" \
        in at_skip.message
    assert "layers 1, 2, 3 match again" in at_skip.message
    assert "+ dA_4 (the skip)" in at_skip.hint
    assert "changes the width (5 -> 2)" in at_plain.hint
    assert [r.match for r in at_skip.layers] == [True, True, True, False, True]
    assert "the output layer" in judged(5).hint


def test_a_wrong_residual_forward_is_blamed_not_the_backward_pass():
    case = _case("residual_backward", "3 layers, tanh")
    d = case.data
    wrong_y = residual_forward_variant(d["X"], d["Ws"], d["bs"], d["act"], no_skip=True)[0]
    ref = fixes._residual_reference_backward(case)
    doubled = ([w * 2 for w in ref[0]], ref[1], ref[2])
    result = fixes.CHECKS["residual_backward"].judge(case, _outcome(wrong_y, doubled),
                                                     fixes.RESIDUAL_TOLERANCE)
    assert "residual_forward already returns a wrong Y_hat" in result.message
    assert "see fixes.residual_forward" in result.hint
    assert fixes.CHECKS["residual_backward"].judge(case, _outcome(wrong_y, ref),
                                                   fixes.RESIDUAL_TOLERANCE).passed


def test_adding_a_skip_numpy_cannot_broadcast_gets_the_width_hint():
    case = _case("residual_forward", "5 layers, ReLU")
    outcome = TaskOutcome("exception", (), ErrorInfo(
        "ValueError", "operands could not be broadcast together with shapes (4,3) (4,5) ",
        "fixes.py:40 in residual_forward"))
    result = fixes.CHECKS["residual_forward"].judge(case, outcome, fixes.RESIDUAL_TOLERANCE)
    assert result.status == status.EXCEPTION and "W.shape[0] == W.shape[1]" in result.hint


def test_hidden_residual_failures_reveal_no_reference_values():
    for case in fixes.CHECKS["residual_backward"].hidden(np.random.default_rng(5), 5):
        ref = fixes._residual_reference_backward(case)
        wrong = ([w * 1.5 for w in ref[0]], ref[1], ref[2])
        result = fixes.CHECKS["residual_backward"].judge(
            case, _outcome(fixes._residual_reference_forward(case)[0], wrong),
            fixes.RESIDUAL_TOLERANCE)
        assert result.hidden and not result.passed and "expected" not in result.message
        assert all(math.isnan(r.ref_norm) for r in result.layers)


def test_hidden_nets_mostly_add_their_input():
    layers_seen = skips = 0
    for case in fixes.CHECKS["residual_forward"].hidden(np.random.default_rng(8), 40):
        *_, skip_flags = fixes._residual_reference_forward(case)[1]
        layers_seen += len(skip_flags)
        skips += sum(skip_flags)
    assert 0.3 < skips / layers_seen < 0.8


def test_a_public_residual_reference_is_computed_once():
    case = _cases("residual_backward")[0]
    assert fixes._residual_reference_backward(case) is fixes._residual_reference_backward(case)
    hidden = fixes.CHECKS["residual_backward"].hidden(np.random.default_rng(1), 1)[0]
    assert fixes._residual_reference_backward(hidden) is not \
        fixes._residual_reference_backward(hidden)


# --- layer norm and batch norm ----------------------------------------------------------

def _long_form(kind):
    """A correct pair written differently: E[x^2] - E[x]^2 for the variance, and the
    backward pass through dvar and dmean, step by step."""
    axis = fixes.AXES[kind]

    def forward(x, gamma, beta, eps=1e-5):
        n = x.shape[axis]
        mu = np.sum(x, axis=axis, keepdims=True) / n
        var = np.maximum(np.sum(x * x, axis=axis, keepdims=True) / n - mu * mu, 0.0)
        return gamma * (x - mu) / np.sqrt(var + eps) + beta, (x, mu, var, eps, gamma)

    def backward(dout, cache):
        x, mu, var, eps, gamma = cache
        n = x.shape[axis]
        istd = 1.0 / np.sqrt(var + eps)
        dxhat = dout * gamma
        dvar = np.sum(dxhat * (x - mu), axis=axis, keepdims=True) * -0.5 * istd ** 3
        dmu = np.sum(-dxhat * istd, axis=axis, keepdims=True) \
            + dvar * np.mean(-2.0 * (x - mu), axis=axis, keepdims=True)
        dx = dxhat * istd + dvar * 2.0 * (x - mu) / n + dmu / n
        return dx, (dout * (x - mu) * istd).sum(axis=0), dout.sum(axis=0)

    return {f"{kind}_forward": forward, f"{kind}_backward": backward}


@pytest.mark.parametrize("kind", KINDS)
def test_a_correct_long_form_passes_every_case(kind):
    for case in _cases(f"{kind}_backward", hidden=60):
        assert _judge(case, **_long_form(kind)).passed, case.label


def _forward_impl(kind, **flags):
    axis = flags.pop("axis", fixes.AXES[kind])
    fixed_eps = flags.pop("eps", None)

    def forward(x, gamma, beta, eps=1e-5):
        eps = eps if fixed_eps is None else fixed_eps
        return fixes.normalize_variant(x, gamma, beta, eps, axis, **flags), None
    return forward


@pytest.mark.parametrize("kind", KINDS)
def test_each_forward_mistake_is_named(kind):
    for text, flags in fixes._forward_mistakes(kind):
        results = [_judge(case, **{f"{kind}_forward": _forward_impl(kind, **dict(flags))})
                   for case in _cases(f"{kind}_forward")]
        failed = [r for r in results if not r.passed]
        assert failed and any(r.hint == text for r in failed), (text, [r.hint for r in failed])


@pytest.mark.parametrize("kind", KINDS)
def test_each_backward_mistake_is_named_and_the_arrays_are_named(kind):
    for text, flags in fixes._backward_mistakes(kind):
        hints = []
        for case in _cases(f"{kind}_backward"):
            d = case.data
            value = fixes.normalize_backward_variant(d["dout"], d["x"], d["gamma"],
                                                     fixes._eps(d), fixes.AXES[kind], **flags)
            result = fixes.CHECKS[f"{kind}_backward"].judge(
                case, _outcome(fixes._norm_reference_forward(case)[0], value),
                fixes.NORM_TOLERANCE)
            if not result.passed:
                hints.append(result.hint)
                assert result.message.startswith(f"{kind}_backward: d")
        assert text in hints, (text, hints)


def test_the_message_says_which_gradients_are_wrong_and_which_match():
    case = _case("batchnorm_backward", "an (8, 3) batch")
    dx, dgamma, dbeta = fixes._norm_reference_backward(case)
    judge = fixes.CHECKS["batchnorm_backward"].judge
    forward = fixes._norm_reference_forward(case)[0]
    only_dbeta = judge(case, _outcome(forward, (dx, dgamma, dbeta / 8)), fixes.NORM_TOLERANCE)
    assert only_dbeta.message.startswith("batchnorm_backward: dbeta is wrong at index")
    assert "dx and dgamma match" in only_dbeta.message and "not averaged" in only_dbeta.hint
    two = judge(case, _outcome(forward, (dx * 2, dgamma, dbeta + 1)), fixes.NORM_TOLERANCE)
    assert "dx is wrong" in two.message and "dbeta is wrong too" in two.message
    assert "dgamma matches" in two.message


def test_a_nan_from_the_unbiased_variance_of_one_entry_gets_a_hint():
    case = _case("layernorm_forward", "(3, 1) input")
    result = _judge(case, layernorm_forward=_forward_impl("layernorm", ddof=1))
    assert result.status == status.NON_FINITE and "ddof=1" in result.hint


def test_gamma_shaped_gradients_summed_over_the_wrong_axis_are_a_shape_error():
    case = _case("layernorm_backward", "(4, 5) batch")
    dx, dgamma, dbeta = fixes._norm_reference_backward(case)
    result = fixes.CHECKS["layernorm_backward"].judge(
        case, _outcome(fixes._norm_reference_forward(case)[0], (dx, dgamma[:4], dbeta)),
        fixes.NORM_TOLERANCE)
    assert result.status == status.WRONG_SHAPE and "axis=0" in result.hint


def test_a_wrong_normalisation_forward_is_blamed():
    case = _case("layernorm_backward", "(4, 5) batch")
    d = case.data
    wrong = fixes.normalize_variant(d["x"], d["gamma"], d["beta"], 1e-5, 0)
    dx, dgamma, dbeta = fixes._norm_reference_backward(case)
    result = fixes.CHECKS["layernorm_backward"].judge(
        case, _outcome(wrong, (dx + 1, dgamma, dbeta)), fixes.NORM_TOLERANCE)
    assert "layernorm_forward already returns a wrong out" in result.message


def test_the_public_cases_cover_what_the_exercise_asks():
    labels = {kind: [c.label for c in _cases(f"{kind}_forward")] for kind in KINDS}
    assert any("batch of 1 row" in label for label in labels["layernorm"])
    assert any("batch of 2" in label for label in labels["batchnorm"])
    for kind in KINDS:
        cases = _cases(f"{kind}_forward")
        assert any("constant" in label for label in labels[kind])
        assert any(c.data["eps"] == 0.5 for c in cases)
        assert any(c.data["x"].shape[1] == 1 for c in cases)
        assert any(c.data["x"].shape[0] == c.data["x"].shape[1] for c in cases)
        assert any(len(c.calls[0].args) == 4 for c in cases)  # eps by position
        constant = next(c for c in cases if "constant" in c.label)
        assert np.any(np.var(constant.data["x"], axis=fixes.AXES[kind]) == 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_groups_never_hold_exactly_two_entries(kind):
    axis = fixes.AXES[kind]
    sizes = {c.data["x"].shape[axis]
             for c in fixes.CHECKS[f"{kind}_forward"].hidden(np.random.default_rng(3), 200)}
    assert 2 not in sizes and max(sizes) > 20


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_normalisation_failures_reveal_no_values(kind):
    for case in fixes.CHECKS[f"{kind}_backward"].hidden(np.random.default_rng(6), 5):
        dx, dgamma, dbeta = fixes._norm_reference_backward(case)
        result = fixes.CHECKS[f"{kind}_backward"].judge(
            case, _outcome(fixes._norm_reference_forward(case)[0], (dx, dgamma * 3, dbeta)),
            fixes.NORM_TOLERANCE)
        assert result.hidden and "expected" not in result.message
        assert "hidden input" in result.message


def test_a_public_normalisation_reference_is_computed_once():
    case = _cases("batchnorm_backward")[0]
    assert fixes._norm_reference_backward(case) is fixes._norm_reference_backward(case)
