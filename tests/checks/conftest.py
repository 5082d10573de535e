import sys
from pathlib import Path

import numpy as np
import pytest

from grader.checks import CATALOGUE
from grader.course import Course, course_from_dict
from grader.sandbox.run import CallOutcome, ErrorInfo, TaskOutcome
from grader.sandbox.wire import DROPPED, Provided, Ref

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "grader" / "sandbox"))
import child  # noqa: E402  (the child runs with grader/sandbox as its path entry)


@pytest.fixture
def course_for():
    """A course holding one exercise module with every one of its checks, 1 point each."""
    def make(module: str) -> Course:
        return course_from_dict({
            "title": f"{module} only",
            "exercises": [{"id": module, "module": module, "title": module,
                           "checks": [{"function": f, "points": 1} for f in CATALOGUE[module]]}],
        })
    return make


def run_in_process(case, impls):
    """What the child would report for ``case`` if ``impls`` (function name -> callable)
    were the student's module: Provided callables are the child's own, Ref markers the
    earlier results, the parts a call drops come back as DROPPED, and an exception ends
    the task as it does in the child."""
    outputs, calls = [], []
    for index, call in enumerate(case.calls):
        args = [_resolve(a, outputs) for a in call.args]
        kwargs = {k: _resolve(v, outputs) for k, v in call.kwargs.items()}
        try:
            with np.errstate(all="ignore"):
                value = impls[call.function](*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the child reports any exception
            return TaskOutcome("exception", tuple(calls),
                               ErrorInfo(type(exc).__name__, str(exc)), at=index)
        outputs.append(value)
        if call.drop and isinstance(value, tuple):
            value = tuple(DROPPED if i in call.drop else v for i, v in enumerate(value))
        calls.append(CallOutcome(value))
    return TaskOutcome("ok", tuple(calls))


def _resolve(node, outputs):
    if isinstance(node, Provided):
        return child.PROVIDED[node.name]
    if isinstance(node, Ref):
        value = outputs[node.call]
        for i in node.path:
            value = value[i]
        return value
    if isinstance(node, list):
        return [_resolve(v, outputs) for v in node]
    return node
