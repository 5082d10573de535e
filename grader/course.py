"""course.yaml: what is graded, for how many points, within which limits.

Frozen dataclasses mirror the file. Each field carries its rule (a number in a range, an
identifier, one of a few names, a nested section) in its metadata, and one small validator
applies the rules both when a file is read and when a model is built in code, so a bad value
never sits in a model. Unknown keys are rejected so a typo never silently changes a course.
``load_course`` reads a file and ``course_from_dict`` validates a mapping already parsed;
both raise CourseError with one line naming the field and the problem (and the file).

The validator is written out here rather than taken from pydantic: `grader check` has to
start in well under half a second, and importing pydantic cost about a fifth of that.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from grader.errors import CourseError

# A rule checks one value at ``loc`` (the path of keys and indexes from the top of the file):
# it returns the value as the model keeps it (ints as floats, lists as tuples, mappings as
# models), or _BAD after recording why in ``problems``.
_BAD = object()
_UNSHOWN = object()  # a problem with no offending value to show (a missing or unknown key)
_UNKNOWN = "unknown field (check its spelling)"

Loc = tuple  # of str keys and int indexes
Rule = Callable[[Any, Loc, list], Any]


class _Problem:
    """One problem at ``loc``; ``given`` is the offending value, shown after the message."""

    __slots__ = ("loc", "message", "given", "unknown")

    def __init__(self, loc: Loc, message: str, given: Any = _UNSHOWN, unknown: bool = False):
        self.loc, self.message, self.given = loc, message, given
        self.unknown = unknown  # a misspelt key also makes the right one missing: name it first


def _fail(problems: list, loc: Loc, message: str, given: Any = _UNSHOWN) -> object:
    problems.append(_Problem(loc, message, given))
    return _BAD


def _plain(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def _number(*, gt: float | None = None, ge: float | None = None, le: float | None = None,
            integer: bool = False) -> Rule:
    """A finite int or float (never a bool, never a string), kept as int or float."""
    kind = "integer" if integer else "number"

    def rule(given, loc, problems):
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            extra = ", not a string" if isinstance(given, str) else ""
            return _fail(problems, loc, f"Input should be a valid {kind}{extra}", given)
        try:
            value = float(given)
        except OverflowError:  # an int beyond any float
            value = math.inf
        if not math.isfinite(value):
            return _fail(problems, loc, "Input should be a finite number", given)
        if integer:
            if value != int(value):
                return _fail(problems, loc, "Input should be a valid integer, got a number "
                                            "with a fractional part", given)
            value = int(given)
        if gt is not None and not value > gt:
            return _fail(problems, loc, f"Input should be greater than {_plain(gt)}", given)
        if ge is not None and not value >= ge:
            return _fail(problems, loc, f"Input should be greater than or equal to {_plain(ge)}",
                         given)
        if le is not None and not value <= le:
            return _fail(problems, loc, f"Input should be less than or equal to {_plain(le)}",
                         given)
        return value
    return rule


def _text(*, min_length: int = 0, pattern: str | None = None) -> Rule:
    """A string, at least ``min_length`` long, matching all of ``pattern`` if given."""
    compiled = re.compile(pattern) if pattern else None

    def rule(given, loc, problems):
        if not isinstance(given, str):
            return _fail(problems, loc, "Input should be a valid string", given)
        if len(given) < min_length:
            return _fail(problems, loc, f"String should have at least {min_length} "
                                        f"character{'s' * (min_length > 1)}", given)
        if compiled is not None and not compiled.fullmatch(given):  # a trailing \n fails too
            return _fail(problems, loc, f"String should match pattern '{pattern}'", given)
        return given
    return rule


def _one_of(*choices: str) -> Rule:
    def rule(given, loc, problems):
        if isinstance(given, str) and given in choices:
            return given
        names = " or ".join(f"{c!r}" for c in choices)
        return _fail(problems, loc, f"Input should be {names}", given)
    return rule


def _model(cls: type, *, optional: bool = False) -> Rule:
    """A nested section: a mapping of its settings (or the model itself, built in code)."""
    def rule(given, loc, problems):
        if given is None and optional:
            return None
        if isinstance(given, cls):
            return given  # validated when it was built
        return _build(cls, given, loc, problems)
    return rule


def _models(cls: type, *, min_length: int) -> Rule:
    """A list of sections, kept as a tuple."""
    item_rule = _model(cls)

    def rule(given, loc, problems):
        if not isinstance(given, (list, tuple)):
            return _fail(problems, loc, "Input should be a list", given)
        items = tuple([item_rule(item, (*loc, i), problems) for i, item in enumerate(given)])
        if any(item is _BAD for item in items):
            return _BAD
        if len(items) < min_length:
            return _fail(problems, loc, f"List should have at least {min_length} "
                                        f"item{'s' * (min_length > 1)}, not {len(items)}", given)
        return items
    return rule


def _field(rule: Rule, *, default: Any = MISSING, check: Callable | None = None):
    """A model field with its rule; ``check(value)`` raises ValueError for a bad whole value."""
    return field(default=default, metadata={"rule": rule, "check": check})


def _apply(spec, given: Any, loc: Loc, problems: list) -> Any:
    value = spec.metadata["rule"](given, loc, problems)
    check = spec.metadata["check"]
    if value is not _BAD and check is not None:
        try:
            check(value)
        except ValueError as exc:
            return _fail(problems, loc, str(exc), given)
    return value


def _build(cls: type, data: Any, loc: Loc, problems: list) -> Any:
    """Validate a mapping into a ``cls``, or record every problem in it and return _BAD."""
    if not isinstance(data, dict):
        return _fail(problems, loc, "Input should be a mapping of settings (key: value)", data)
    before = len(problems)
    specs = fields(cls)
    values = {}
    for spec in specs:
        if spec.name in data:
            values[spec.name] = _apply(spec, data[spec.name], (*loc, spec.name), problems)
        elif spec.default is MISSING:
            _fail(problems, (*loc, spec.name), "Field required")
    names = {spec.name for spec in specs}
    for key in data:
        if not isinstance(key, str):
            _fail(problems, (*loc, key), "Keys should be strings", key)
        elif key not in names:
            problems.append(_Problem((*loc, key), _UNKNOWN, unknown=True))
    if len(problems) > before:
        return _BAD
    return cls(**values)  # its __post_init__ finds nothing more: the same rules, passed


def _describe(problems: list[_Problem]) -> str:
    """The first problem in one line (an unknown key first), and how many more there are."""
    first = sorted(problems, key=lambda p: not p.unknown)[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.loc).lstrip(".")
    given = first.given
    shown = "" if given is _UNSHOWN or isinstance(given, (dict, list)) else f" (got {given!r})"
    more = len(problems) - 1
    tail = f"; and {more} more problem{'s' * (more > 1)}" if more else ""
    if first.message.startswith("exercises["):
        return f"{first.message}{tail}"  # the message already names the exercise
    return f"{where or 'top level'}: {first.message}{shown}{tail}"


class _Model:
    """Applies every field's rule when built, so a model built in code is checked too."""

    def __post_init__(self) -> None:
        problems: list[_Problem] = []
        for spec in fields(self):
            given = getattr(self, spec.name)
            value = _apply(spec, given, (spec.name,), problems)
            if value is not given and value is not _BAD:
                object.__setattr__(self, spec.name, value)  # 1 -> 1.0, [...] -> (...)
        if problems:
            raise CourseError(f"{type(self).__name__}: {_describe(problems)}")


_IDENTIFIER = _text(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


def _unique_functions(checks: tuple[Check, ...]) -> None:
    seen = set()
    for check in checks:
        if check.function in seen:
            raise ValueError(f"function {check.function!r} is listed twice")
        seen.add(check.function)


def _unique_exercises(exercises: tuple[Exercise, ...]) -> None:
    for attr in ("id", "module"):
        seen: dict[str, int] = {}
        for i, exercise in enumerate(exercises):
            value = getattr(exercise, attr)
            if value in seen:
                raise ValueError(f"exercises[{i}].{attr} {value!r} is already used by "
                                 f"exercises[{seen[value]}]")
            seen[value] = i


def _pattern_has_id(value: str) -> None:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    if "id" not in compiled.groupindex:
        raise ValueError("needs a named group (?P<id>...)")


@dataclass(frozen=True, kw_only=True)
class Tolerance(_Model):
    """|student - reference| <= rtol * |reference| + atol_scale * max|reference|, per element.

    ``atol_scale`` is relative to the reference array's own largest entry, so a
    layer whose gradient has vanished to 1e-30 is held to the same relative
    standard as one of size 1, and an all-zero answer never passes.
    """

    rtol: float = _field(_number(ge=0.0, le=1.0), default=0.0)
    atol_scale: float = _field(_number(ge=0.0, le=1.0), default=1e-9)


@dataclass(frozen=True, kw_only=True)
class Check(_Model):
    function: str = _field(_IDENTIFIER)
    points: float = _field(_number(gt=0))
    tolerance: Tolerance | None = _field(_model(Tolerance, optional=True), default=None)
    title: str = _field(_text(), default="")


@dataclass(frozen=True, kw_only=True)
class Exercise(_Model):
    id: str = _field(_IDENTIFIER)
    module: str = _field(_IDENTIFIER)
    title: str = _field(_text(min_length=1))
    checks: tuple[Check, ...] = _field(_models(Check, min_length=1), check=_unique_functions)


@dataclass(frozen=True, kw_only=True)
class Limits(_Model):
    task_seconds: float = _field(_number(gt=0, le=3600), default=10.0)
    import_seconds: float = _field(_number(gt=0, le=3600), default=10.0)
    memory_mb: int = _field(_number(ge=128, le=65536, integer=True), default=1024)
    cpu_seconds: int = _field(_number(ge=1, le=86400, integer=True), default=120)
    submission_seconds: float = _field(_number(gt=0, le=86400), default=300.0)


@dataclass(frozen=True, kw_only=True)
class Hidden(_Model):
    """Hidden cases: drawn per submission from HMAC(secret, student id, check).

    The secret is read from the environment variable ``secret_env`` (never from
    this file, which students may see). Without it, ``grade`` refuses to run
    hidden cases unless told ``--public-only``; ``check`` never runs them.
    """

    secret_env: str = _field(_text(pattern=r"^[A-Z_][A-Z0-9_]*$"), default="GRADER_SECRET")
    cases_per_check: int = _field(_number(ge=0, le=100, integer=True), default=3)


@dataclass(frozen=True, kw_only=True)
class Course(_Model):
    title: str = _field(_text(min_length=1))
    scoring: str = _field(_one_of("all_or_nothing", "proportional"), default="all_or_nothing")
    # The whole name by default: cutting it (at a dot, say) makes alice.smith and
    # alice.jones one student. Names are matched without their .zip or .ipynb.
    student_id_pattern: str = _field(_text(), default=r"^(?P<id>.+)$", check=_pattern_has_id)
    limits: Limits = _field(_model(Limits), default=Limits())
    hidden: Hidden = _field(_model(Hidden), default=Hidden())
    exercises: tuple[Exercise, ...] = _field(_models(Exercise, min_length=1),
                                             check=_unique_exercises)

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


def course_from_dict(data: dict, source: str | Path | None = None) -> Course:
    """Validate a mapping shaped like course.yaml (already parsed) into a Course.

    Every problem is collected; the CourseError names the first (an unknown key before the
    rest) in one line, counts the others, and starts with ``source`` (a file name) if given.
    """
    prefix = f"{source}: " if source is not None else ""
    if not isinstance(data, dict):
        raise CourseError(f"{prefix}expected a mapping of settings at the top level")
    problems: list[_Problem] = []
    course = _build(Course, data, (), problems)
    if problems:
        raise CourseError(f"{prefix}{_describe(problems)}")
    return course


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
    course = course_from_dict(data, path)
    if catalogue is not None:
        _check_against(course, catalogue, path)
    return course


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that rejects a key given twice (YAML would silently keep the last).

    Built on libyaml's parser where PyYAML has it: several times faster to read a course
    file, which every `grader check` does."""


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
