"""Buggy submissions: the grader must catch each realistic mistake, and only it.

Every entry of tests/buggy/bugs.yaml is a reference solution with one student mistake,
written as a patch (see tests/buggy/README.md). The patched module is graded with the
real course.yaml, hidden cases included; the test asserts the exact set of failing
checks, the status of their first failing case, and that the feedback names the place.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from grader.checks import CATALOGUE, status
from grader.course import Course, load_course
from grader.grade import Options, grade
from grader.report.text import check_lines
from grader.results import CheckResult

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
BUGS_FILE = Path(__file__).parent / "buggy" / "bugs.yaml"
MODULES = ("activations", "initializers", "clipping", "backward", "diagnostics", "fixes", "training")
FIELDS = {"name", "module", "description", "replace", "fails", "status", "feedback",
          "grader_weakness"}
EXPECTATIONS = ("fails", "status", "feedback")  # what a grader_weakness may excuse
STATUSES = {value for name, value in vars(status).items() if name.isupper()}
SECRET = b"buggy-tests"  # hidden cases run too
STUDENT = "bug"

BUGS = yaml.safe_load(BUGS_FILE.read_text())


def _params(bugs: list[dict]) -> list:
    return [pytest.param(bug, id=bug["name"]) for bug in bugs]


def patched_source(bug: dict) -> str:
    """solutions/<module>.py with the bug's replacements, each old text found exactly once."""
    source = (SOLUTIONS / f"{bug['module']}.py").read_text()
    for old, new in bug["replace"]:
        count = source.count(old)
        assert count == 1, (f"{bug['name']}: {old!r} occurs {count} times in "
                            f"solutions/{bug['module']}.py (must be exactly once)")
        source = source.replace(old, new)
    return source


def _as_mapping(value, failing: list[str]) -> dict[str, object]:
    """A per-check field: a mapping check -> value, or one value for every failing check."""
    if isinstance(value, dict):
        return value
    return {name: value for name in failing}


def feedback_text(checks: list[CheckResult]) -> str:
    return "\n".join(line for check in checks for line in check_lines(check, cases=3))


def _summary(checks) -> str:
    """Every failing check with its feedback, for assertion messages."""
    return "\n".join(f"--- {c.name}\n" + feedback_text([c]) for c in checks if not c.passed) \
        or "(no failing check)"


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT / "course.yaml", CATALOGUE)


def _registered(course: Course, module: str) -> bool:
    return module in CATALOGUE and any(e.module == module for e in course.exercises)


# --- the bug list itself --------------------------------------------------------------------

def test_bug_list_is_well_formed():
    assert len(BUGS) >= 20
    names = [bug["name"] for bug in BUGS]
    assert len(names) == len(set(names)), "bug names must be unique"
    assert {bug["module"] for bug in BUGS} == set(MODULES), "every exercise needs bugs"
    for bug in BUGS:
        where = bug.get("name", bug)
        assert set(bug) <= FIELDS, f"{where}: unknown fields {set(bug) - FIELDS}"
        assert {"name", "module", "description", "replace", "fails"} <= set(bug), where
        assert re.fullmatch(r"[a-z][a-z0-9_]*", bug["name"]), where
        assert bug["module"] in MODULES, where
        assert bug["replace"] and all(len(pair) == 2 and pair[0] != pair[1]
                                      for pair in bug["replace"]), where
        # only the patched module's exercise is graded, so cascades stay inside it
        assert bug["fails"] and all(f.startswith(bug["module"] + ".") for f in bug["fails"]), where
        for check, value in _as_mapping(bug.get("status", {}), bug["fails"]).items():
            assert check in bug["fails"] and value in STATUSES, f"{where}: status {value!r}"
        for check, patterns in _as_mapping(bug.get("feedback", []), bug["fails"]).items():
            assert check in bug["fails"], f"{where}: feedback for {check}, which should pass"
            for pattern in patterns:
                re.compile(pattern)
        weakness = bug.get("grader_weakness", {})
        assert isinstance(weakness, dict) and set(weakness) <= set(EXPECTATIONS), where


@pytest.mark.parametrize("bug", _params(BUGS))
def test_patch_applies_once_and_compiles(bug):
    """Runs even for exercises not registered yet: a solution edit cannot silently undo a bug."""
    source = patched_source(bug)
    compile(source, f"{bug['module']}.py", "exec")


# --- grading -------------------------------------------------------------------------------

def test_solutions_get_full_marks(course):
    result = grade(SOLUTIONS, course, Options(secret=SECRET, student_id=STUDENT))
    assert result.hidden_cases and any(case.hidden for c in result.checks for case in c.cases)
    assert result.score == result.max_score, _summary(result.checks)


@pytest.mark.parametrize("bug", _params(BUGS))
def test_buggy_submission(bug, course, tmp_path):
    module = bug["module"]
    if not _registered(course, module):
        pytest.skip(f"the {module} checks are not registered yet (grader.checks.CATALOGUE "
                    "and course.yaml)")
    for file in SOLUTIONS.glob("*.py"):
        shutil.copy(file, tmp_path / file.name)
    (tmp_path / f"{module}.py").write_text(patched_source(bug))
    result = grade(tmp_path, course, Options(exercise=module, secret=SECRET, student_id=STUDENT))

    problems = expectation_problems(bug, {c.name: c for c in result.checks})
    known = bug.get("grader_weakness", {})
    unexpected = {kind: found for kind, found in problems.items() if found and kind not in known}
    assert not unexpected, (f"{bug['description']}\n" + _problem_text(unexpected)
                            + "\n" + _summary(result.checks))
    if not known:
        return
    fixed = [kind for kind in known if not problems[kind]]
    assert not fixed, (f"the grader weakness of {bug['name']} ({', '.join(fixed)}) is gone: "
                       "remove grader_weakness from tests/buggy/bugs.yaml")
    pytest.xfail("grader weakness: " + "; ".join(f"{kind}: {known[kind]}" for kind in known)
                 + "\n" + _problem_text(problems))


def expectation_problems(bug: dict, checks: dict[str, CheckResult]) -> dict[str, list[str]]:
    """What differs from the bug's expectations, by kind (fails, status, feedback)."""
    problems = {kind: [] for kind in EXPECTATIONS}
    failing = {name for name, c in checks.items() if not c.passed}
    expected = set(bug["fails"])
    if failing != expected:
        problems["fails"].append(f"failing checks {sorted(failing)}, expected {sorted(expected)}")
    for name, c in checks.items():
        if c.passed and c.score != c.max_score:
            problems["fails"].append(f"{name} passes with {c.score}/{c.max_score}")
    # Status and feedback are judged on the expected failures that did fail.
    judged = expected & failing
    for name, want in _as_mapping(bug.get("status", {}), sorted(expected)).items():
        got = checks[name].failures[0].status if name in judged else want
        if got != want:
            problems["status"].append(f"{name}: first failing case is {got!r}, expected {want!r}")
    feedback = bug.get("feedback", [])
    groups = ([((name,), patterns) for name, patterns in feedback.items()]
              if isinstance(feedback, dict) else [(tuple(sorted(expected)), feedback)])
    for names, patterns in groups:
        names = tuple(n for n in names if n in judged)
        if not names:
            continue
        text = feedback_text([checks[n] for n in names])
        problems["feedback"] += [f"{pattern!r} not in the feedback of {', '.join(names)}"
                                 for pattern in patterns if not re.search(pattern, text)]
    for name in sorted(judged):
        problems["feedback"] += [f"{name}: {line.strip()!r} does not tell expected from got"
                                 for line in check_lines(checks[name], cases=3)
                                 if _same_expected_and_got(line)]
    return problems


def _same_expected_and_got(line: str) -> bool:
    match = re.search(r"expected ([^\s,;)]+), got ([^\s,;)]+)", line)
    return bool(match) and match.group(1) == match.group(2)


def _problem_text(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"[{kind}] {p}" for kind, found in problems.items() for p in found)
