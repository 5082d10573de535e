"""Student ids: a pure, stable function of each submission's own name, never shared.

Hidden cases are seeded by the id (grade.hidden_rng), so an id that shifts when a
classmate's submission arrives changes a student's grade; an id two submissions share
puts one's result in the other's folder.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.batch.run import _students
from grader.batch.unpack import discover, student_id
from grader.checks import CATALOGUE
from grader.course import load_course
from grader.errors import GraderError
from grader.grade import student_id as grade_student_id

REPO = Path(__file__).resolve().parents[2]
COURSE = load_course(REPO / "course.yaml", CATALOGUE)
PATTERN = COURSE.student_id_pattern


def ids(folder: Path) -> dict[str, str]:
    return {path.name: sid for path, sid in _students(discover(folder), PATTERN)}


def make(folder: Path, *names: str) -> Path:
    for name in names:
        if name.endswith((".zip", ".ipynb")):
            (folder / name).write_bytes(b"")
        else:
            (folder / name).mkdir(parents=True)
    return folder


def test_the_default_pattern_keeps_the_whole_name(tmp_path):
    got = ids(make(tmp_path, "alice.smith", "alice.jones"))
    assert got == {"alice.smith": "alice.smith", "alice.jones": "alice.jones"}


def test_a_new_submission_changes_no_other_id(tmp_path):
    before = ids(make(tmp_path, "alice.smith", "alice.jones", "bob"))
    make(tmp_path, "alice.adams", "alice", "alice-2", "Alice Smith")
    after = ids(tmp_path)
    assert {name: after[name] for name in before} == before
    assert len(set(after.values())) == len(after)


def test_ids_do_not_depend_on_order_or_counters(tmp_path):
    make(tmp_path, "alice", "alice-2", "carol")
    paths = discover(tmp_path)
    forward = dict((p.name, sid) for p, sid in _students(paths, PATTERN))
    backward = dict((p.name, sid) for p, sid in _students(paths[::-1], PATTERN))
    assert forward == backward == {"alice": "alice", "alice-2": "alice-2", "carol": "carol"}


def test_two_submissions_with_one_id_stop_the_batch_before_grading(tmp_path):
    make(tmp_path, "alice", "alice-2", "alice.zip")
    with pytest.raises(GraderError) as caught:
        _students(discover(tmp_path), PATTERN)
    message = str(caught.value)
    assert "\n" not in message and "'alice'" in message and "'alice.zip'" in message
    assert "alice-2" not in message


def test_a_lossy_name_gets_a_hash_of_the_name_as_written(tmp_path):
    names = ["bob?", "bob*", "bob_"]
    got = {name: student_id(tmp_path / name, PATTERN) for name in names}
    assert got["bob_"] == "bob_"
    assert re.fullmatch(r"bob_-[0-9a-f]{8}", got["bob?"]) and got["bob?"] != got["bob*"]
    assert student_id(tmp_path / "bob?", PATTERN) == got["bob?"]  # stable


def test_grade_and_batch_give_the_same_id(tmp_path):
    for name in ("alice.smith", "alice.zip", "bob?", "x" * 300):
        path = tmp_path / name
        assert grade_student_id(path, COURSE) == student_id(path, PATTERN)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 file names")
def test_a_folder_name_that_is_not_utf8_is_graded_and_shown_safely(tmp_path):
    classroom = tmp_path / "class"
    bob = Path(os.fsdecode(bytes(classroom) + b"/bob\xff"))
    bob.mkdir(parents=True)
    (bob / "activations.py").write_bytes((REPO / "solutions" / "activations.py").read_bytes())
    (classroom / "bob_").mkdir()
    (classroom / "bob_" / "activations.py").write_bytes(b"x = 1\n")
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(classroom), "--out",
                           str(out), "--public-only"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with (out / "gradebook.csv").open(encoding="utf-8") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"bob\\xff", "bob_"}
    assert re.fullmatch(r"bob_-[0-9a-f]{8}", rows["bob\\xff"]["student_id"])
    assert rows["bob_"]["student_id"] == "bob_"
    assert float(rows["bob\\xff"]["activations"]) > 0 and rows["bob_"]["activations"] == "0"


def test_gradebook_cells_that_look_like_formulas_are_not_run_by_a_spreadsheet():
    from grader.batch.summary import gradebook_csv
    records = [{"student_id": "-cmd", "source": "=HYPERLINK(\"http://evil\")", "score": 1.0,
                "max_score": 2.0, "exercises": {}, "status": "graded"},
               {"student_id": "alice", "source": "alice.zip", "score": 2.0,
                "max_score": 2.0, "exercises": {}, "status": "graded"}]
    rows = list(csv.reader(io.StringIO(gradebook_csv(records, []))))
    assert rows[1][:2] == ["'-cmd", "'=HYPERLINK(\"http://evil\")"]
    assert rows[2][:2] == ["alice", "alice.zip"]
