from pathlib import Path

import pytest

from grader.checks import CATALOGUE
from grader.course import Course

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def course_for():
    """A course holding one exercise module with every one of its checks, 1 point each."""
    def make(module: str) -> Course:
        return Course.model_validate({
            "title": f"{module} only",
            "exercises": [{"id": module, "module": module, "title": module,
                           "checks": [{"function": f, "points": 1} for f in CATALOGUE[module]]}],
        })
    return make
