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
from pathlib import Path

from grader import __version__
from grader.batch.render import RECORD, StudentFiles, digest

_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


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
        os.mkdir(where)
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
    # leftover from a killed run starts with "." so clean_partial removes it.
    tmp = os.path.join(where, f".{name}.{os.getpid()}")
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
