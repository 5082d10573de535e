"""A student's folder: rendered by the worker as the renderers write it, stored atomically,
and trusted on a rerun only while every file still matches its record."""

from __future__ import annotations

import json
import pickle

from grader.batch import render, store
from grader.checks import status
from grader.checks.model import CaseResult
from grader.report.gradescope import to_gradescope
from grader.report.html import submission_html
from grader.report.markdown import feedback_markdown
from grader.results import CheckResult, ExerciseResult, SubmissionResult


def result() -> SubmissionResult:
    relu = CheckResult("activations", "relu", "ReLU", 0.0, 1.0, (
        CaseResult("z = 0", status.WRONG, "relu(0) is 1\nexpected 0", "max(0, z)"),
        CaseResult("z = 1", status.PASSED)))
    elu = CheckResult("activations", "elu", "", 1.0, 1.0, (CaseResult("a", status.PASSED),))
    return SubmissionResult("alice.zip", "alice", "Course", (
        ExerciseResult("activations", "activations", "Activations", (relu, elu),
                       stdout="printed\n"),), hidden_cases=False, seconds=0.1234)


def folder(tmp_path, files: render.StudentFiles):
    store.save(tmp_path, files)
    return tmp_path / "students" / files.student


def test_the_worker_renders_what_the_renderers_write():
    graded = result()
    files = render.graded(graded, "alice.zip", "HASH", "COURSE")
    names = [name for name, _ in files.files]
    assert names == ["results.json", "feedback.md", "feedback.html", "record.json"]
    data = dict(files.files)
    assert data["results.json"] == (json.dumps(to_gradescope(graded), indent=2,
                                               allow_nan=False) + "\n").encode()
    assert data["feedback.md"] == feedback_markdown(graded).encode()
    assert data["feedback.html"] == submission_html(graded).encode()
    record = json.loads(data["record.json"])
    assert record["score"] == 1.0 and record["seconds"] == 0.123
    assert record["checks"]["activations.relu"] == {
        "score": 0.0, "max_score": 1.0, "status": status.WRONG, "message": "relu(0) is 1",
        "hint": "max(0, z)"}
    assert record["files"] == {name: render.digest(data[name]) for name in names[:-1]}
    # What crosses from a worker to the batch is a few byte strings, not the result.
    assert pickle.loads(pickle.dumps(files)) == files


def test_a_stored_folder_is_done_for_the_same_submission_and_course(tmp_path):
    where = folder(tmp_path, render.graded(result(), "alice.zip", "HASH", "COURSE"))
    assert sorted(p.name for p in where.iterdir()) == [
        "feedback.html", "feedback.md", "record.json", "results.json"]  # no temporary left
    assert store.is_done(tmp_path, "alice", "HASH", "COURSE")
    assert not store.is_done(tmp_path, "alice", "OTHER", "COURSE")
    assert not store.is_done(tmp_path, "alice", "HASH", "OTHER")
    assert not store.is_done(tmp_path, "bob", "HASH", "COURSE")


def test_a_torn_or_missing_file_gets_the_student_graded_again(tmp_path):
    # What a power cut can leave when files were renamed into place but not yet on disk.
    where = folder(tmp_path, render.graded(result(), "alice.zip", "HASH", "COURSE"))
    html = (where / "feedback.html").read_bytes()
    (where / "feedback.html").write_bytes(html[:100])
    assert not store.is_done(tmp_path, "alice", "HASH", "COURSE")
    (where / "feedback.html").write_bytes(b"\0" * len(html))
    assert not store.is_done(tmp_path, "alice", "HASH", "COURSE")
    (where / "feedback.html").unlink()
    assert not store.is_done(tmp_path, "alice", "HASH", "COURSE")
    (where / "record.json").write_bytes(b"")
    assert not store.is_done(tmp_path, "alice", "HASH", "COURSE")


def test_a_record_without_digests_from_an_older_version_is_trusted(tmp_path):
    where = folder(tmp_path, render.graded(result(), "alice.zip", "HASH", "COURSE"))
    record = json.loads((where / "record.json").read_text())
    del record["files"]
    (where / "record.json").write_text(json.dumps(record))
    assert store.is_done(tmp_path, "alice", "HASH", "COURSE")


def test_an_unreadable_submission_gets_its_folder_and_record(tmp_path):
    files = render.unreadable("bob", "bob.zip", "unreadable:x", "COURSE", "not a zip", 10.0,
                              ["activations"])
    where = folder(tmp_path, files)
    assert json.loads((where / "results.json").read_text())["output"] == "Not graded: not a zip"
    assert (where / "feedback.md").read_text() == "# Not graded\n\n```\nnot a zip\n```\n"
    assert store.load_record(tmp_path, "bob")["exercises"] == {"activations": 0.0}
    assert store.is_done(tmp_path, "bob", "unreadable:x", "COURSE")


def test_saving_over_a_folder_leaves_no_temporary_file(tmp_path):
    folder(tmp_path, render.graded(result(), "alice.zip", "HASH", "COURSE"))
    where = folder(tmp_path, render.unreadable("alice", "alice.zip", "H2", "COURSE", "gone",
                                               1.0, []))
    assert store.is_done(tmp_path, "alice", "H2", "COURSE")
    assert not [p for p in where.iterdir() if p.name.startswith(".")]
