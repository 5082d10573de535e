"""The grid case of every derivative check, and the curves a failing one carries."""

import json

import numpy as np
import pytest

from grader.checks import activations, status
from grader.checks.model import CaseResult
from grader.engine.activations import ACTIVATIONS
from grader.sandbox.run import CallOutcome, TaskOutcome

GRADS = [f for f in activations.FUNCTIONS if f.endswith("_grad")]


def _judge(function, case, value):
    check = activations.CHECKS[function]
    return check.judge(case, TaskOutcome("ok", (CallOutcome(value),)), check.tolerance)


def _grid_cases(function):
    return [c for c in activations.CHECKS[function].public() if c.data["grid"]]


@pytest.mark.parametrize("function", GRADS)
def test_every_derivative_has_a_public_grid_case_last(function):
    cases = activations.CHECKS[function].public()
    grid = _grid_cases(function)
    assert grid and cases[-len(grid):] == grid  # after the older cases, which keep their order
    for case in grid:
        z = case.data["z"]
        assert not case.hidden and z.shape == (161,)
        assert z[0] == -4.0 and z[-1] == 4.0 and 0.0 in z
        assert np.allclose(np.diff(z), 0.05)
    base = function.removesuffix("_grad")
    assert len(grid) == 1 + len(activations.OTHER_PARAMS.get(base, ()))


@pytest.mark.parametrize("function", [f for f in activations.FUNCTIONS if not f.endswith("_grad")])
def test_forward_functions_have_no_grid_case(function):
    assert not _grid_cases(function)


@pytest.mark.parametrize("function", GRADS)
def test_a_wrong_grid_case_carries_both_curves(function):
    act = ACTIVATIONS[function.removesuffix("_grad")]
    case = _grid_cases(function)[0]
    z = case.data["z"]
    wrong = act.grad(z) + np.where(z > 1.0, 0.5, 0.0)
    result = _judge(function, case, wrong)
    assert result.status == status.WRONG
    zs, ref, mine = result.curve
    assert zs == tuple(z) and ref == tuple(act.grad(z)) and mine == tuple(wrong)
    assert all(type(v) is float for series in result.curve for v in series)


@pytest.mark.parametrize("function", GRADS)
def test_only_failing_public_grid_cases_carry_curves(function):
    act = ACTIVATIONS[function.removesuffix("_grad")]
    check = activations.CHECKS[function]
    grid = _grid_cases(function)[0]
    assert _judge(function, grid, act.grad(grid.data["z"])).curve == ()
    for case in check.public() + check.hidden(np.random.default_rng(3), 10):
        if case.data["grid"]:
            continue
        z, params = case.data["z"], case.data["params"]
        result = _judge(function, case, act.grad(z, **params) + 1.0)
        assert not result.passed and result.curve == ()


def test_a_hidden_grid_case_would_not_carry_curves():
    case = _grid_cases("tanh_grad")[0]
    hidden = type(case)(case.label, case.calls, case.data, hidden=True)
    result = _judge("tanh_grad", hidden, np.zeros(161))
    assert result.status == status.WRONG and result.curve == ()


def test_to_dict_lists_the_curve_only_when_there_is_one():
    plain = CaseResult("a", status.WRONG, "m")
    assert "curve" not in plain.to_dict()
    curved = CaseResult("a", status.WRONG, "m", curve=((0.0, 1.0), (1.0, 2.0), (1.0, 3.0)))
    out = curved.to_dict()
    assert out["curve"] == [[0.0, 1.0], [1.0, 2.0], [1.0, 3.0]]
    assert json.loads(json.dumps(out)) == out
