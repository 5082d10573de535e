"""Real results for the report tests: a solution with one bug from tests/buggy/bugs.yaml,
graded through the sandbox like any submission."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import yaml

from grader.checks import CATALOGUE
from grader.course import load_course
from grader.grade import Options, grade
from grader.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[2]
BUGS = {bug["name"]: bug for bug in yaml.safe_load((ROOT / "tests/buggy/bugs.yaml").read_text())}


@functools.lru_cache(maxsize=None)
def graded(bug_name: str, secret: bytes | None = None) -> SubmissionResult:
    """The bug's exercise graded (hidden cases too when a secret is given); cached, since
    results are frozen and several tests read the same one."""
    bug = BUGS[bug_name]
    source = (ROOT / "solutions" / f"{bug['module']}.py").read_text()
    for old, new in bug["replace"]:
        source = source.replace(old, new)
    course = load_course(ROOT / "course.yaml", CATALOGUE)
    with tempfile.TemporaryDirectory(prefix="report-bug-") as top:
        folder = Path(top) / "submission"
        shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / f"{bug['module']}.py").write_text(source)
        return grade(folder, course, Options(exercise=bug["module"], secret=secret,
                                             student_id="bug"))
