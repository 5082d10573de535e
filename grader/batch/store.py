"""The results folder of a batch: one folder per student, written as soon as graded.

    RESULTS/students/<id>/results.json   Gradescope format, as `grader grade`
    RESULTS/students/<id>/feedback.md    for the student
    RESULTS/students/<id>/feedback.html  the same, with plots
    RESULTS/students/<id>/record.json    what the gradebook and summary are built from

Each file is written to a temporary name and renamed, and record.json comes
last: its presence means the student is done, which a kill -9 cannot fake.
Files are not forced to disk one by one: a kill leaves the page cache intact,
and against a crash of the machine itself record.json carries a digest of
every other file, so a rerun trusts a student only while all of them match
(a torn or empty file after a power cut gets the student graded again).
sync() puts the whole folder on disk once, before the class reports.

A rerun skips a student whose record carries the same submission hash and
the same course fingerprint, so a batch killed at any moment resumes where
it stopped and ends with the same gradebook.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from grader import __version__
from grader.batch.render import RECORD, StudentFiles, digest
from grader.errors import GraderError
from grader.files import TMP_PREFIX

_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def fingerprint(course_text: bytes, secret: bytes | None) -> str:
    """What makes results comparable: the course file, the grader version, the secret.

    The secret enters only through an HMAC, so the fingerprint reveals nothing of it.
    """
    digest = hashlib.sha256(course_text + b"\0" + __version__.encode())
    if secret is not None:
        digest.update(hmac.new(secret, b"fingerprint", hashlib.sha256).digest())
    return digest.hexdigest()


def prepare(results: Path) -> None:
    """Make the results folder (its parent must exist) and its students/ folder, or say
    in one line why not; called before anything is graded."""
    results = Path(results)
    for folder in (results, results / "students"):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not folder.is_dir():
                raise GraderError(f"{folder}: is a file, not a folder; pass --out a folder "
                                  "(it is made if its parent exists)") from None
        except FileNotFoundError:
            raise GraderError(f"{folder.parent}: no such folder; make it first, or pass "
                              "--out a folder whose parent exists") from None
        except OSError as exc:
            raise GraderError(f"{folder}: cannot make the folder ({exc.strerror.lower()})") \
                from None


def clean_partial(results: Path) -> int:
    """Remove temporary files left by writes a kill interrupted; returns how many.

    Only names the grader itself gives its temporary files are touched, and only
    where it writes them: ``.grader-tmp-<file>.<pid>`` (and this version's older
    ``.<file>.<pid>``) in students/*/, ``.grader-tmp-<report>.<random>`` (and the older
    ``.<report>.<random>``) beside the class reports, for the file names a batch
    writes. Anything else in the folder (a .gitignore, a .env) is the user's.
    """
    removed = 0
    students = os.path.join(results, "students")
    for folder in _folders(students):
        removed += _remove_matching(os.path.join(students, folder), _STUDENT_TMP)
    return removed + _remove_matching(str(results), _REPORT_TMP)


STUDENT_FILES = ("results.json", "feedback.md", "feedback.html", RECORD)
REPORT_FILES = ("gradebook.csv", "summary.json", "summary.md", "report.html")
_STUDENT_TMP = re.compile(rf"\.(?:{re.escape(TMP_PREFIX[1:])})?(?:"
                          + "|".join(map(re.escape, STUDENT_FILES)) + r")\.\d+")
_REPORT_TMP = re.compile(rf"\.(?:{re.escape(TMP_PREFIX[1:])})?(?:"
                         + "|".join(map(re.escape, REPORT_FILES)) + r")\.[A-Za-z0-9_]{8}")


def _folders(where: str) -> list[str]:
    """The real sub-folders of ``where`` (links are not followed)."""
    try:
        with os.scandir(where) as scan:
            return [e.name for e in scan if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _remove_matching(where: str, pattern: re.Pattern) -> int:
    removed = 0
    try:
        with os.scandir(where) as scan:
            entries = [e for e in scan if pattern.fullmatch(e.name)
                       and e.is_file(follow_symlinks=False)]
    except OSError:
        return 0
    for entry in entries:
        try:
            os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def load_record(results: Path, student: str) -> dict | None:
    try:
        with open(os.path.join(results, "students", student, RECORD), "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def is_done(results: Path, student: str, content_hash: str, course_fp: str) -> bool:
    record = load_record(results, student)
    return (record is not None and record.get("hash") == content_hash
            and record.get("course") == course_fp
            and _intact(os.path.join(results, "students", student), record.get("files", {})))


def save(results: Path, student: StudentFiles) -> None:
    """Write a student's folder, each file atomically, the record last."""
    where = os.path.join(results, "students", student.student)
    try:
        os.mkdir(where)  # students/ itself is made by prepare(), before grading
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(where, exist_ok=True)
    for name, data in student.files:
        _write(where, name, data)


def sync(results: Path) -> None:
    """Put every file written so far on disk: the results' file system in one call
    (syncfs), or every file system where that call is missing."""
    try:
        fd = os.open(results, os.O_RDONLY)
    except OSError:
        return
    try:
        if _syncfs(fd):
            return
    finally:
        os.close(fd)
    if hasattr(os, "sync"):
        os.sync()


def _syncfs(fd: int) -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs(fd) == 0
    except (AttributeError, OSError, TypeError):
        return False  # not Linux


def _write(where: str, name: str, data: bytes) -> None:
    # Our pid makes the name ours alone (no random retries, as mkstemp makes), and a
    # leftover from a killed run has the grader's own prefix, so clean_partial knows it.
    tmp = os.path.join(where, f"{TMP_PREFIX}{name}.{os.getpid()}")
    fd = os.open(tmp, _WRITE, 0o600)
    try:
        with open(fd, "wb", closefd=True) as f:
            f.write(data)
        os.replace(tmp, os.path.join(where, name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _intact(where: str, digests: dict) -> bool:
    """Every file the record lists still holds what was written (records of older
    versions list none: their files were forced to disk one by one)."""
    for name, expected in digests.items():
        try:
            with open(os.path.join(where, name), "rb") as f:
                if digest(f.read()) != expected:
                    return False
        except OSError:
            return False
    return True
