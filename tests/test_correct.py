"""Correct work gets full marks, whoever wrote it and in whatever style.

tests/correct/ holds complete submissions written from the contract alone, without
reading solutions/ or the grader (see tests/correct/README.md): plain numpy as a student
writes it (numpy scalars for 0-d results, np.where over both branches, np.linalg.norm),
explicit loops with Python floats and list histories, library-style numerics, and one
computed entirely with PyTorch float64. tests/correct/variants.yaml rewrites single
functions of solutions/ in other correct styles. Every one of them must score full marks
on the public and the hidden cases of 50 student ids: a false failure anywhere fails here.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml

from grader.checks import CATALOGUE
from grader.course import Course, load_course
from grader.grade import Options, grade
from grader.report.text import check_lines
from grader.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[1]
CORRECT = Path(__file__).parent / "correct"
SOLUTIONS = ROOT / "solutions"
STYLES = sorted(p.name for p in CORRECT.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
NUMPY_STYLES = [s for s in STYLES if s != "torch"]
VARIANTS = yaml.safe_load((CORRECT / "variants.yaml").read_text())
SECRET = b"correct-work-gets-full-marks"
STUDENTS = [f"student{i:02d}" for i in range(50)]
VARIANT_STUDENTS = STUDENTS[:10]
HEADER = "# A correct submission"


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT / "course.yaml", CATALOGUE)


def _grade_all(folder: Path, course: Course, students: list[str],
               exercise: str | None = None) -> list[SubmissionResult]:
    # Each grading runs in children of its own; two at a time keep both cores busy.
    def one(student: str) -> SubmissionResult:
        return grade(folder, course, Options(exercise=exercise, secret=SECRET,
                                             student_id=student))
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, students))


def _false_failures(results: list[SubmissionResult]) -> list[str]:
    return [f"{r.student_id} {c.name}: " + " | ".join(check_lines(c, cases=2))
            for r in results for c in r.checks if not c.passed]


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


# --- the corpus itself ------------------------------------------------------------------

def test_the_corpus_has_three_numpy_styles_and_a_pytorch_one():
    assert len(NUMPY_STYLES) >= 3 and "torch" in STYLES


@pytest.mark.parametrize("style", STYLES)
def test_every_style_defines_every_graded_function_and_says_it_is_independent(style, course):
    for exercise in course.exercises:
        path = CORRECT / style / f"{exercise.module}.py"
        assert path.read_text().startswith(HEADER), f"{path}: start with '{HEADER} ...'"
        missing = {c.function for c in exercise.checks} - _functions(path)
        assert not missing, f"{style}/{exercise.module}.py lacks {sorted(missing)}"


def _load(style: str, module: str):
    spec = importlib.util.spec_from_file_location(f"correct_{style}_{module}",
                                                  CORRECT / style / f"{module}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_the_corpus_really_uses_the_idioms_the_rule_is_about():
    """If the styles drifted towards the reference's defensive wrapping, the test above
    would prove nothing: these are the idioms that a stricter grader refused."""
    plain = _load("plain", "activations")
    assert type(plain.tanh(np.array(0.3))) is np.float64  # a numpy scalar for 0-d
    loops = _load("loops", "activations")
    assert any(type(getattr(loops, f)(np.array(0.3))) is float
               for f in ("sigmoid", "tanh", "gelu", "silu"))  # a Python float for 0-d
    with np.errstate(all="warn"), pytest.warns(RuntimeWarning):
        plain.elu_grad(np.array([1000.0, -1.0]))  # the discarded branch overflows
    clipping = _load("plain", "clipping")
    with np.errstate(all="ignore"):
        assert clipping.global_norm([np.full(3, 1e200)]) == np.inf  # as PyTorch's
    training = _load("loops", "training")
    X, Y = np.ones((2, 2)), np.zeros((2, 1))
    Ws, bs = [np.full((2, 1), 0.1)], [np.zeros(1)]
    history = training.sgd_train(X, Y, Ws, bs, lambda z: z, lambda z: np.ones_like(z),
                                 0.1, 2)
    assert type(history["loss"]) is list and type(history["grad_norms"]) is list


# --- full marks -------------------------------------------------------------------------

@pytest.mark.parametrize("style", STYLES)
def test_a_correct_submission_scores_full_marks_for_50_students(style, course):
    if style == "torch":
        pytest.importorskip("torch")
    results = _grade_all(CORRECT / style, course, STUDENTS)
    assert all(r.hidden_cases for r in results)
    failures = _false_failures(results)
    assert not failures, f"{len(failures)} false failures:\n" + "\n".join(failures[:20])
    assert all(r.score == r.max_score == 70 for r in results)


# --- single correct variants of the reference ----------------------------------------

def test_variant_list_is_well_formed():
    names = [v["name"] for v in VARIANTS]
    assert len(names) == len(set(names))
    for variant in VARIANTS:
        assert set(variant) <= {"name", "module", "description", "replace", "notes"}, variant
        assert variant["module"] in CATALOGUE
        for check, patterns in variant.get("notes", {}).items():
            assert check.startswith(variant["module"] + "."), variant["name"]
            for pattern in patterns:
                re.compile(pattern)


def _patched(variant: dict) -> str:
    source = (SOLUTIONS / f"{variant['module']}.py").read_text()
    for old, new in variant["replace"]:
        assert source.count(old) == 1, f"{variant['name']}: {old!r} must occur exactly once"
        source = source.replace(old, new)
    return source


@pytest.mark.parametrize("variant", [pytest.param(v, id=v["name"]) for v in VARIANTS])
def test_a_correct_variant_scores_full_marks_and_is_told_what_it_could_do_better(
        variant, course, tmp_path):
    module = variant["module"]
    shutil.copy(SOLUTIONS / f"{module}.py", tmp_path / f"{module}.py")
    (tmp_path / f"{module}.py").write_text(_patched(variant))
    results = _grade_all(tmp_path, course, VARIANT_STUDENTS, exercise=module)
    failures = _false_failures(results)
    assert not failures, "\n".join(failures[:10])
    for check, patterns in variant.get("notes", {}).items():
        notes = "\n".join(n for c in results[0].checks if c.name == check for n in c.notes)
        for pattern in patterns:
            assert re.search(pattern, notes), f"{check}: no note matches {pattern!r}:\n{notes}"
