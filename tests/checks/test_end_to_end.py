"""Every exercise module, graded for real (child processes, hidden cases included)."""

import dataclasses

import pytest

from grader.checks import CATALOGUE, status
from grader.course import Hidden
from grader.grade import Options, grade

from conftest import REPO


@pytest.mark.parametrize("module", sorted(CATALOGUE))
def test_solutions_get_full_marks(course_for, module):
    result = grade(REPO / "solutions", course_for(module), Options(secret=b"test"))
    assert result.score == result.max_score == len(CATALOGUE[module])
    failures = [(c.name, f.label, f.message) for c in result.checks for f in c.failures]
    assert not failures
    assert all(sum(case.hidden for case in check.cases) == 3 for check in result.checks)


@pytest.mark.parametrize("module", sorted(CATALOGUE))
def test_stubs_get_zero_with_not_implemented(course_for, module):
    result = grade(REPO / "exercises", course_for(module), Options(secret=b"test"))
    assert result.score == 0
    assert {case.status for check in result.checks for case in check.cases} == \
        {status.NOT_IMPLEMENTED}


@pytest.mark.parametrize("module", ["diagnostics", "fixes", "training"])
@pytest.mark.parametrize("secret", [b"draw-1", b"draw-2"])
def test_solutions_pass_many_hidden_cases(course_for, module, secret):
    # The measured figure: 10 random secrets x 40 hidden cases per check, no failure.
    course = dataclasses.replace(course_for(module), hidden=Hidden(cases_per_check=15))
    result = grade(REPO / "solutions", course, Options(secret=secret))
    failures = [(c.name, f.label, f.message) for c in result.checks for f in c.failures]
    assert not failures
