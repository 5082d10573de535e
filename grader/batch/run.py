"""Grade a whole class folder: each student graded, stored at once, then the reports.

Every student's result is written the moment it is graded (see store.py), so
an interrupted batch loses nothing; rerunning the same command skips the
students already done and grades the rest.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.batch import render, store
from grader.batch.executors import Executor, Job, LocalExecutor
from grader.batch.render import StudentFiles
from grader.batch.summary import write_reports
from grader.batch.unpack import UnpackError, content_hash, discover, read_files, student_id
from grader.course import Course
from grader.errors import GraderError, SubmissionPathError


@dataclass
class Progress:
    total: int
    done: int = 0
    graded: int = 0
    skipped: int = 0
    unreadable: int = 0
    started: float = 0.0

    @property
    def rate(self) -> float:
        """Submissions graded per second (skipped ones are not work)."""
        elapsed = time.monotonic() - self.started
        return self.graded / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


def run_batch(submissions: Path, results: Path, course: Course, course_text: bytes,
              secret: bytes | None, jobs: int,
              on_progress: Callable[[Progress], None] = lambda p: None,
              executor: Executor | None = None) -> tuple[Progress, dict]:
    """Grade every submission in ``submissions`` into ``results``; (progress, summary).

    ``executor`` grades (default: ``jobs`` worker processes here). This process
    reads the submissions, skips the finished ones and stores each result as it
    comes back; at most a few submissions per worker are in flight, so memory
    stays flat however large the class.
    """
    if not submissions.is_dir():
        raise GraderError(f"{submissions}: not a folder of submissions")
    entries = _students(discover(submissions), course.student_id_pattern)
    if not entries:
        raise GraderError(f"{submissions}: no submissions found (sub-folders or .zip files)")
    course_fp = store.fingerprint(course_text, secret)
    store.clean_partial(results)
    progress = Progress(total=len(entries), started=time.monotonic())
    owned = executor is None
    executor = executor or LocalExecutor(max(1, jobs), course, secret)
    window = 4 * executor.workers
    pending: set[Future] = set()

    def count(outcome: str) -> None:
        progress.done += 1
        setattr(progress, outcome, getattr(progress, outcome) + 1)
        on_progress(progress)

    def collect(block: bool) -> None:
        done, _ = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            pending.discard(future)
            store.save(results, _result(future))
            count("graded")

    cancel = True
    try:
        for path, sid in entries:
            prepared = _prepare(path, sid, results, course, course_fp)
            if isinstance(prepared, str):
                count(prepared)
                continue
            while len(pending) >= window:
                collect(block=True)
            pending.add(executor.submit(prepared))
            collect(block=False)
        while pending:
            collect(block=True)
        cancel = False
    finally:
        if owned:
            executor.close(cancel=cancel)
    store.sync(results)
    records = (store.load_record(results, sid) for _, sid in entries)
    summary = write_reports(results, (r for r in records if r), [e.id for e in course.exercises],
                            course.max_score, course.title)
    return progress, summary


def _result(future: Future) -> StudentFiles:
    try:
        return future.result()
    except BrokenProcessPool:
        raise GraderError("a grading worker process died (out of memory?); every student "
                          "graded so far is saved: run the same command again to go on") from None


def _students(paths: list[Path], pattern: str) -> list[tuple[Path, str]]:
    """(submission, student id) with ids made unique: a second 'alice' becomes 'alice-2'."""
    seen: Counter = Counter()
    out = []
    for path in paths:
        sid = student_id(path, pattern)
        seen[sid] += 1
        out.append((path, sid if seen[sid] == 1 else f"{sid}-{seen[sid]}"))
    return out


def _prepare(path: Path, sid: str, results: Path, course: Course,
             course_fp: str) -> str | Job:
    """The job for a submission to grade, or what happened to it instead."""
    try:
        files = read_files(path)
    except (UnpackError, SubmissionPathError) as exc:
        # One unreadable submission gets its row with the reason; the class goes on.
        digest = _raw_hash(path, str(exc))
        if store.is_done(results, sid, digest, course_fp):
            return "skipped"
        store.save(results, render.unreadable(sid, path.name, digest, course_fp, str(exc),
                                              course.max_score, [e.id for e in course.exercises]))
        return "unreadable"
    digest = content_hash(files)
    if store.is_done(results, sid, digest, course_fp):
        return "skipped"
    return Job(files, path.name, sid, digest, course_fp)


def _raw_hash(path: Path, reason: str) -> str:
    """A hash for a submission we could not read: its bytes if a file, else the reason."""
    digest = hashlib.sha256(reason.encode())
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return "unreadable:" + digest.hexdigest()
