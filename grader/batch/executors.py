"""Where a batch's submissions are graded: worker processes here, or a Dask cluster.

Both run the same task, ``grade_job``: a submission's files in, the bytes of
the student's results folder out (rendered where the grading ran, in
parallel; see render.py). The batch writes every file itself, so both
executors give the same folders. Worker processes are what let a batch use
every core: the grader's own judging is Python, and one process runs it on
one core at a time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from grader.batch import render
from grader.batch.render import StudentFiles
from grader.course import Course
from grader.errors import GraderError
from grader.grade import Options, grade_files
from grader.sandbox.spawn import die_with_parent


@dataclass(frozen=True)
class Job:
    """One submission to grade: its module files (name -> source bytes), who it is, and
    what its record is keyed on (the files' content hash, the course fingerprint)."""

    files: dict[str, bytes]
    name: str
    student: str
    content_hash: str
    course_fp: str
    notes: tuple[str, ...] = ()  # the files the reader left out (unpack.Submission)


def grade_job(job: Job, course: Course, secret: bytes | None) -> StudentFiles:
    """The per-submission task, the same wherever it runs."""
    result = grade_files(job.files, job.name, job.student, course,
                         Options(secret=secret, student_id=job.student))
    if job.notes:
        result = replace(result, notes=(*job.notes, *result.notes))
    return render.graded(result, job.name, job.content_hash, job.course_fp)


class Executor(Protocol):
    workers: int  # how many submissions it grades at once

    def submit(self, job: Job) -> Future: ...

    def close(self, cancel: bool = False) -> None: ...


class LocalExecutor:
    """``workers`` processes on this machine, each with its own pre-started zygote."""

    def __init__(self, workers: int, course: Course, secret: bytes | None):
        self.workers = workers
        # fork starts a worker in milliseconds, but is only safe from a process
        # with one thread; otherwise (e.g. inside a test run) a fresh interpreter.
        method = "fork" if threading.active_count() == 1 else "spawn"
        self.pool = ProcessPoolExecutor(workers, multiprocessing.get_context(method),
                                        initializer=_start_worker,
                                        initargs=(course, secret, os.getpid()))

    def submit(self, job: Job) -> Future:
        return self.pool.submit(_grade_here, job)

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


_worker: tuple[Course, bytes | None] | None = None


def _start_worker(course: Course, secret: bytes | None, parent: int) -> None:
    global _worker
    _worker = (course, secret)
    # Ctrl-C is the batch's to handle: it stops handing out work and keeps what is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A batch killed with SIGKILL cannot shut its pool down, and a worker waiting for
    # work would wait for ever (its siblings keep the queue open): die with the batch.
    # (Its zygote ends when the worker's end of its socket closes, and kills its runs.)
    die_with_parent(parent)


def _grade_here(job: Job) -> StudentFiles:
    return grade_job(job, *_worker)


class DaskExecutor:
    """The same task on an existing Dask distributed cluster (``pip install
    'gradflow-grader[dask]'``; the workers need the same grader version installed).

    The course goes to every worker once; the secret travels with it, so a
    cluster outside a trusted network should use a tls:// scheduler address.
    """

    def __init__(self, scheduler: str, course: Course, secret: bytes | None,
                 timeout: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            raise GraderError("--executor dask needs Dask: pip install "
                              "'gradflow-grader[dask]' (or dask[distributed])") from None
        try:
            self.client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise GraderError(f"cannot reach the Dask scheduler at {scheduler} "
                              f"({type(exc).__name__}); check the address, or start one with "
                              "`dask scheduler` and workers with `dask worker ADDRESS`") from None
        self.workers = max(1, sum(w.get("nthreads", 1) for w in
                                  self.client.scheduler_info()["workers"].values()))
        self.shared = self.client.scatter((course, secret), broadcast=True)
        self.executor = self.client.get_executor(pure=False)

    def submit(self, job: Job) -> Future:
        return self.executor.submit(_grade_shared, job, self.shared)

    def close(self, cancel: bool = False) -> None:
        self.executor.shutdown(wait=not cancel)
        self.client.close()


def _grade_shared(job: Job, shared: tuple[Course, bytes | None]) -> StudentFiles:
    return grade_job(job, *shared)
