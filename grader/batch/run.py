"""Grade a whole class folder: each student graded, stored at once, then the reports.

Every student's result is written the moment it is graded (see store.py), so
an interrupted batch loses nothing; rerunning the same command skips the
students already done and grades the rest.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.batch import store
from grader.batch.summary import write_reports
from grader.batch.unpack import UnpackError, content_hash, discover, read_files, student_id
from grader.course import Course
from grader.errors import GraderError, SubmissionPathError
from grader.grade import Options, grade_files


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
              on_progress: Callable[[Progress], None] = lambda p: None) -> tuple[Progress, dict]:
    """Grade every submission in ``submissions`` into ``results``; (progress, summary)."""
    if not submissions.is_dir():
        raise GraderError(f"{submissions}: not a folder of submissions")
    entries = _students(discover(submissions), course.student_id_pattern)
    if not entries:
        raise GraderError(f"{submissions}: no submissions found (sub-folders or .zip files)")
    course_fp = store.fingerprint(course_text, secret)
    store.clean_partial(results)
    progress = Progress(total=len(entries), started=time.monotonic())
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_one, path, sid, results, course, secret, course_fp)
                   for path, sid in entries]
        try:
            for future in as_completed(futures):
                outcome = future.result()
                progress.done += 1
                setattr(progress, outcome, getattr(progress, outcome) + 1)
                on_progress(progress)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    records = (store.load_record(results, sid) for _, sid in entries)
    summary = write_reports(results, (r for r in records if r), [e.id for e in course.exercises],
                            course.max_score, course.title)
    return progress, summary


def _students(paths: list[Path], pattern: str) -> list[tuple[Path, str]]:
    """(submission, student id) with ids made unique: a second 'alice' becomes 'alice-2'."""
    seen: Counter = Counter()
    out = []
    for path in paths:
        sid = student_id(path, pattern)
        seen[sid] += 1
        out.append((path, sid if seen[sid] == 1 else f"{sid}-{seen[sid]}"))
    return out


def _one(path: Path, sid: str, results: Path, course: Course, secret: bytes | None,
         course_fp: str) -> str:
    """Grade one submission unless it is already done; returns what happened."""
    try:
        files = read_files(path)
    except (UnpackError, SubmissionPathError) as exc:
        # One unreadable submission gets its row with the reason; the class goes on.
        digest = _raw_hash(path, str(exc))
        if store.is_done(results, sid, digest, course_fp):
            return "skipped"
        store.save_unreadable(results, sid, path.name, digest, course_fp, str(exc),
                              course.max_score, [e.id for e in course.exercises])
        return "unreadable"
    digest = content_hash(files)
    if store.is_done(results, sid, digest, course_fp):
        return "skipped"
    result = grade_files(files, path.name, sid, course,
                         Options(secret=secret, student_id=sid, jobs=1))
    store.save_graded(results, result, path.name, digest, course_fp)
    return "graded"


def _raw_hash(path: Path, reason: str) -> str:
    """A hash for a submission we could not read: its bytes if a file, else the reason."""
    digest = hashlib.sha256(reason.encode())
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return "unreadable:" + digest.hexdigest()
