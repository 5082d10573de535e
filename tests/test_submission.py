"""Notebook submissions through the whole grader: assembly, check, grade, batch and reports."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat.v4 as v4
import pytest
from click.testing import CliRunner

from grader.checks import CATALOGUE, status
from grader.cli import main
from grader.course import load_course
from grader.grade import Options, grade_files
from grader.submission import assemble

REPO = Path(__file__).resolve().parents[1]
COURSE = load_course(REPO / "course.yaml", CATALOGUE)
MODULES = [e.module for e in COURSE.exercises]
CLIPPING = (REPO / "solutions" / "clipping.py").read_text()


def notebook(*cells) -> bytes:
    """A saved notebook from (source, tags) pairs, all code cells."""
    made = [v4.new_code_cell(source, metadata={"tags": list(tags)}, id=f"c{i}")
            for i, (source, tags) in enumerate(cells)]
    return (json.dumps(v4.new_notebook(cells=made), indent=1) + "\n").encode()


def test_py_files_alone_never_touch_notebooks():
    files = {f"{m}.py": b"x = 1\n" for m in MODULES} | {"lesson.ipynb": b"not even json"}
    got = assemble(files, MODULES)
    assert set(got.files) == {f"{m}.py" for m in MODULES} and got.notes == ()


def test_a_notebook_fills_in_the_modules_without_a_py_file():
    book = notebook((CLIPPING, ["module:clipping"]), ("print('hi')", ["module:activations"]))
    got = assemble({"activations.py": b"A = 1\n", "work.ipynb": book}, MODULES)
    assert got.files["activations.py"] == b"A = 1\n"  # the .py file wins
    assert b"def clip_grad_norm" in got.files["clipping.py"]
    assert got.from_notebooks == {"clipping.py"}
    assert any("activations.py is in the submission too" in n for n in got.notes)
    assert set(got.missing) == set(MODULES) - {"activations", "clipping"}
    assert "module:backward" in got.missing["backward"]


def test_two_notebooks_tagging_one_module_keep_the_first():
    first = notebook(("X = 1", ["module:clipping"]))
    second = notebook(("X = 2", ["module:clipping"]))
    got = assemble({"a.ipynb": first, "b.ipynb": second}, ["clipping"])
    assert b"X = 1" in got.files["clipping.py"]
    assert any(n.startswith("b.ipynb:") and "a.ipynb" in n for n in got.notes)


def test_an_unreadable_notebook_costs_its_modules_with_the_reason():
    got = assemble({"broken.ipynb": b"{not json"}, ["clipping"])
    assert got.files == {}
    assert got.missing["clipping"].startswith("broken.ipynb: ")
    assert "clipping is not graded" in got.missing["clipping"]


def test_a_notebook_submission_gets_cell_locations_in_its_feedback():
    broken = CLIPPING.replace("def clip_grad_value(grads, clip_value):",
                              "def clip_grad_value(grads, clip_value):\n    raise ValueError('x')")
    book = notebook(("import numpy as np", ["module:clipping"]), (broken, ["module:clipping"]))
    result = grade_files({"mine.ipynb": book}, "mine.ipynb", "s", COURSE,
                         Options(exercise="clipping"))
    (check,) = [c for c in result.checks if c.function == "clip_grad_value"]
    case = check.failures[0]
    assert case.status == status.EXCEPTION
    assert "(cell 2, line" in case.where and "(cell 2, line" in case.message
    others = [c for c in result.checks if c.function != "clip_grad_value"]
    assert all(c.passed for c in others)


def test_check_a_notebook_and_write_its_html_report(tmp_path):
    book = tmp_path / "clipping.ipynb"
    book.write_bytes(notebook(("%matplotlib inline\n" + CLIPPING, ["module:clipping"])))
    report = tmp_path / "report.html"
    run = CliRunner().invoke(main, ["check", str(book), "--exercise", "clipping", "--html",
                                    str(report), "--course", str(REPO / "course.yaml")])
    assert run.exit_code == 0, run.output
    assert "note: clipping.ipynb: cell 1" in run.output and "Score 6/6" in run.output
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "clipping" in page
    assert "How your submission was read:" in page and "%matplotlib" in page


def test_grade_a_malformed_notebook_scores_zero_and_says_why(tmp_path):
    book = tmp_path / "alice.ipynb"
    book.write_text('{"cells": []}')
    out = tmp_path / "alice.json"
    run = CliRunner().invoke(main, ["grade", str(book), "--json", str(out), "--public-only",
                                    "--course", str(REPO / "course.yaml")])
    assert run.exit_code == 0, run.output  # grading finished: the zero is the student's
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "alice.ipynb: " in data["output"]


def test_batch_grades_notebooks_bare_and_zipped_with_html_reports(tmp_path):
    classroom = tmp_path / "class"
    classroom.mkdir()
    book = notebook((CLIPPING, ["module:clipping"]))
    (classroom / "alice.ipynb").write_bytes(book)
    with zipfile.ZipFile(classroom / "bob.zip", "w") as z:
        z.writestr("work/clipping.ipynb", book)
    (classroom / "carol.ipynb").write_bytes(b"{oops")
    out = tmp_path / "results"
    run = CliRunner().invoke(main, ["batch", str(classroom), "--out", str(out), "--jobs", "1",
                                    "--public-only", "--course", str(REPO / "course.yaml")])
    assert run.exit_code == 0, run.output
    for sid, score in (("alice", 6), ("bob", 6), ("carol", 0)):
        record = json.loads((out / "students" / sid / "record.json").read_text())
        assert record["score"] == score, (sid, record)
        assert (out / "students" / sid / "feedback.html").read_text(encoding="utf-8")
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, words", [
    (["--executor", "dask"], "needs --scheduler"),
    (["--scheduler", "tcp://x:1"], "needs --scheduler ADDRESS (and --scheduler needs"),
])
def test_batch_executor_options_are_checked(tmp_path, args, words):
    run = CliRunner().invoke(main, ["batch", str(tmp_path), "--out", str(tmp_path / "o"),
                                    "--public-only", "--course", str(REPO / "course.yaml"),
                                    *args])
    assert run.exit_code == 2 and words in run.output
