"""Reports stay small whatever a submission provokes: notes are capped, Gradescope output cut.

Before the caps, a notebook of cells each carrying 500 unknown ``module:`` tags made one
note per tag: 2 MB of notebook gave a 25 MB results.json and as much HTML, and 20 MB gave
hundreds of MB of each and GBs of memory. Gradescope keeps about 1 MB of output text per
submission, so everything past that would be lost anyway, without saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from grader.course import load_course
from grader.grade import grade_files
from grader.report.gradescope import MAX_OUTPUT_BYTES, cut, to_gradescope
from grader.submission import assemble
from grader.text import MAX_NOTES

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
MODULES = ["activations", "initializers", "clipping", "backward", "diagnostics", "fixes",
           "training"]

# Runs ``grader grade`` and prints the peak RSS of it and its children, in KiB.
MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True)
sys.stderr.buffer.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def hostile_notebook(size: int, tags: int = 500) -> bytes:
    """A valid notebook of about ``size`` bytes: cells with ``tags`` unknown module tags."""
    cells, total = [], 0
    while total < size:
        names = [f"module:x{len(cells)}_{k}" for k in range(tags)]
        cells.append({"cell_type": "code", "execution_count": None, "id": f"c{len(cells)}",
                      "metadata": {"tags": names}, "outputs": [], "source": "x = 1\n"})
        total += sum(len(n) + 4 for n in names) + 120
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5}).encode()


@pytest.mark.parametrize("megabytes", [2, 19.5])
def test_a_hostile_notebook_gives_small_reports_in_bounded_memory(tmp_path, activations_course,
                                                                  megabytes):
    book = tmp_path / "eve.ipynb"
    book.write_bytes(hostile_notebook(int(megabytes * 1e6)))
    out, html = tmp_path / "results.json", tmp_path / "feedback.html"
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "grader", "grade", str(book),
         "--course", str(activations_course), "--public-only", "--json", str(out),
         "--html", str(html)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=600)
    code, peak_kib = map(int, proc.stdout.split())
    assert code == 0, proc.stderr[-2000:]
    assert out.stat().st_size < 100_000 and html.stat().st_size < 100_000
    assert peak_kib < 600 * 1024, f"peak RSS {peak_kib // 1024} MB"
    output = json.loads(out.read_text())["output"].split("\n")
    notes = [line for line in output if line.startswith("note: ")]
    assert len(notes) <= MAX_NOTES + 1
    assert notes[-1].startswith("note: … ") and notes[-1].endswith(" more notes")
    assert int(notes[-1].split()[2]) > 100_000 * megabytes / 2  # every note is counted


def test_notes_of_many_notebooks_are_capped_together():
    files = {f"book{i}.ipynb": hostile_notebook(50_000, tags=50) for i in range(5)}
    notes = assemble(files, MODULES).notes
    assert len(notes) == MAX_NOTES + 1
    assert notes[0].startswith("book0.ipynb: cell 1: tag module:x0_0 names no exercise")
    more = int(notes[-1].split()[1])
    assert more > 5 * 1000 - MAX_NOTES  # each notebook's uncounted rest is carried over


def test_a_huge_tag_is_quoted_short():
    files = {"book.ipynb": json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "a", "outputs": [],
                   "metadata": {"tags": ["module:" + "y" * 1_000_000]}, "source": ""}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()}
    notes = assemble(files, MODULES).notes
    assert sum(map(len, notes)) < 10_000


def test_gradescope_output_is_cut_under_its_limit_and_says_so():
    course = load_course(REPO / "course.yaml")
    files = {"activations.py": (SOLUTIONS / "activations.py").read_bytes()}
    result = grade_files(files, "eve", "eve", course)
    # Notes are capped where they are made; these stand for any text that adds up.
    flooded = replace(result, notes=tuple("n" * 100_000 for _ in range(40)))
    data = to_gradescope(flooded)
    total = len(data["output"].encode()) + sum(len(t["output"].encode()) for t in data["tests"])
    assert total <= MAX_OUTPUT_BYTES
    assert "… cut: " in data["output"].split("\n")[-1]
    assert len(data["tests"]) == len(result.checks)  # every check is still listed
    json.dumps(data)


def test_cut_keeps_short_text_and_valid_utf8():
    assert cut("short", 100) == "short"
    long = "日本" * 100_000
    out = cut(long, 10_000)
    assert len(out.encode("utf-8")) <= 10_000 + 200
    assert out.split("\n")[-1].startswith("… cut: ")
