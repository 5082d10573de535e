"""Grade one submission: course -> cases -> sandboxed run -> judged results.

All of a submission's modules run in one sandboxed child (the set-up is paid
once); a module that kills its child costs only its own checks, the rest runs
in a new one. A missing module costs that exercise's checks only. Hidden cases
run after every public one, in a child of their own, and their feedback is said
in fixed words (grader/checks/redact.py): no hidden input comes back in a report.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from grader.batch.unpack import Submission, read
from grader.batch.unpack import student_id as batch_student_id
from grader.checks import CATALOGUE, status
from grader.checks.model import Case, CaseResult, CheckDef
from grader.checks.redact import redacted
from grader.course import Check, Course, Exercise
from grader.memo import IdentityMemo
from grader.results import CheckResult, ExerciseResult, SubmissionResult
from grader.sandbox.run import Limits, ModuleRun, Task, TaskOutcome, run_modules
from grader.submission import Modules, assemble
from grader.text import clean_name


@dataclass(frozen=True)
class Options:
    """How to grade: which exercises, and whether (and how) to draw hidden cases."""

    exercise: str | None = None
    secret: bytes | None = None  # None: public cases only
    student_id: str | None = None
    # Children to spread the modules over. One is cheapest (a batch grades many
    # submissions at once); a single check on an idle machine finishes sooner on two.
    children: int = 1


def grade(path: str | Path, course: Course, options: Options = Options()) -> SubmissionResult:
    """Grade the submission (a folder, a .zip or a notebook) at ``path``.

    Raises UnpackError, a result rather than a tool failure, when the submission cannot
    be read (a module that is a link, too large, ...): the CLI reports it as not graded.
    """
    path = Path(path)
    submission = read_submission(path, course)
    student = options.student_id or student_id(path, course)
    result = grade_files(submission.files, clean_name(str(path)), student, course, options)
    if not submission.notes:
        return result
    return replace(result, notes=(*submission.notes, *result.notes))


def grade_files(files: dict[str, bytes], name: str, student: str, course: Course,
                options: Options = Options()) -> SubmissionResult:
    """Grade a submission given as its module files (name -> source bytes)."""
    start = time.monotonic()
    exercises = [course.exercise(options.exercise)] if options.exercise else list(course.exercises)
    limits = Limits(course.limits.task_seconds, course.limits.import_seconds,
                    course.limits.memory_mb, course.limits.cpu_seconds,
                    submission_seconds=course.limits.submission_seconds)
    modules = assemble(files, [ex.module for ex in course.exercises])
    plans = [_plan(ex, course, options, student) for ex in exercises]
    present = [p for p in plans if f"{p.exercise.module}.py" in modules.files]
    lines = {name: source.count(b"\n") + 1 for name, source in modules.files.items()}
    judged: dict[str, ExerciseResult] = {}
    # Each group of modules is judged as soon as its child is done, while the others run.
    for runs in _runs(modules.files, present, limits, options.children):
        for plan in present:
            if plan.exercise.module in runs:
                judged[plan.exercise.module] = _judge(plan, runs[plan.exercise.module], course,
                                                      lines=lines)
    results = tuple(_located(judged.get(p.exercise.module) or _judge(
        p, None, course, modules.missing.get(p.exercise.module)), modules) for p in plans)
    return SubmissionResult(name, student, course.title, results,
                            options.secret is not None, time.monotonic() - start,
                            modules.notes)


def _runs(files: dict[str, bytes], plans: list["_Plan"], limits: Limits,
          children: int) -> Iterator[dict[str, ModuleRun]]:
    """The modules' runs, a group at a time, in the order the groups finish."""
    groups = _split(plans, children)
    if len(groups) <= 1:
        if plans:
            yield _run_phased(files, plans, limits)
        return
    with ThreadPoolExecutor(len(groups)) as pool:
        futures = [pool.submit(_run_phased, files, group, limits) for group in groups]
        for future in as_completed(futures):
            yield future.result()


def _run_phased(files: dict[str, bytes], plans: list["_Plan"],
                limits: Limits) -> dict[str, ModuleRun]:
    """Every public task in one run, then the hidden ones in a run of their own.

    A module keeps what it likes between calls, and a submission's modules share a
    process: run together, a hidden input seen by one check could come back in a later
    public case's message (which is shown in full). The public run never holds a hidden
    input, so its feedback and printed output are safe to show; the hidden run's are
    never shown (grader/checks/redact.py), and its printed output is dropped. The two
    runs share the submission's wall-time budget."""
    start = time.monotonic()
    runs = run_modules(files, [(p.exercise.module, p.tasks_of(hidden=False)) for p in plans],
                       limits)
    settled = {p.exercise.module: _settled(p, runs[p.exercise.module]) for p in plans}
    todo = [(p.exercise.module, [t for t in p.tasks_of(hidden=True)
                                 if t.key not in settled[p.exercise.module]]) for p in plans]
    todo = [(module, tasks) for module, tasks in todo if tasks]
    later = {}
    if todo:
        left = max(limits.submission_seconds - (time.monotonic() - start), 0.0)
        later = run_modules(files, todo, replace(limits, submission_seconds=left))
    return {module: _merged(run, settled[module], later.get(module))
            for module, run in runs.items()}


# What a task of the public run may end with and still leave its check's hidden tasks
# worth running; anything else (a timeout, a signal, an exit, a flood) ended the child,
# and the check's later cases would not have run in it either.
_CONTINUED = frozenset({"ok", "exception", "missing"})


def _settled(plan: "_Plan", run: ModuleRun) -> dict[str, TaskOutcome]:
    """Hidden tasks whose outcome the public run already decided, without running them:
    all of a module whose import failed (the same error), and those of a check one of
    whose public cases ended the child (skipped, as in one run)."""
    public = [(t, run.outcomes.get(t.key)) for t in plan.tasks_of(hidden=False)]
    failed_import = next((o for _, o in public if o and o.status == "import error"), None)
    ended = {t.group for t, o in public if o is None or o.status not in _CONTINUED}
    out = {}
    for task in plan.tasks_of(hidden=True):
        if failed_import is not None:
            out[task.key] = failed_import
        elif task.group in ended:
            out[task.key] = TaskOutcome("skipped",
                                        detail="not run: an earlier case ended the process")
    return out


def _merged(public: ModuleRun, settled: dict[str, TaskOutcome],
            hidden: ModuleRun | None) -> ModuleRun:
    """One module's runs as one: the hidden run adds outcomes and time, never text (its
    printed output, or the protections its child reported, which student code that had
    seen hidden inputs might have had a hand in)."""
    outcomes = {**public.outcomes, **settled, **(hidden.outcomes if hidden else {})}
    if hidden is None:
        return replace(public, outcomes=outcomes)
    return replace(public, outcomes=outcomes, seconds=public.seconds + hidden.seconds,
                   children=public.children + hidden.children)


def _split(plans: list["_Plan"], n: int) -> list[list["_Plan"]]:
    """Up to n groups of about equal work (counted in calls), each in course order."""
    groups: list[list[_Plan]] = [[] for _ in range(max(1, min(n, len(plans))))]
    load = [0] * len(groups)
    for plan in sorted(plans, key=lambda p: -p.calls):
        least = load.index(min(load))
        groups[least].append(plan)
        load[least] += plan.calls
    order = {id(p): i for i, p in enumerate(plans)}
    return [sorted(g, key=lambda p: order[id(p)]) for g in groups if g]


def read_submission(path: Path, course: Course) -> Submission:
    """The submission's files by name, through the one reader every entry point uses
    (grader/batch/unpack.py): no link followed, caps on what the course grades, notes
    on the other files left out."""
    return read(path, [exercise.module for exercise in course.exercises])


def student_id(path: Path, course: Course) -> str:
    """The id ``grader batch`` gives the same submission (unpack.student_id)."""
    return batch_student_id(path, course.student_id_pattern)


def hidden_rng(secret: bytes, student: str, check_name: str) -> np.random.Generator:
    """A generator only the holder of the course secret can reproduce."""
    digest = hmac.new(secret, f"{student}\0{check_name}".encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


@dataclass(frozen=True)
class _Plan:
    """One exercise's checks, each with its cases, and the tasks they make for the child."""

    exercise: Exercise
    checks: tuple[tuple[Check, CheckDef, tuple[Case, ...]], ...]

    @property
    def calls(self) -> int:
        return sum(len(case.calls) for _, _, cases in self.checks for case in cases)

    def tasks_of(self, hidden: bool) -> list[Task]:
        """The tasks of the public (or of the hidden) cases, in course order."""
        return [Task(_key(check.function, i), check.function, case.calls, not case.hidden)
                for check, _, cases in self.checks for i, case in enumerate(cases)
                if case.hidden == hidden]


def _plan(exercise: Exercise, course: Course, options: Options, student: str) -> _Plan:
    specs = CATALOGUE[exercise.module]
    return _Plan(exercise, tuple(
        (check, specs[check.function],
         tuple(_cases(exercise, check, specs[check.function], course, options, student)))
        for check in exercise.checks))


def _judge(plan: _Plan, run: ModuleRun | None, course: Course,
           missing: str | None = None, lines: dict[str, int] | None = None) -> ExerciseResult:
    exercise = plan.exercise
    if run is None:
        reason = CaseResult("module", status.MISSING_MODULE,
                            missing or f"no {exercise.module}.py in the submission; add it "
                                       f"(start from exercises/{exercise.module}.py)")
        results = tuple(_check_result(exercise, check, course, (reason,))
                        for check, _, _ in plan.checks)
        return ExerciseResult(exercise.id, exercise.module, exercise.title, results)
    results = []
    for check, spec, cases in plan.checks:
        tol = check.tolerance or spec.tolerance
        outcomes = [run.outcomes[_key(check.function, i)] for i in range(len(cases))]
        judged = tuple(_judged(spec, case, outcome, tol) for case, outcome in zip(cases, outcomes))
        judged = _redacted(judged, outcomes, check.function, lines or {})
        results.append(_check_result(exercise, check, course, judged))
    return ExerciseResult(exercise.id, exercise.module, exercise.title, tuple(results),
                          run.stdout, run.stderr, run.seconds, run.active, run.missing)


_judgments = IdentityMemo(limit=1 << 14, weak=1)  # held no longer than the reply (outcome) it judged


def _judged(spec: CheckDef, case: Case, outcome: TaskOutcome, tol) -> CaseResult:
    """A judge's verdict, remembered for public cases: the runner hands back the very
    same outcome object for the same reply bytes, and judging is a pure function of
    (case, outcome, tolerance), so a reply seen before is not judged again."""
    if case.hidden:
        return spec.judge(case, outcome, tol)
    # The tolerance is keyed by identity too: hashing one, field by field, costs more
    # than the lookup, and a course's tolerances live as long as the course.
    return _judgments.get((case, outcome, tol), lambda: spec.judge(case, outcome, tol))


def _redacted(judged: tuple[CaseResult, ...], outcomes: list[TaskOutcome], function: str,
              lines: dict[str, int]) -> tuple[CaseResult, ...]:
    """Every hidden case said in fixed words (grader/checks/redact.py), whatever its judge
    wrote: its input is the same at every resubmission, so no text of it may come back."""
    out, number = [], 0
    for result, outcome in zip(judged, outcomes):
        if result.hidden:
            number += 1
            result = redacted(result, outcome, function, number, lines)
        out.append(result)
    return tuple(out)


def _located(result: ExerciseResult, modules: Modules) -> ExerciseResult:
    """Point file:line references in a notebook-built module at the notebook's cells."""
    if not modules.from_notebooks:
        return result
    checks = tuple(replace(check, cases=tuple(
        replace(case, message=modules.locate(case.message), where=modules.locate(case.where))
        for case in check.cases)) for check in result.checks)
    return replace(result, checks=checks, stderr=modules.locate(result.stderr))


def _cases(exercise: Exercise, check: Check, spec: CheckDef, course: Course,
           options: Options, student: str) -> list[Case]:
    cases = list(_public(spec))
    n = course.hidden.cases_per_check
    if options.secret is not None and n:
        rng = hidden_rng(options.secret, student, f"{exercise.module}.{check.function}")
        cases += spec.hidden(rng, n)
    return cases


_public_cases = IdentityMemo()


def _public(spec: CheckDef) -> tuple[Case, ...]:
    """A check's public cases, built once per process: every student gets the same ones,
    and the same objects let the runner reuse their encoded form."""
    return _public_cases.get((spec,), lambda: tuple(spec.public()))


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
