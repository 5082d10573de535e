"""Tests of grader.course: the shipped course.yaml loads; every bad file is a CourseError whose
single line names the file, the field and the problem; the models are frozen."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.checks import CATALOGUE
from grader.course import Check, Course, Exercise, Hidden, Limits, Tolerance, course_from_dict, \
    load_course
from grader.errors import CourseError, GraderError

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course.yaml"
FUNCTIONS = {module: set(checks) for module, checks in CATALOGUE.items()}


def shipped() -> dict:
    return yaml.safe_load(COURSE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data, name: str = "course.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def course_error(path: Path, catalogue=FUNCTIONS) -> str:
    """The CourseError's message; asserts it is one line that starts with the file."""
    with pytest.raises(CourseError) as info:
        load_course(path, catalogue)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert message.startswith(f"{path}: "), f"does not name the file: {message!r}"
    assert isinstance(info.value, GraderError)
    return message


# ---------------------------------------------------------------------------- the shipped file


def test_the_shipped_course_loads_against_the_catalogue():
    course = load_course(COURSE, FUNCTIONS)
    raw = shipped()
    assert course.title == raw["title"]
    assert [e.id for e in course.exercises] == [e["id"] for e in raw["exercises"]]
    for exercise in course.exercises:
        assert exercise.module in CATALOGUE
        for check in exercise.checks:
            assert check.function in CATALOGUE[exercise.module]
    assert course.max_score == sum(c["points"] for e in raw["exercises"] for c in e["checks"])
    assert course.max_score > 0


def test_lookup_of_exercises_by_id_or_module():
    course = load_course(COURSE, FUNCTIONS)
    first = course.exercises[0]
    assert course.exercise(first.id) is first
    assert course.exercise(first.module) is first
    with pytest.raises(CourseError, match="no exercise 'nope'"):
        course.exercise("nope")


def test_the_secret_comes_from_the_named_environment_variable(monkeypatch):
    course = load_course(COURSE, FUNCTIONS)
    monkeypatch.delenv(course.hidden.secret_env, raising=False)
    assert course.secret() is None
    monkeypatch.setenv(course.hidden.secret_env, "")
    assert course.secret() is None
    monkeypatch.setenv(course.hidden.secret_env, "s3cret")
    assert course.secret() == b"s3cret"


def test_defaults_fill_optional_sections(tmp_path):
    data = {"title": "Minimal", "exercises": [
        {"id": "backward", "module": "backward", "title": "B",
         "checks": [{"function": "mse_loss", "points": 2}]}]}
    course = load_course(write(tmp_path, data), FUNCTIONS)
    assert course.scoring == "all_or_nothing"
    assert course.hidden.secret_env == "GRADER_SECRET"
    assert course.limits.task_seconds > 0
    assert course.max_score == 2


# ---------------------------------------------------------------------------- frozen models


def test_models_are_frozen():
    course = load_course(COURSE, FUNCTIONS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.title = "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.exercises[0].checks[0].points = 100
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.limits.task_seconds = 1
    with pytest.raises(AttributeError):
        course.exercises.append(course.exercises[0])  # a tuple, not a list
    assert course.title == shipped()["title"]


def test_course_from_dict_rejects_unknown_keys_directly():
    with pytest.raises(CourseError, match=r"^colour: unknown field"):
        course_from_dict({**shipped(), "colour": "red"})


def test_course_from_dict_names_the_source_when_given():
    with pytest.raises(CourseError, match=r"^somewhere\.yaml: colour: unknown field"):
        course_from_dict({**shipped(), "colour": "red"}, "somewhere.yaml")
    with pytest.raises(CourseError, match="mapping of settings at the top level"):
        course_from_dict(["not", "a", "mapping"])


def test_a_course_from_dict_equals_the_loaded_one():
    assert course_from_dict(shipped()) == load_course(COURSE)


def test_replacing_a_section_keeps_the_rest():
    course = load_course(COURSE, FUNCTIONS)
    changed = dataclasses.replace(course, hidden=Hidden(cases_per_check=15))
    assert changed.hidden.cases_per_check == 15 and changed.exercises == course.exercises
    assert course.hidden.cases_per_check == shipped().get("hidden", {}).get("cases_per_check", 3)


# ---------------------------------------------------------------------------- built in code


def test_models_built_in_code_get_the_defaults():
    assert Tolerance() == Tolerance(rtol=0.0, atol_scale=1e-9)
    assert Limits() == Limits(task_seconds=10.0, import_seconds=10.0, memory_mb=1024,
                              cpu_seconds=120)
    assert Hidden() == Hidden(secret_env="GRADER_SECRET", cases_per_check=3)
    check = Check(function="mse_loss", points=2)
    assert (check.tolerance, check.title) == (None, "")
    course = Course(title="T", exercises=[Exercise(id="b", module="backward", title="B",
                                                   checks=[check])])
    assert course.scoring == "all_or_nothing" and course.student_id_pattern == r"^(?P<id>.+)$"
    assert course.limits == Limits() and course.hidden == Hidden()
    assert isinstance(course.exercises, tuple) and isinstance(course.exercises[0].checks, tuple)


def test_numbers_are_kept_as_their_field_type():
    assert type(Tolerance(rtol=0, atol_scale=1).rtol) is float
    assert type(Check(function="f", points=2).points) is float
    limits = course_from_dict({**shipped(), "limits": {"memory_mb": 512.0, "task_seconds": 2}})
    assert (limits.limits.memory_mb, type(limits.limits.memory_mb)) == (512, int)
    assert type(limits.limits.task_seconds) is float


@pytest.mark.parametrize("build, problem", [
    (lambda: Tolerance(rtol=2.0), "rtol: Input should be less than or equal to 1"),
    (lambda: Tolerance(rtol=-0.1), "rtol: Input should be greater than or equal to 0"),
    (lambda: Tolerance(atol_scale=float("nan")), "finite number"),
    (lambda: Tolerance(rtol="0.1"), "not a string"),
    (lambda: Tolerance(rtol=True), "valid number"),
    (lambda: Limits(task_seconds=0), "task_seconds: Input should be greater than 0"),
    (lambda: Limits(memory_mb=1.5e3 + 0.5), "fractional part"),
    (lambda: Limits(cpu_seconds=float("inf")), "finite number"),
    (lambda: Hidden(cases_per_check=101), "less than or equal to 100"),
    (lambda: Hidden(secret_env="lower"), "secret_env: String should match pattern"),
    (lambda: Check(function="has space", points=1), "'has space'"),
    (lambda: Check(function="f", points=0), "greater than 0"),
    (lambda: Check(function="f", points=1, tolerance={"rtol": 5}), "tolerance.rtol"),
    (lambda: Exercise(id="a", module="a", title="A", checks=()), "at least 1"),
    (lambda: Exercise(id="a", module="a", title="A",
                      checks=[Check(function="f", points=1)] * 2), "listed twice"),
    (lambda: Course(title="", exercises=[]), "title: String should have at least 1 character"),
    (lambda: Course(title="T", scoring="generous", exercises=[
        Exercise(id="a", module="a", title="A", checks=[Check(function="f", points=1)])]),
     "'generous'"),
])
def test_a_model_built_in_code_is_validated_too(build, problem):
    with pytest.raises(CourseError) as info:
        build()
    assert problem in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------------------- import cost


def test_the_check_path_does_not_import_pydantic():
    code = ("import grader.course, grader.cli, grader.checks.model; import sys; "
            "assert 'pydantic' not in sys.modules, 'pydantic was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    message = course_error(tmp_path / "nope.yaml")
    assert "no such file" in message and "--course" in message


def test_a_folder_instead_of_a_file(tmp_path):
    assert "cannot read" in course_error(tmp_path)


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "course.yaml"
    path.write_bytes(b"title: \xff\xfe\n")
    assert "cannot read" in course_error(path)


@pytest.mark.parametrize("text, line", [
    ("title: x\nexercises:\n  - id: [a\n  b: c\n", 4),
    ("title: x\n  bad: indent\n", 2),
    ("title: 'unclosed\n", 2),
    ("title: x\n\texercises: []\n", 2),
], ids=["flow-list", "indent", "quote", "tab"])
def test_invalid_yaml_names_the_line(tmp_path, text, line):
    message = course_error(write(tmp_path, text))
    assert f"line {line}" in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n", "42\n"],
                         ids=["empty", "list", "string", "number"])
def test_top_level_not_a_mapping(tmp_path, text):
    assert "mapping" in course_error(write(tmp_path, text))


def _set(path: tuple, value):
    def edit(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


def _drop(path: tuple):
    def edit(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        del node[last]
    return edit


def _append(path: tuple, value_of):
    def edit(data):
        node = data
        for key in path:
            node = node[key]
        node.append(value_of(data))
    return edit


BAD = {
    "unknown-top-level-key": (_set(("colour",), "red"), "colour", "unknown field"),
    "unknown-nested-key": (_set(("exercises", 0, "checks", 1, "pointz"), 1),
                           "exercises[0].checks[1].pointz", "unknown field"),
    "unknown-limits-key": (_set(("limits", "gpu"), True), "limits.gpu", "unknown field"),
    "points-not-a-number": (_set(("exercises", 0, "checks", 0, "points"), "two"),
                            "exercises[0].checks[0].points", "'two'"),
    "points-zero": (_set(("exercises", 0, "checks", 0, "points"), 0),
                    "exercises[0].checks[0].points", "greater than 0"),
    "points-negative": (_set(("exercises", 1, "checks", 2, "points"), -1),
                        "exercises[1].checks[2].points", "greater than 0"),
    "points-nan": (_set(("exercises", 0, "checks", 0, "points"), float("nan")),
                   "exercises[0].checks[0].points", "finite number"),
    "points-inf": (_set(("exercises", 0, "checks", 0, "points"), float("inf")),
                   "exercises[0].checks[0].points", "finite number"),
    "points-a-bool": (_set(("exercises", 0, "checks", 0, "points"), True),
                      "exercises[0].checks[0].points", "valid number (got True)"),
    "points-a-numeric-string": (_set(("exercises", 0, "checks", 0, "points"), "2"),
                                "exercises[0].checks[0].points", "not a string (got '2')"),
    "memory-a-fraction": (_set(("limits", "memory_mb"), 512.5), "limits.memory_mb",
                          "fractional part"),
    "limits-not-a-mapping": (_set(("limits",), 5), "limits", "mapping"),
    "checks-not-a-list": (_set(("exercises", 0, "checks"), "mse_loss"), "exercises[0].checks",
                          "a list"),
    "missing-function": (_drop(("exercises", 0, "checks", 0, "function")),
                         "exercises[0].checks[0].function", "required"),
    "unknown-tolerance-key": (_set(("exercises", 0, "checks", 0, "tolerance"), {"rtols": 0.1}),
                              "exercises[0].checks[0].tolerance.rtols", "unknown field"),
    "missing-title": (_drop(("title",)), "title", "required"),
    "missing-exercises": (_drop(("exercises",)), "exercises", "required"),
    "no-exercises": (_set(("exercises",), []), "exercises", "at least 1"),
    "no-checks": (_set(("exercises", 0, "checks"), []), "exercises[0].checks", "at least 1"),
    "bad-scoring": (_set(("scoring",), "generous"), "scoring", "'generous'"),
    "bad-identifier": (_set(("exercises", 0, "id"), "has space"), "exercises[0].id",
                       "'has space'"),
    "duplicate-function": (_append(("exercises", 0, "checks"),
                                   lambda d: dict(d["exercises"][0]["checks"][0])),
                           "exercises[0].checks", "listed twice"),
    "duplicate-exercise-id": (_append(("exercises",), lambda d: {
        **copy.deepcopy(d["exercises"][0]), "module": "backward"}),
        ".id 'activations' is already used", "by exercises[0]"),
    "duplicate-exercise-module": (_append(("exercises",), lambda d: {
        **copy.deepcopy(d["exercises"][0]), "id": "again"}),
        ".module 'activations' is already used", "by exercises[0]"),
    "unknown-module": (_set(("exercises", 1, "module"), "optimisers"), "exercises[1].module",
                       "'optimisers'"),
    "unknown-function": (_set(("exercises", 1, "checks", 0, "function"), "mse_lossy"),
                         "exercises[1].checks[0].function", "mse_lossy"),
    "pattern-without-id": (_set(("student_id_pattern",), "^(?P<who>.+)"), "student_id_pattern",
                           "(?P<id>"),
    "pattern-not-a-regex": (_set(("student_id_pattern",), "^(unclosed"), "student_id_pattern",
                            "not a regular expression"),
    "secret-env-lowercase": (_set(("hidden", "secret_env"), "grader_secret"),
                             "hidden.secret_env", "'grader_secret'"),
    "memory-too-small": (_set(("limits", "memory_mb"), 1), "limits.memory_mb", "128"),
    "negative-timeout": (_set(("limits", "task_seconds"), -1), "limits.task_seconds",
                         "greater than 0"),
    "tolerance-above-one": (_set(("exercises", 0, "checks", 0, "tolerance"), {"rtol": 2}),
                            "exercises[0].checks[0].tolerance.rtol", "less than or equal"),
}


@pytest.mark.parametrize("edit, field, problem", BAD.values(), ids=BAD.keys())
def test_bad_course_names_file_field_and_problem(tmp_path, edit, field, problem):
    data = shipped()
    edit(data)
    message = course_error(write(tmp_path, data))
    assert field in message, f"field {field!r} not named: {message}"
    assert problem in message, f"problem {problem!r} not named: {message}"


def test_unknown_module_lists_the_known_ones(tmp_path):
    data = shipped()
    data["exercises"][1]["module"] = "optimisers"
    message = course_error(write(tmp_path, data))
    for module in CATALOGUE:
        assert module in message


def test_the_catalogue_is_only_consulted_when_given(tmp_path):
    data = shipped()
    data["exercises"][1]["checks"][0]["function"] = "not_in_the_catalogue"
    path = write(tmp_path, data)
    assert load_course(path).exercises[1].checks[0].function == "not_in_the_catalogue"
    course_error(path)


def test_several_problems_are_counted_on_the_one_line(tmp_path):
    data = shipped()
    data["exercises"][0]["checks"][0]["points"] = 0
    data["exercises"][0]["checks"][1]["points"] = "two"
    message = course_error(write(tmp_path, data))
    assert "and 1 more problem" in message


def test_a_misspelt_required_key_names_the_misspelling(tmp_path):
    data = shipped()
    check = data["exercises"][0]["checks"][1]
    check["pointz"] = check.pop("points")
    message = course_error(write(tmp_path, data))
    assert "exercises[0].checks[1].pointz" in message and "unknown field" in message


def test_infinite_points_are_rejected(tmp_path):
    data = shipped()
    data["exercises"][0]["checks"][0]["points"] = float("inf")
    message = course_error(write(tmp_path, data))
    assert "exercises[0].checks[0].points" in message


def test_a_key_given_twice_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "course.yaml"
    path.write_text("title: a\ntitle: b\nexercises: []\n", encoding="utf-8")
    message = course_error(path)
    assert "line 2" in message and "'title' is given twice" in message


def test_a_duplicate_exercise_names_both_places(tmp_path):
    data = shipped()
    data["exercises"].append(dict(data["exercises"][0]))
    message = course_error(write(tmp_path, data))
    n = len(data["exercises"]) - 1
    assert f"exercises[{n}].id" in message and "exercises[0]" in message


def test_a_tolerance_for_a_statistical_check_is_refused(tmp_path):
    from grader.checks import CATALOGUE
    from grader.course import load_course
    data = shipped()
    index = next(i for i, e in enumerate(data["exercises"]) if e["module"] == "initializers")
    data["exercises"][index]["checks"][0]["tolerance"] = {"rtol": 0.5}
    path = write(tmp_path, data)
    with pytest.raises(CourseError) as err:
        load_course(path, CATALOGUE)
    message = str(err.value)
    assert f"exercises[{index}].checks[0].tolerance" in message
    assert "graded statistically" in message and "\n" not in message
