"""The callables the child hands to student code (mlp_forward's ``act``) are the grader's
own, bit-identical to the reference: they must not answer a graded function.

The runtime's modules (child, wire, confine, zygote) are dropped from sys.modules and
the module namespace once the child is confined, so ``import child`` finds nothing and a
scan of sys.modules finds no PROVIDED; the reference solutions keep full marks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks import CATALOGUE
from grader.course import load_course
from grader.grade import Options, grade_files
from grader.sandbox.run import Call, Limits, Task, run_module

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
TAKEN = ("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad")
DEPENDENT = ("silu", "silu_grad")

WRONG = """
def _wrong(z):
    return z * 0.0 + 12345.0
"""

IMPORT = WRONG + """
try:
    from child import PROVIDED as _PROVIDED
except ImportError:
    _PROVIDED = {}
""" + "".join(f"""
def {name}(z):
    return _PROVIDED.get("{name}", _wrong)(z)
""" for name in TAKEN)

SCAN = WRONG + """
import sys as _sys
import types as _types


def _provided():
    # Any module, or a module held by one (zygote.child, __main__.child), that has it.
    for module in list(_sys.modules.values()):
        if type(module) is not _types.ModuleType:
            continue
        for holder in [module, *vars(module).values()]:
            if type(holder) is _types.ModuleType:
                table = vars(holder).get("PROVIDED")
                if isinstance(table, dict) and "sigmoid" in table:
                    return table
    return {}
""" + "".join(f"""
def {name}(z):
    return _provided().get("{name}", _wrong)(z)
""" for name in TAKEN)


@pytest.fixture(scope="module")
def course():
    return load_course(ROOT / "course.yaml", CATALOGUE)


def graded(course, attack: str):
    files = {"activations.py": (SOLUTIONS / "activations.py").read_bytes() + attack.encode()}
    result = grade_files(files, "attacker", "attacker", course,
                         Options(exercise="activations", secret=b"provided-test",
                                 student_id="attacker"))
    return {check.function: check for check in result.checks}


@pytest.mark.parametrize("attack", [IMPORT, SCAN], ids=["import child", "sys.modules scan"])
def test_the_provided_callables_cannot_answer_a_graded_function(course, attack):
    checks = graded(course, attack)
    taken = {name: checks[name].score for name in TAKEN if name in checks}
    assert taken and all(score == 0 for score in taken.values()), taken
    # silu is z * sigmoid(z) in the solutions: it falls with the sigmoid taken.
    untouched = [c for name, c in checks.items() if name not in TAKEN + DEPENDENT]
    assert untouched and all(c.score == c.max_score for c in untouched)


def test_the_solutions_still_score_full_marks(course):
    checks = graded(course, "")
    assert checks and all(c.score == c.max_score for c in checks.values())


REACH = """
import sys


def reach():
    found = [name for name in ("child", "wire", "confine", "seccomp", "zygote")
             if name in sys.modules or name in vars(sys.modules["__main__"])]
    try:
        import child  # noqa: F401
        found.append("import child")
    except ImportError:
        pass
    return found
"""


@pytest.mark.parametrize("zygote", [True, False], ids=["forked", "fresh interpreter"])
def test_no_runtime_module_is_reachable_by_name(zygote):
    limits = Limits(task_seconds=10.0, import_seconds=10.0, zygote=zygote)
    run = run_module({"m.py": REACH.encode()}, "m", [Task("t", "t", (Call("reach"),))], limits)
    outcome = run.outcomes["t"]
    assert outcome.status == "ok" and outcome.calls[0].value == []
