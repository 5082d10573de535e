"""Output paths: only the file is made, in a folder that exists; --out never costs the
user's own files.

A mistyped ``--json /nonexistent/dir/x.json`` used to make the folders (at ``/`` as root)
after grading; ``--out`` that is a file failed with a traceback after grading started;
and the clean-up of a batch's leftovers removed every dot-file in the results folder
(a .gitignore, a .env).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.batch import store
from grader.cli import main
from grader.errors import GraderError
from grader.files import TMP_PREFIX, write_text

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("grader: error: "), result.output
    for word in words:
        assert word in lines[0]


def test_grade_json_in_a_missing_folder_is_refused_before_grading(tmp_path):
    missing = tmp_path / "no" / "such"
    result = run("grade", str(SOLUTIONS), "--json", str(missing / "x.json"), "--public-only")
    one_line_error(result, str(missing), "no such folder")
    assert not (tmp_path / "no").exists()
    assert "->" not in result.output  # nothing was graded


def test_grade_html_in_a_missing_folder_is_refused(tmp_path):
    result = run("grade", str(SOLUTIONS), "--json", str(tmp_path / "x.json"), "--public-only",
                 "--html", str(tmp_path / "no" / "x.html"))
    one_line_error(result, str(tmp_path / "no"))
    assert not (tmp_path / "no").exists() and not (tmp_path / "x.json").exists()


def test_check_html_in_a_missing_folder_is_refused(tmp_path):
    result = run("check", str(SOLUTIONS), "-e", "activations", "--html",
                 str(tmp_path / "no" / "x.html"))
    one_line_error(result, str(tmp_path / "no"))
    assert not (tmp_path / "no").exists()


def test_json_onto_a_folder_is_refused(tmp_path):
    result = run("grade", str(SOLUTIONS), "--json", str(tmp_path), "--public-only")
    one_line_error(result, "is a folder")


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "file").write_text("mine")
    result = run("grade", str(SOLUTIONS), "--json", str(tmp_path / "file" / "x.json"),
                 "--public-only")
    one_line_error(result, "not a folder")
    assert (tmp_path / "file").read_text() == "mine"


def test_explore_outputs_in_a_missing_folder_are_refused(tmp_path):
    for option in ("--json", "--html"):
        result = run("explore", "--depth", "3", "--steps", "1", option,
                     str(tmp_path / "no" / "x"))
        one_line_error(result, str(tmp_path / "no"))
    assert not (tmp_path / "no").exists()


def test_export_in_a_missing_folder_is_refused(tmp_path):
    result = run("export", "gradescope", str(tmp_path / "no" / "autograder.zip"),
                 "--public-only")
    one_line_error(result, str(tmp_path / "no"))
    assert not (tmp_path / "no").exists()


def test_write_text_makes_only_the_file(tmp_path):
    with pytest.raises(GraderError, match="no such folder"):
        write_text(tmp_path / "a" / "b" / "x.txt", "x")
    assert not (tmp_path / "a").exists()
    write_text(tmp_path / "x.txt", "x")
    assert sorted(os.listdir(tmp_path)) == ["x.txt"]


def batch(classroom: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "batch", str(classroom), "--out",
                           str(out), "--public-only"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture()
def classroom(tmp_path):
    folder = tmp_path / "class" / "alice"
    folder.mkdir(parents=True)
    (folder / "activations.py").write_bytes((SOLUTIONS / "activations.py").read_bytes())
    return tmp_path / "class"


def test_batch_out_that_is_a_file_is_one_line_before_grading(tmp_path, classroom):
    (tmp_path / "out").write_text("mine")
    proc = batch(classroom, tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.startswith("grader: error: ")
    assert proc.stderr.count("\n") == 1 and "is a file" in proc.stderr
    assert "Traceback" not in proc.stderr and "[1/1]" not in proc.stderr
    assert (tmp_path / "out").read_text() == "mine"


def test_batch_out_needs_its_parent(tmp_path, classroom):
    proc = batch(classroom, tmp_path / "no" / "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no such folder" in proc.stderr and not (tmp_path / "no").exists()


def test_batch_keeps_the_users_dot_files_and_removes_only_its_own(tmp_path, classroom):
    out = tmp_path / "out"
    (out / "students" / "alice").mkdir(parents=True)
    mine = {out / ".gitignore": "*\n", out / ".env": "TOKEN=1\n",
            out / ".gradebook.csv.notes": "kept", out / "students" / ".keep": "",
            out / "students" / "alice" / ".notes": "kept",
            out / "students" / "alice" / ".results.json.bak": "kept"}
    for path, text in mine.items():
        path.write_text(text)
    leftovers = [out / "students" / "alice" / f"{TMP_PREFIX}results.json.4242",
                 out / "students" / "alice" / ".feedback.md.4242",  # an older version's
                 out / f"{TMP_PREFIX}gradebook.csv.abcd1234"]
    for path in leftovers:
        path.write_text("torn")
    proc = batch(classroom, out)
    assert proc.returncode == 0, proc.stderr
    for path, text in mine.items():
        assert path.read_text() == text, path
    assert not any(path.exists() for path in leftovers)
    assert (out / "gradebook.csv").is_file()


def test_clean_partial_touches_no_link_and_no_folder(tmp_path):
    (tmp_path / "students" / "alice").mkdir(parents=True)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / f"{TMP_PREFIX}results.json.1").write_text("not ours")
    (tmp_path / "students" / "bob").symlink_to(target)
    (tmp_path / f"{TMP_PREFIX}summary.md.abcdefgh").mkdir()
    assert store.clean_partial(tmp_path) == 0
    assert (target / f"{TMP_PREFIX}results.json.1").exists()
