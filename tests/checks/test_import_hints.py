"""A module that does not import is said once, with what to do; a matrix product of the
wrong shapes is said in words. Each case grades a copy of the solutions with one change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.course import load_course
from grader.grade import Options, grade
from grader.report.html import submission_html
from grader.report.text import next_step, render

REPO = Path(__file__).resolve().parents[2]
COURSE = load_course(REPO / "course.yaml")


def _graded(tmp_path: Path, module: str, change) -> tuple:
    shutil.copytree(REPO / "solutions", tmp_path, dirs_exist_ok=True)
    path = tmp_path / f"{module}.py"
    path.write_text(change(path.read_text()))
    result = grade(tmp_path, COURSE, Options(exercise=module))
    return result, render(result)


def _line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if line == text)


def test_a_syntax_error_is_one_line_with_its_place_and_a_hint(tmp_path):
    result, text = _graded(tmp_path, "clipping", lambda s: s + "\ndef broken(:\n    pass\n")
    line = len((tmp_path / "clipping.py").read_text().splitlines()) - 1
    assert text.count("does not import") == 1
    assert "clipping.py does not import, so none of its" in text
    assert "fix the syntax at that line" in text
    assert f"clipping.py:{line}" in next_step(result)
    assert "make clipping.py import" in next_step(result)
    assert text.count("SyntaxError") == 1  # not once per function
    page = submission_html(result)
    assert page.count("does not import") == 1 and "fix the syntax" in page


def test_a_package_the_grader_lacks_is_named(tmp_path):
    pytest.importorskip("numpy")
    _, text = _graded(tmp_path, "clipping",
                      lambda s: "import not_a_package_here.pyplot as plt\n" + s)
    assert "not_a_package_here is not installed where your code was graded" in text
    assert "numpy and Python's standard library" in text


def test_a_missing_course_module_is_not_called_uninstalled(tmp_path):
    (tmp_path / "sub").mkdir()
    sub = tmp_path / "sub"
    source = (REPO / "solutions" / "backward.py").read_text()
    (sub / "backward.py").write_text("from not_in_this_folder import helper\n" + source)
    result = grade(sub, COURSE, Options(exercise="backward"))
    assert "not_in_this_folder is not installed" in render(result)
    # A sibling module of the course is reported as missing elsewhere, never as a package.
    (sub / "backward.py").write_text("from activations import relu\n" + source)
    text = render(grade(sub, COURSE, Options(exercise="backward")))
    assert "activations is not installed" not in text


def test_a_transposed_product_is_explained_with_the_operand_sizes(tmp_path):
    def swap(source: str) -> str:
        assert "    dx = dout @ W.T\n" in source
        return source.replace("    dx = dout @ W.T\n", "    dx = dout @ W\n", 1)

    result, text = _graded(tmp_path, "backward", swap)
    line = _line_of((tmp_path / "backward.py").read_text(), "    dx = dout @ W")
    linear = next(c for c in result.exercises[0].checks if c.function == "linear_backward")
    hint = linear.failures[0].hint
    assert f"backward.py:{line}" in hint
    assert "linear_backward" in hint
    assert "left operand with" in hint and "columns and a right operand with" in hint
    assert "dA_{l-1} = dZ_l @ W_l.T" in hint
    assert "matrix product" in text
