"""Checks are data: a function, its public and hidden cases, and how to judge a case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from grader.course import Tolerance
from grader.sandbox.run import Call, TaskOutcome


@dataclass(frozen=True)
class Case:
    """One input (or a short sequence of calls) for a function.

    ``calls`` go to the child; ``data`` stays in the grader (the inputs and
    settings the judge needs to compute the expected answer).
    """

    label: str
    calls: tuple[Call, ...]
    data: Mapping[str, Any] = field(default_factory=dict)
    hidden: bool = False


@dataclass(frozen=True)
class LayerRow:
    """One row of the per-layer table of a backward-pass check (layer is 1-based)."""

    layer: int
    ref_norm: float
    student_norm: float
    rel_error: float
    match: bool


@dataclass(frozen=True)
class CaseResult:
    label: str
    status: str  # "passed" or one of the failure statuses in grader.checks.status
    message: str = ""
    hint: str = ""
    hidden: bool = False
    layers: tuple[LayerRow, ...] = ()
    where: str = ""  # the student's file:line, when an exception points there
    # (z, reference, student) as three tuples of floats: a public activation case sampled
    # on a grid, kept only when it fails, so reports can draw both curves
    curve: tuple = ()
    # Something worth knowing about a case that passed (a warning its right values came
    # with, and how to avoid it); never costs marks
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        out = {"label": self.label, "status": self.status, "message": self.message,
               "hint": self.hint, "hidden": self.hidden, "where": self.where}
        if self.note:
            out["note"] = self.note
        if self.layers:
            out["layers"] = [vars(row).copy() for row in self.layers]
        if self.curve:
            out["curve"] = [list(values) for values in self.curve]
        return out


Judge = Callable[[Case, TaskOutcome, Tolerance], CaseResult]


@dataclass(frozen=True)
class CheckDef:
    """How one student function is graded.

    public() gives the fixed cases every student sees; hidden(rng, n) draws n
    more from a generator seeded per submission. judge() turns one case's
    outcome into a CaseResult; it may use the reference engine, never the
    student's code.
    """

    function: str
    public: Callable[[], list[Case]]
    hidden: Callable[[np.random.Generator, int], list[Case]]
    judge: Judge
    tolerance: Tolerance | None  # None: judged without one (e.g. statistically)
    title: str = ""
