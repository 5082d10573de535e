"""Grade a whole class folder: each student graded, stored at once, then the reports.

Every student's result is written the moment it is graded (see store.py), so
an interrupted batch loses nothing; rerunning the same command skips the
students already done and grades the rest.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.batch import render, store
from grader.batch.executors import Executor, Job, LocalExecutor
from grader.batch.render import StudentFiles
from grader.batch.summary import write_reports
from grader.batch.unpack import UnpackError, content_hash, discover, student_id
from grader.batch.unpack import read as read_submission
from grader.course import Course
from grader.errors import GraderError, SubmissionPathError
from grader.text import clean, clean_name


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
    store.prepare(results)  # before grading: a bad --out must not cost a graded class
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
    """(submission, student id), each id a function of its own submission's name alone
    (unpack.student_id), never of the order or of the other names: adding a submission
    changes no other's id, folder or hidden cases. Two submissions with one id (alice/
    and alice.zip, or two names the pattern cuts alike) would share a folder, so the
    batch refuses to start, naming them, rather than grade one and lose the other."""
    out = [(path, student_id(path, pattern)) for path in paths]
    by_id: dict[str, list[Path]] = {}
    for path, sid in out:
        by_id.setdefault(sid, []).append(path)
    clashes = [(sid, group) for sid, group in by_id.items() if len(group) > 1]
    if clashes:
        sid, group = clashes[0]
        names = " and ".join(f"'{clean_name(p.name)}'" for p in group[:3])
        more = f" (and {len(clashes) - 1} more ids alike)" if len(clashes) > 1 else ""
        raise GraderError(f"{names} give the same student id '{sid}'{more}; keep one submission "
                          "per student in the class folder (remove or rename the others), "
                          "or change student_id_pattern in course.yaml")
    return out


def _prepare(path: Path, sid: str, results: Path, course: Course,
             course_fp: str) -> str | Job:
    """The job for a submission to grade, or what happened to it instead."""
    source = clean_name(path.name)  # the original name, as the gradebook shows it
    try:
        read = read_submission(path, [e.module for e in course.exercises])
    except (UnpackError, SubmissionPathError) as exc:
        # One unreadable submission gets its row with the reason; the class goes on.
        reason = clean(str(exc))  # a SubmissionPathError names the raw path
        digest = _raw_hash(path, reason)
        if store.is_done(results, sid, digest, course_fp):
            return "skipped"
        store.save(results, render.unreadable(sid, source, digest, course_fp, reason,
                                              course.max_score, [e.id for e in course.exercises]))
        return "unreadable"
    digest = content_hash(read.files, read.notes)
    if store.is_done(results, sid, digest, course_fp):
        return "skipped"
    return Job(read.files, source, sid, digest, course_fp, read.notes)


def _raw_hash(path: Path, reason: str) -> str:
    """A hash for a submission we could not read: its bytes if a regular file (never
    through a link: it may point at a FIFO or a secret), else the reason."""
    digest = hashlib.sha256(reason.encode("utf-8", "surrogatepass"))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return "unreadable:" + digest.hexdigest()
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return "unreadable:" + digest.hexdigest()
    with open(fd, "rb", closefd=True) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "unreadable:" + digest.hexdigest()
