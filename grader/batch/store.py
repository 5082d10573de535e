"""The results folder of a batch: one folder per student, written as soon as graded.

    RESULTS/students/<id>/results.json   Gradescope format, as `grader grade`
    RESULTS/students/<id>/feedback.md    for the student
    RESULTS/students/<id>/feedback.html  the same, with plots
    RESULTS/students/<id>/record.json    what the gradebook and summary are built from

record.json is written last, atomically: its presence means the student is
done. A rerun skips a student whose record carries the same submission hash
and the same course fingerprint, so a batch killed at any moment resumes where
it stopped and ends with the same gradebook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from grader import __version__
from grader.files import write_json, write_text
from grader.report.gradescope import to_gradescope
from grader.report.html import submission_html
from grader.report.markdown import feedback_markdown
from grader.results import SubmissionResult

RECORD = "record.json"


def fingerprint(course_text: bytes, secret: bytes | None) -> str:
    """What makes results comparable: the course file, the grader version, the secret.

    The secret enters only through an HMAC, so the fingerprint reveals nothing of it.
    """
    digest = hashlib.sha256(course_text + b"\0" + __version__.encode())
    if secret is not None:
        digest.update(hmac.new(secret, b"fingerprint", hashlib.sha256).digest())
    return digest.hexdigest()


def clean_partial(results: Path) -> int:
    """Remove temporary files left by writes a kill interrupted; returns how many."""
    removed = 0
    for tmp in results.glob("students/*/.*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    for tmp in results.glob(".*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def folder(results: Path, student: str) -> Path:
    return results / "students" / student


def load_record(results: Path, student: str) -> dict | None:
    try:
        return json.loads((folder(results, student) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(results: Path, student: str, content_hash: str, course_fp: str) -> bool:
    record = load_record(results, student)
    return (record is not None and record.get("hash") == content_hash
            and record.get("course") == course_fp)


def save_graded(results: Path, result: SubmissionResult, source: str, content_hash: str,
                course_fp: str) -> dict:
    where = folder(results, result.student_id)
    write_json(where / "results.json", to_gradescope(result))
    write_text(where / "feedback.md", feedback_markdown(result))
    write_text(where / "feedback.html", submission_html(result))
    record = {
        "student_id": result.student_id, "source": source, "hash": content_hash,
        "course": course_fp, "status": "graded", "reason": "",
        "score": result.score, "max_score": result.max_score,
        "seconds": round(result.seconds, 3),
        "exercises": {e.id: e.score for e in result.exercises},
        "checks": {c.name: _check_record(c) for c in result.checks},
    }
    write_json(where / RECORD, record)
    return record


def save_unreadable(results: Path, student: str, source: str, content_hash: str,
                    course_fp: str, reason: str, max_score: float,
                    exercise_ids: list[str]) -> dict:
    """A submission that could not be read still gets its row, with the reason."""
    where = folder(results, student)
    write_json(where / "results.json", {"score": 0.0, "max_score": max_score,
                                        "output": f"Not graded: {reason}", "tests": []})
    write_text(where / "feedback.md", f"# Not graded\n\n{reason}\n")
    record = {"student_id": student, "source": source, "hash": content_hash,
              "course": course_fp, "status": "unreadable", "reason": reason, "score": 0.0,
              "max_score": max_score, "seconds": 0.0,
              "exercises": {e: 0.0 for e in exercise_ids}, "checks": {}}
    write_json(where / RECORD, record)
    return record


def _check_record(check) -> dict:
    first = check.failures[0] if check.failures else None
    return {"score": check.score, "max_score": check.max_score,
            "status": first.status if first else "passed",
            "message": first.message.splitlines()[0] if first and first.message else "",
            "hint": first.hint if first else ""}
