"""course.yaml: what is graded, for how many points, within which limits.

Frozen pydantic models mirror the file; unknown keys are rejected so a typo
never silently changes a course. ``load_course`` is the only entry point and
raises CourseError with one line naming the file, the field and the problem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import CourseError

Identifier = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Tolerance(_Frozen):
    """|student - reference| <= rtol * |reference| + atol_scale * max|reference|, per element.

    ``atol_scale`` is relative to the reference array's own largest entry, so a
    layer whose gradient has vanished to 1e-30 is held to the same relative
    standard as one of size 1, and an all-zero answer never passes.
    """

    rtol: float = Field(default=0.0, ge=0.0, le=1.0)
    atol_scale: float = Field(default=1e-9, ge=0.0, le=1.0)


class Check(_Frozen):
    function: str = Identifier
    points: float = Field(gt=0)
    tolerance: Tolerance | None = None
    title: str = ""


class Exercise(_Frozen):
    id: str = Identifier
    module: str = Identifier
    title: str = Field(min_length=1)
    checks: tuple[Check, ...] = Field(min_length=1)

    @field_validator("checks")
    @classmethod
    def _unique_functions(cls, checks):
        seen = set()
        for check in checks:
            if check.function in seen:
                raise ValueError(f"function {check.function!r} is listed twice")
            seen.add(check.function)
        return checks


class Limits(_Frozen):
    task_seconds: float = Field(default=10.0, gt=0, le=3600)
    import_seconds: float = Field(default=10.0, gt=0, le=3600)
    memory_mb: int = Field(default=1024, ge=128, le=65536)
    cpu_seconds: int = Field(default=120, ge=1, le=86400)


class Hidden(_Frozen):
    """Hidden cases: drawn per submission from HMAC(secret, student id, check).

    The secret is read from the environment variable ``secret_env`` (never from
    this file, which students may see). Without it, ``grade`` refuses to run
    hidden cases unless told ``--public-only``; ``check`` never runs them.
    """

    secret_env: str = Field(default="GRADER_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$")
    cases_per_check: int = Field(default=3, ge=0, le=100)


class Course(_Frozen):
    title: str = Field(min_length=1)
    scoring: Literal["all_or_nothing", "proportional"] = "all_or_nothing"
    student_id_pattern: str = r"^(?P<id>[^.]+)"
    limits: Limits = Limits()
    hidden: Hidden = Hidden()
    exercises: tuple[Exercise, ...] = Field(min_length=1)

    @field_validator("student_id_pattern")
    @classmethod
    def _pattern_has_id(cls, value):
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "id" not in compiled.groupindex:
            raise ValueError("needs a named group (?P<id>...)")
        return value

    @field_validator("exercises")
    @classmethod
    def _unique_exercises(cls, exercises):
        for attr in ("id", "module"):
            seen: dict[str, int] = {}
            for i, exercise in enumerate(exercises):
                value = getattr(exercise, attr)
                if value in seen:
                    raise ValueError(f"exercises[{i}].{attr} {value!r} is already used by "
                                     f"exercises[{seen[value]}]")
                seen[value] = i
        return exercises

    def exercise(self, key: str) -> Exercise:
        for exercise in self.exercises:
            if key in (exercise.id, exercise.module):
                return exercise
        known = ", ".join(e.id for e in self.exercises)
        raise CourseError(f"no exercise {key!r} in this course (known: {known})")

    def secret(self) -> bytes | None:
        value = os.environ.get(self.hidden.secret_env)
        return value.encode() if value else None

    @property
    def max_score(self) -> float:
        return sum(c.points for e in self.exercises for c in e.checks)


def load_course(path: str | Path, catalogue: dict | None = None) -> Course:
    """Read and validate a course file.

    ``catalogue`` maps each module to its gradable functions: a set of names, or
    the CheckDefs themselves (then a tolerance given to a check that takes none
    is refused too).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseError(f"{path}: no such file; pass --course PATH or run from the "
                          "course folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path}: cannot read it ({exc})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise CourseError(f"{path}: {where}: {problem}") from None
    if not isinstance(data, dict):
        raise CourseError(f"{path}: expected a mapping of settings at the top level")
    try:
        course = Course.model_validate(data)
    except ValidationError as exc:
        raise CourseError(f"{path}: {_first_error(exc)}") from None
    if catalogue is not None:
        _check_against(course, catalogue, path)
    return course


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (YAML would silently keep the last)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              _mapping_without_duplicates)


def _first_error(exc: ValidationError) -> str:
    # A misspelt key also makes the right one "missing"; name the typo first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown field (check its spelling)"
    given = err.get("input")
    shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(given, (dict, list)) \
        else f" (got {given!r})"
    more = len(exc.errors()) - 1
    tail = f"; and {more} more problem{'s' * (more > 1)}" if more else ""
    if message.startswith("exercises["):
        return f"{message}{tail}"  # the message already names the exercise
    return f"{field or 'top level'}: {message}{shown}{tail}"


def _check_against(course: Course, catalogue: dict, path: Path) -> None:
    for i, exercise in enumerate(course.exercises):
        if exercise.module not in catalogue:
            known = ", ".join(sorted(catalogue))
            raise CourseError(f"{path}: exercises[{i}].module: the grader has no checks for "
                              f"module {exercise.module!r} (known: {known})")
        functions = catalogue[exercise.module]
        for j, check in enumerate(exercise.checks):
            if check.function not in functions:
                known = ", ".join(sorted(functions))
                raise CourseError(f"{path}: exercises[{i}].checks[{j}].function: no check for "
                                  f"{exercise.module}.{check.function} (known: {known})")
            spec = functions.get(check.function) if isinstance(functions, dict) else None
            if check.tolerance is not None and getattr(spec, "tolerance", True) is None:
                raise CourseError(f"{path}: exercises[{i}].checks[{j}].tolerance: "
                                  f"{exercise.module}.{check.function} is graded statistically"
                                  " and takes no tolerance; remove it")
