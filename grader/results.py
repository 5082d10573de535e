"""Frozen results of grading; renderers (terminal, JSON) only format them.

What is derived from the fields (passed, failures, the scores) is computed on
first use and kept: the results never change, and the renderers ask for the
same facts hundreds of times per submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from grader.checks.model import CaseResult


@dataclass(frozen=True)
class CheckResult:
    module: str
    function: str
    title: str
    score: float
    max_score: float
    cases: tuple[CaseResult, ...]

    @property
    def name(self) -> str:
        return f"{self.module}.{self.function}"

    @cached_property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    @cached_property
    def failures(self) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if not c.passed)

    @cached_property
    def notes(self) -> tuple[str, ...]:
        """What the passed cases noted (a warning their right values came with), each once,
        public cases' first: they can say what happened where."""
        seen: dict[str, None] = {}
        for case in sorted(self.cases, key=lambda c: c.hidden):
            if case.passed and case.note:
                seen.setdefault(case.note)
        return tuple(seen)

    def to_dict(self) -> dict:
        return {"name": self.name, "score": self.score, "max_score": self.max_score,
                "status": self.status, "cases": [c.to_dict() for c in self.cases]}


@dataclass(frozen=True)
class ExerciseResult:
    id: str
    module: str
    title: str
    checks: tuple[CheckResult, ...]
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    active: tuple[str, ...] = ()  # sandbox protections in force for this module's runs
    missing: tuple[str, ...] = ()

    @cached_property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    @cached_property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)


@dataclass(frozen=True)
class SubmissionResult:
    submission: str
    student_id: str
    course_title: str
    exercises: tuple[ExerciseResult, ...]
    hidden_cases: bool
    seconds: float = 0.0
    notes: tuple[str, ...] = ()  # how the submission was read (e.g. notebook cells left out)

    @cached_property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @cached_property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)

    @cached_property
    def checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for e in self.exercises for c in e.checks)
