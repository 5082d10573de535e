"""The backward-pass judges, fed fabricated child outcomes (no subprocess needed)."""

import math

import numpy as np
import pytest

from grader.checks import backward, status
from grader.checks.mistakes import MLP_MISTAKES
from grader.sandbox.run import CallOutcome, ErrorInfo, TaskOutcome
from grader.sandbox.wire import DROPPED, Other

CHECK = backward.CHECKS["mlp_backward"]
TOL = CHECK.tolerance


def _case(label_part: str, hidden_index: int | None = None):
    if hidden_index is not None:
        return CHECK.hidden(np.random.default_rng(7), hidden_index + 1)[hidden_index]
    return next(c for c in CHECK.public() if label_part in c.label)


def _reference(case):
    # Copies: the judge keeps the reference of a public case for the next student.
    return tuple([a.copy() for a in part] for part in backward._reference_backward(case))


def _outcome(grads, mutated=(), case=None, y_hat=None):
    """What the child reports: mlp_forward's (Y_hat, dropped cache), then the gradients."""
    if y_hat is None:
        y_hat = backward._reference_forward(case)[0] if case else DROPPED
    return TaskOutcome("ok", (CallOutcome((y_hat, DROPPED)),
                              CallOutcome(grads, mutated=mutated)))


def _args(case):
    d = case.data
    return d["X"], d["Ws"], d["bs"], d["act"], d["dY"]


def test_reference_gradients_pass_every_public_and_hidden_case():
    cases = CHECK.public() + CHECK.hidden(np.random.default_rng(1), 10)
    for case in cases:
        result = CHECK.judge(case, _outcome(_reference(case), case=case), TOL)
        assert result.passed, (case.label, result.message)


@pytest.mark.parametrize("mistake", MLP_MISTAKES, ids=lambda m: m.name)
def test_each_mistake_model_is_named_in_the_hint(mistake):
    # Square tanh layers: every model keeps the shapes, and tanh' tells Z from A apart.
    case = _case("5 tanh layers")
    student = mistake.grads(*_args(case))
    result = CHECK.judge(case, _outcome(student, case=case), TOL)
    assert result.status == status.WRONG
    assert result.hint == mistake.hint
    assert "enters the backward pass at layer" in result.message


def test_entry_layer_is_the_wrong_layer_nearest_the_output():
    case = _case("5 tanh layers")
    dWs, dbs, dAs = (list(part) for part in _reference(case))
    dWs[2] = dWs[2] * 1.01  # layer 3 of 5; layers 1 and 2 stay right
    result = CHECK.judge(case, _outcome((dWs, dbs, dAs), case=case), TOL)
    assert "at layer 3 of 5" in result.message
    assert "dWs[2]" in result.message and "dbs[2]" not in result.message
    assert "layers 4-5 (output side) still match" in result.message
    assert "layers 1, 2 match again" in result.message
    assert [r.match for r in result.layers] == [True, True, False, True, True]


def test_vanishing_gradients_are_compared_relative_to_their_own_scale():
    case = _case("vanish")
    dWs, dbs, dAs = (list(part) for part in _reference(case))
    assert np.abs(dAs[0]).max() < 1e-25
    zeros = ([np.zeros_like(a) for a in dWs], [np.zeros_like(a) for a in dbs],
             [np.zeros_like(a) for a in dAs])
    result = CHECK.judge(case, _outcome(zeros, case=case), TOL)
    assert result.status == status.WRONG  # all-zero never passes for a tiny true gradient
    slightly_off = (dWs, dbs, [a * (1 + 1e-6) if i == 0 else a for i, a in enumerate(dAs)])
    result = CHECK.judge(case, _outcome(slightly_off, case=case), TOL)
    assert "at layer 1 of 30" in result.message


def test_exploding_gradients_tolerate_rounding_but_not_errors():
    case = _case("explode")
    dWs, dbs, dAs = (list(part) for part in _reference(case))
    assert np.abs(dAs[0]).max() > 1e25
    rounding = ([a * (1 + 1e-13) for a in dWs], dbs, dAs)
    assert CHECK.judge(case, _outcome(rounding, case=case), TOL).passed
    wrong = ([a * (1 + 1e-5) for a in dWs], dbs, dAs)
    assert not CHECK.judge(case, _outcome(wrong, case=case), TOL).passed


def test_hidden_case_feedback_reveals_no_expected_values():
    case = _case("", hidden_index=2)
    dWs, dbs, dAs = (list(part) for part in _reference(case))
    dWs[-1] = dWs[-1] + 1.0
    result = CHECK.judge(case, _outcome((dWs, dbs, dAs), case=case), TOL)
    assert result.hidden and result.status == status.WRONG
    assert all(math.isnan(r.ref_norm) for r in result.layers)
    assert "expected" not in result.message


def test_wrong_shapes_name_the_layer_and_the_fix():
    case = _case("3 layers, sigmoid")
    dWs, dbs, dAs = (list(part) for part in _reference(case))
    dWs[1] = dWs[1].T
    result = CHECK.judge(case, _outcome((dWs, dbs, dAs), case=case), TOL)
    assert result.status == status.WRONG_SHAPE
    assert "dWs[1] (layer 2)" in result.message and "transposed" in result.message
    assert "A_{l-1}.T @ dZ_l" in result.hint


def test_reversed_lists_with_different_widths_are_recognised():
    case = _case("3 layers, sigmoid")
    dWs, dbs, dAs = _reference(case)
    result = CHECK.judge(case, _outcome((dWs[::-1], dbs[::-1], dAs[::-1]), case=case), TOL)
    assert result.status == status.WRONG_SHAPE
    assert "reverse order" in result.hint


@pytest.mark.parametrize("value, expected_status", [
    (None, status.BAD_TYPE),
    (Other("generator"), status.BAD_TYPE),
    (([], [], []), status.BAD_TYPE),
])
def test_malformed_returns(value, expected_status):
    case = _case("2 layers")
    result = CHECK.judge(case, _outcome(value, case=case), TOL)
    assert result.status == expected_status
    assert "mlp_backward returned" in result.message


def test_float32_gradients_are_a_dtype_error():
    case = _case("2 layers")
    dWs, dbs, dAs = _reference(case)
    result = CHECK.judge(case, _outcome(([a.astype(np.float32) for a in dWs], dbs, dAs)), TOL)
    assert result.status == status.BAD_DTYPE


def test_nan_is_reported_as_non_finite():
    case = _case("2 layers")
    dWs, dbs, dAs = (list(part) for part in _reference(case))
    dAs[0] = dAs[0].copy()
    dAs[0][0, 0] = np.nan
    assert CHECK.judge(case, _outcome((dWs, dbs, dAs), case=case), TOL).status == status.NON_FINITE


def test_modified_inputs_are_named():
    case = _case("2 layers")
    result = CHECK.judge(case, _outcome(_reference(case), mutated=((0, 1, 1),)), TOL)
    assert result.status == status.MODIFIED_INPUT
    assert "weights[1]" in result.message and "first passed to mlp_forward" in result.message


def test_an_exception_in_forward_is_reported_with_its_place():
    case = _case("2 layers")
    outcome = TaskOutcome("exception", (), ErrorInfo("ValueError", "bad shapes",
                                                      "backward.py:12 in mlp_forward"), at=0)
    result = CHECK.judge(case, outcome, TOL)
    assert result.status == status.EXCEPTION
    assert "mlp_forward raised ValueError: bad shapes (backward.py:12 in mlp_forward)" \
        in result.message
    assert result.where == "backward.py:12 in mlp_forward"


@pytest.mark.parametrize("name", ["mse_loss", "linear_forward", "linear_backward",
                                  "mlp_forward"])
def test_other_backward_checks_accept_the_reference(name):
    check = backward.CHECKS[name]
    for case in check.public() + check.hidden(np.random.default_rng(3), 5):
        d = case.data
        if name == "mse_loss":
            value = backward.layers.mse_loss(d["pred"], d["target"])
            calls = (CallOutcome(value),)
        elif name == "linear_forward":
            calls = (CallOutcome((backward.layers.linear_forward(d["x"], d["W"], d["b"])[0],
                                  DROPPED)),)
        elif name == "linear_backward":
            cache = backward.layers.linear_forward(d["x"], d["W"], d["b"])[1]
            calls = (CallOutcome((DROPPED, DROPPED)),
                     CallOutcome(backward.layers.linear_backward(d["dout"], cache)))
        else:
            calls = (CallOutcome((backward._reference_forward(case)[0], DROPPED)),)
        result = check.judge(case, TaskOutcome("ok", calls), check.tolerance)
        assert result.passed, (case.label, result.message)


def test_a_wrong_forward_pass_is_blamed_not_the_backward_pass():
    case = _case("2 layers")
    d = case.data
    y_without_bias = backward._forward_variant(d, no_bias=True)
    wrong = [a * 2 for a in _reference(case)[0]], *_reference(case)[1:]
    result = CHECK.judge(case, _outcome(tuple(wrong), case=case, y_hat=y_without_bias), TOL)
    assert result.status == status.WRONG
    assert "mlp_forward already returns a wrong Y_hat" in result.message
    assert "fix mlp_forward first" in result.hint
    # A correct backward pass passes even when the forward output was wrong.
    result = CHECK.judge(case, _outcome(_reference(case), case=case, y_hat=y_without_bias), TOL)
    assert result.passed


def test_a_public_reference_is_computed_once_and_judging_leaves_it_intact():
    case = _case("2 layers")
    first = backward._reference_backward(case)
    assert backward._reference_backward(case) is first  # kept for the next student
    fresh = backward.layers.mlp_backward(
        case.data["dY"], backward.layers.mlp_forward(
            case.data["X"], case.data["Ws"], case.data["bs"],
            backward.ACTIVATIONS[case.data["act"]].fn)[1],
        backward.ACTIVATIONS[case.data["act"]].grad)
    dWs, dbs, dAs = _reference(case)
    CHECK.judge(case, _outcome(([w * 2 for w in dWs], dbs, dAs), case=case), TOL)
    for kept, new in zip(first, fresh):
        for a, b in zip(kept, new):
            np.testing.assert_array_equal(a, b)
    hidden = _case("", hidden_index=0)
    assert backward._reference_backward(hidden) is not backward._reference_backward(hidden)
