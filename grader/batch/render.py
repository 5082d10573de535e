"""A student's results folder as bytes: results.json, feedback.md, feedback.html, record.json.

A graded student's folder is rendered by the worker that graded it, so what
travels to the batch process is four byte strings rather than the thousands
of result objects behind them, and the batch process, one core serving every
worker, only writes them (store.save).

record.json comes last and lists a digest of every other file: a batch
resumed after a crash trusts a student's folder only if its files still
match (store.is_done), so the files need not be forced to disk one by one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from grader.report.gradescope import to_gradescope
from grader.report.html import submission_html
from grader.report.markdown import feedback_markdown, fenced
from grader.results import SubmissionResult

RECORD = "record.json"


@dataclass(frozen=True)
class StudentFiles:
    """One student's folder: (file name, content) in the order written, the record last."""

    student: str
    files: tuple[tuple[str, bytes], ...]


def graded(result: SubmissionResult, source: str, content_hash: str,
           course_fp: str) -> StudentFiles:
    """A graded submission's folder, its record keyed on the submission and the course."""
    files = [("results.json", _json(to_gradescope(result))),
             ("feedback.md", feedback_markdown(result).encode("utf-8")),
             ("feedback.html", submission_html(result).encode("utf-8"))]
    record = {
        "student_id": result.student_id, "source": source, "hash": content_hash,
        "course": course_fp, "status": "graded", "reason": "",
        "score": result.score, "max_score": result.max_score,
        "seconds": round(result.seconds, 3),
        "exercises": {e.id: e.score for e in result.exercises},
        "checks": {c.name: _check_record(c) for c in result.checks},
    }
    return _with_record(result.student_id, files, record)


def unreadable(student: str, source: str, content_hash: str, course_fp: str, reason: str,
               max_score: float, exercise_ids: list[str]) -> StudentFiles:
    """A submission that could not be read still gets its row, with the reason."""
    files = [("results.json", _json({"score": 0.0, "max_score": max_score,
                                     "output": f"Not graded: {reason}", "tests": []})),
             ("feedback.md", _not_graded_markdown(reason).encode("utf-8"))]
    record = {"student_id": student, "source": source, "hash": content_hash,
              "course": course_fp, "status": "unreadable", "reason": reason, "score": 0.0,
              "max_score": max_score, "seconds": 0.0,
              "exercises": {e: 0.0 for e in exercise_ids}, "checks": {}}
    return _with_record(student, files, record)


def _not_graded_markdown(reason: str) -> str:
    # The reason quotes file names from the submission: fenced, so none reads as Markdown.
    return "\n".join(["# Not graded", "", *fenced(reason.splitlines() or [""]), ""])


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _with_record(student: str, files: list[tuple[str, bytes]], record: dict) -> StudentFiles:
    record["files"] = {name: digest(data) for name, data in files}
    return StudentFiles(student, (*files, (RECORD, _json(record))))


def _json(data) -> bytes:
    """As grader.files.write_json writes it (json.dumps, indent 2, no NaN)."""
    return (json.dumps(data, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _check_record(check) -> dict:
    failures = check.failures
    first = failures[0] if failures else None
    return {"score": check.score, "max_score": check.max_score,
            "status": first.status if first else "passed",
            "message": first.message.splitlines()[0] if first and first.message else "",
            "hint": first.hint if first else ""}
