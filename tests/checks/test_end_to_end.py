"""Every exercise module, graded for real (child processes, hidden cases included)."""

import pytest

from grader.checks import CATALOGUE, status
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
