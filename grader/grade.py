"""Grade one submission: course -> cases -> sandboxed runs -> judged results.

Each exercise module runs in its own children, modules in parallel. A missing
module or a crashing child costs that module's checks only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.checks import CATALOGUE, status
from grader.checks.model import Case, CaseResult, CheckDef
from grader.course import Check, Course, Exercise
from grader.errors import SubmissionPathError
from grader.results import CheckResult, ExerciseResult, SubmissionResult
from grader.sandbox.run import Limits, Task, run_module

MAX_SOURCE_BYTES = 1 << 20


@dataclass(frozen=True)
class Options:
    """How to grade: which exercises, and whether (and how) to draw hidden cases."""

    exercise: str | None = None
    secret: bytes | None = None  # None: public cases only
    student_id: str | None = None
    jobs: int = 0  # parallel children; 0 means one per core


def grade(path: str | Path, course: Course, options: Options = Options()) -> SubmissionResult:
    """Grade the submission folder at ``path``."""
    path = Path(path)
    files = read_submission(path)
    student = options.student_id or student_id(path, course)
    return grade_files(files, str(path), student, course, options)


def grade_files(files: dict[str, bytes], name: str, student: str, course: Course,
                options: Options = Options()) -> SubmissionResult:
    """Grade a submission given as its module files (name -> source bytes)."""
    start = time.monotonic()
    exercises = [course.exercise(options.exercise)] if options.exercise else list(course.exercises)
    limits = Limits(course.limits.task_seconds, course.limits.import_seconds,
                    course.limits.memory_mb, course.limits.cpu_seconds)
    jobs = options.jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_grade_exercise, ex, files, course, options, student, limits)
                   for ex in exercises]
        results = tuple(f.result() for f in futures)
    return SubmissionResult(name, student, course.title, results,
                            options.secret is not None, time.monotonic() - start)


def read_submission(path: Path) -> dict[str, bytes]:
    """The submission's top-level .py files, by name."""
    if not path.exists():
        raise SubmissionPathError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise SubmissionPathError(f"{path}: not a folder; pass the folder that holds your "
                                  "exercise modules (e.g. exercises/)")
    files = {}
    for file in sorted(path.glob("*.py")):
        if file.is_file() and file.stat().st_size <= MAX_SOURCE_BYTES:
            files[file.name] = file.read_bytes()
    return files


def student_id(path: Path, course: Course) -> str:
    match = re.search(course.student_id_pattern, path.resolve().name)
    return match.group("id") if match else path.resolve().name


def hidden_rng(secret: bytes, student: str, check_name: str) -> np.random.Generator:
    """A generator only the holder of the course secret can reproduce."""
    digest = hmac.new(secret, f"{student}\0{check_name}".encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _grade_exercise(exercise: Exercise, files: dict[str, bytes], course: Course,
                    options: Options, student: str, limits: Limits) -> ExerciseResult:
    start = time.monotonic()
    checks = CATALOGUE[exercise.module]
    plan = [(check, checks[check.function]) for check in exercise.checks]
    cases = {check.function: _cases(exercise, check, spec, course, options, student)
             for check, spec in plan}
    if f"{exercise.module}.py" not in files:
        reason = CaseResult("module", status.MISSING_MODULE,
                            f"no {exercise.module}.py in the submission; add it (start from "
                            f"exercises/{exercise.module}.py)")
        results = tuple(_check_result(exercise, check, course, (reason,)) for check, _ in plan)
        return ExerciseResult(exercise.id, exercise.module, exercise.title, results)
    tasks = [Task(_key(check.function, i), check.function, case.calls)
             for check, _ in plan for i, case in enumerate(cases[check.function])]
    run = run_module(files, exercise.module, tasks, limits)
    results = []
    for check, spec in plan:
        tol = check.tolerance or spec.tolerance
        judged = tuple(spec.judge(case, run.outcomes[_key(check.function, i)], tol)
                       for i, case in enumerate(cases[check.function]))
        results.append(_check_result(exercise, check, course, judged))
    return ExerciseResult(exercise.id, exercise.module, exercise.title, tuple(results),
                          run.stdout, run.stderr, time.monotonic() - start, run.active,
                          run.missing)


def _cases(exercise: Exercise, check: Check, spec: CheckDef, course: Course,
           options: Options, student: str) -> list[Case]:
    cases = list(spec.public())
    n = course.hidden.cases_per_check
    if options.secret is not None and n:
        rng = hidden_rng(options.secret, student, f"{exercise.module}.{check.function}")
        cases += spec.hidden(rng, n)
    return cases


def _key(function: str, index: int) -> str:
    return f"{function}#{index}"


def _check_result(exercise: Exercise, check: Check, course: Course,
                  cases: tuple[CaseResult, ...]) -> CheckResult:
    passed = sum(c.passed for c in cases)
    if course.scoring == "proportional":
        score = check.points * passed / len(cases)
    else:
        score = check.points if passed == len(cases) else 0.0
    title = check.title or CATALOGUE[exercise.module][check.function].title
    return CheckResult(exercise.module, check.function, title, float(score),
                       float(check.points), cases)
