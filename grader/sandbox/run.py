"""Run one student module's tasks in a separate Python process and collect plain data.

The student's code never runs in the grader's process. A child gets a fresh
temporary folder holding copies of the submission's ``.py`` files, a scrubbed
environment, resource limits and its own session (so the whole process group
can be killed); before importing anything of the student's it confines itself
(``confine.py``) and reports which protections hold. Each task has a deadline; when a task times out or the child
dies, the child is replaced and the remaining tasks run in a new one, skipping
the rest of the function that failed, so one infinite loop costs one check.
"""

from __future__ import annotations

import itertools
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.memo import IdentityMemo, ReplyMemo
from grader.sandbox import cgroup, wire
from grader.sandbox.reader import MAX_STREAM_BYTES, Event, Reader, Streams
from grader.sandbox.spawn import CHILD_ENV, SANDBOX_DIR, Child, spawn
from grader.sandbox.uids import UID_BASE, next_uid, run_uids
from grader.text import clean

__all__ = ["Call", "Limits", "MAX_STREAM_BYTES", "ModuleRun", "Task", "TaskOutcome",
           "UID_BASE", "child_cpu_seconds", "probe", "run_module", "run_modules", "run_uids"]

GRADER_DIR = SANDBOX_DIR.parent  # hidden from the child: it holds the reference engine
MAX_FILE_MB = 16
MAX_DISK_MB = 64  # all files of a run together
MAX_DISK_FILES = 1024  # files and folders of a run (each inode is kernel memory)
MAX_PROCESSES = 16  # per run uid, threads included; each may use memory_mb
MAX_OPEN_FILES = 64
# A run's memory cgroup holds memory_mb (one process's arrays) plus the run folder,
# plus this for the interpreters, page tables and kernel memory of its processes.
MEMORY_MARGIN_MB = 128
NATURAL_EXIT = 0.2  # seconds a child that answered everything gets to end by itself
# All of a submission's replies together (the reference solutions return about 5 MiB):
# they are all held until its modules are judged, so this bounds the grader's memory.
MAX_REPLIES_MB = 128


def _run_root() -> str | None:
    """Where run folders go: a memory-backed folder when the system has one (a run
    folder lives for a fraction of a second; on disk its creation and removal cost
    more than the run), else the system's temporary folder."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


RUN_ROOT = _run_root()


class SandboxError(GraderError):
    """The child could not confine itself as required (e.g. could not leave root)."""


@dataclass(frozen=True)
class Limits:
    """Per-module resource limits for a child."""

    task_seconds: float = 10.0
    import_seconds: float = 10.0
    memory_mb: int = 1024
    cpu_seconds: int = 60
    sandbox: bool = True
    zygote: bool = True  # fork children from a pre-started worker (else a fresh interpreter)
    # Wall time for all of one run_modules call (a submission): however its deadlines
    # were stretched, no child runs past it, and tasks not reached by then are not run.
    submission_seconds: float = 300.0


@dataclass(frozen=True)
class Call:
    """One call of a student function; arguments may be wire markers (Ref, Provided, Rng)."""

    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    drop: tuple[int, ...] = ()


@dataclass(frozen=True)
class Task:
    """A short sequence of calls judged together; ``group`` is the check it belongs to."""

    key: str
    group: str
    calls: tuple[Call, ...]
    shared: bool = False  # the same calls recur in other runs: their encoding is kept


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    where: str = ""


@dataclass(frozen=True)
class CallOutcome:
    value: Any
    mutated: tuple[tuple, ...] = ()
    aliases: tuple[tuple[tuple, tuple], ...] = ()  # (output path, input path) sharing memory
    warnings: tuple[str, ...] = ()
    rng_advanced: tuple[bool, ...] = ()
    global_rng_used: bool = False  # the global np.random state moved during the task


@dataclass(frozen=True)
class TaskOutcome:
    """What happened to one task.

    status: "ok", "exception" (error set, ``at`` is the failing call),
    "missing" (the function does not exist), "import error", "timeout",
    "crashed" (killed by a signal), "exited" (the process ended early),
    "protocol" (the child sent something malformed), "skipped" (an earlier
    task of the same check timed out or crashed the child).
    """

    status: str
    calls: tuple[CallOutcome, ...] = ()
    error: ErrorInfo | None = None
    at: int = 0
    detail: str = ""


@dataclass(frozen=True)
class ModuleRun:
    module: str
    outcomes: dict[str, TaskOutcome]
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    children: int = 0
    active: tuple[str, ...] = ()  # protections the child reported in force
    missing: tuple[str, ...] = ()  # protections this machine could not give


def run_module(files: dict[str, bytes], module: str, tasks: list[Task],
               limits: Limits = Limits()) -> ModuleRun:
    """Run ``tasks`` against ``module`` from the submission ``files`` (name -> source bytes)."""
    return run_modules(files, [(module, tasks)], limits)[module]


def run_modules(files: dict[str, bytes], plan: list[tuple[str, list[Task]]],
                limits: Limits = Limits()) -> dict[str, ModuleRun]:
    """Run each module's tasks, all modules in one child while it lasts.

    One child per submission is what makes a batch fast (the sandbox set-up is
    paid once). A module whose import or task kills the child costs only what
    it touched: the child is replaced and the rest runs in the new one.
    """
    start = time.monotonic()
    budget = _Budget(start + limits.submission_seconds, MAX_REPLIES_MB << 20)
    outcomes: dict[str, dict[str, TaskOutcome]] = {module: {} for module, _ in plan}
    streams = {module: Streams() for module, _ in plan}
    seconds = dict.fromkeys(outcomes, 0.0)
    pending = [(module, task) for module, tasks in plan for task in tasks]
    children = 0
    report: dict = {}
    while pending and budget.left():
        children += 1
        with tempfile.TemporaryDirectory(prefix="grader-run-", dir=RUN_ROOT) as top:
            workdir, sandbox = _prepare(Path(top), files, limits)
            done = _run_child(workdir, pending, limits, outcomes, streams, seconds, sandbox,
                              report, budget)
        pending = [(m, t) for m, t in pending[done:] if t.key not in outcomes[m]]
    for module, task in pending:  # the submission's budget is spent: no more children
        outcomes[module][task.key] = budget.spent(limits, "not run")
    if not any(tasks for _, tasks in plan):
        seconds = dict.fromkeys(outcomes, time.monotonic() - start)
    return {module: ModuleRun(module, outcomes[module], streams[module].text("stdout"),
                              streams[module].text("stderr"), seconds[module], children,
                              tuple(report.get("active", ())), tuple(report.get("missing", ())))
            for module, _ in plan}


def _prepare(top: Path, files: dict[str, bytes], limits: Limits) -> tuple[Path, dict | None]:
    """A run folder: work/ (the child's only writable place) and stage/ (for mounts)."""
    os.chmod(top, 0o755)
    workdir, stage = top / "work", top / "stage"
    workdir.mkdir()
    stage.mkdir()
    for name, source in files.items():
        if _stageable(name):
            (workdir / name).write_bytes(source)
    if not limits.sandbox:
        return workdir, None
    uid = None
    if os.geteuid() == 0:
        # A uid of its own per run, never one an earlier run left anything under
        # (uids.py): process limits bind, and it owns nothing else.
        try:
            uid = next_uid()
        except OSError as exc:
            raise SandboxError(f"no run uid is free: {exc} (run `grader doctor`)") from exc
        os.chown(workdir, uid, uid)
    return workdir, {"uid": uid, "stage": str(stage), "hide": [str(GRADER_DIR)],
                     "disk_mb": MAX_DISK_MB, "disk_files": MAX_DISK_FILES}


def _stageable(name: str) -> bool:
    """Only plain module sources: no bytecode, no hidden files, no start-up hooks."""
    stem, dot, ext = name.partition(".")
    return (dot and ext == "py" and stem.isidentifier()
            and stem not in ("sitecustomize", "usercustomize"))


def _run_child(workdir: Path, entries: list[tuple[str, Task]], limits: Limits,
               outcomes: dict[str, dict[str, TaskOutcome]], streams: dict[str, Streams],
               seconds: dict[str, float], sandbox: dict | None, report: dict,
               budget: "_Budget") -> int:
    """Run entries in one child until all are done, the child fails or the submission's
    budget is spent; returns how many of ``entries`` are settled (run, or given the
    failure that ended the child)."""
    parts = [(module, [t for _, t in group])
             for module, group in itertools.groupby(entries, key=lambda e: e[0])]
    proc, job_w, reply_r = spawn(workdir, _child_env(workdir), _rlimits(limits),
                                 use_zygote=limits.zygote)
    # Into its memory cgroup before it has its job, so before any of its processes or
    # student code exists; _failure asks it whether the kernel's OOM killer ended it.
    proc.memory = _memory_group(proc.pid, limits, sandbox)
    job = wire.pack_job({"sandbox": sandbox, "parts": [
        (module, [_task_message(t) for t in tasks]) for module, tasks in parts]})
    threading.Thread(target=_write_and_close, args=(job_w, job), daemon=True).start()
    reader = Reader(reply_r, proc, [streams[module] for module, _ in parts])
    settled = 0
    try:
        confined = reader.next(limits.import_seconds, until=budget.until)
        if confined.kind == "message":
            _check_confinement(confined.value, report, proc.memory)
            confined = None
        for module, tasks in parts:
            started = time.monotonic()
            ran, child_lost = _run_part(reader, proc, confined, tasks, limits, outcomes[module],
                                        budget)
            confined = None
            seconds[module] += time.monotonic() - started
            settled += ran
            if child_lost:
                return settled
        # Done: let the child end by itself (it does at once), so its processes reap one
        # another and the CPU it used is all counted (a kill would lose the runner's).
        proc.wait(timeout=NATURAL_EXIT)
        return settled
    finally:
        proc.kill()
        proc.memory.close()
        reader.drain_and_close()
        _account(proc.cpu)


def _memory_group(pid: int, limits: Limits, sandbox: dict | None):
    """The child's memory cgroup (cgroup.py), or a stand-in saying why there is none."""
    if sandbox is None:
        return cgroup.NoGroup("sandbox off")
    return cgroup.create(limits.memory_mb + MAX_DISK_MB + MEMORY_MARGIN_MB).attach(pid)


def _run_part(reader: Reader, proc: Child, first: "Event | None", tasks: list[Task],
              limits: Limits, outcomes: dict[str, TaskOutcome],
              budget: "_Budget") -> tuple[int, bool]:
    """One module's import and tasks in a running child: (tasks settled, child lost?)."""
    first = first or reader.next(limits.import_seconds, until=budget.until)
    if first.kind == "message" and not _is_ack(first.value):
        first = Event("protocol", detail="malformed first reply")
    if first.kind != "message" or "import_error" in first.value:
        _import_failed(first, tasks, outcomes, proc, limits)
        return len(tasks), first.kind != "message"
    for done, task in enumerate(tasks):
        got = reader.next(limits.task_seconds, raw=True, until=budget.until)
        outcome = None
        if got.kind == "payload":
            budget.reply_bytes -= len(got.value)
            if budget.reply_bytes < 0:  # the child is stopped, as for an output flood
                outcome = budget.spent(limits, "stopped")
            else:
                outcome = _outcome_of(task, got.value)
                if outcome.status != "protocol":
                    outcomes[task.key] = outcome
                    continue
        # A malformed reply means the child no longer follows the protocol:
        # like a crash, it costs this task and the child is replaced.
        outcomes[task.key] = outcome or _failure(got, proc, limits)
        for later in tasks[done + 1:]:
            if later.group == task.group:
                outcomes[later.key] = TaskOutcome(
                    "skipped", detail=f"not run: an earlier case {got.kind_text}")
        return done + 1, True
    return len(tasks), False


_cpu_lock = threading.Lock()
_cpu_used = [0.0]


def _account(seconds: float) -> None:
    with _cpu_lock:
        _cpu_used[0] += seconds


def child_cpu_seconds() -> float:
    """CPU seconds used so far by the children this process ran (for benchmarks)."""
    return _cpu_used[0]


def _check_confinement(value: Any, report: dict, memory) -> None:
    """Read the child's first message, sent before any student code was loaded; the
    grader's own protection (the memory cgroup) joins what the child reported."""
    if isinstance(value, dict) and "sandbox_error" in value:
        raise SandboxError(f"the sandbox could not be set up: {_text(value['sandbox_error'])}"
                           " (run `grader doctor`)")
    if not (isinstance(value, dict) and value.get("confined") is True):
        raise SandboxError("the child sent no confinement report (run `grader doctor`)")
    if not report:
        active, missing = memory.report()
        report["active"] = [_text(a) for a in value.get("active", ())] + active
        report["missing"] = [_text(m) for m in value.get("missing", ())] + missing


def _is_ack(value: Any) -> bool:
    return isinstance(value, dict) and (value.get("imported") is True
                                        or isinstance(value.get("import_error"), dict))


def _import_failed(first, tasks, outcomes, proc, limits) -> None:
    if first.kind == "message":
        value = first.value["import_error"]
        outcome = TaskOutcome("import error", error=_error_info(value))
    else:
        outcome = _failure(first, proc, limits, importing=True)
    for task in tasks:
        outcomes[task.key] = outcome


def _failure(got: "Event", proc: Child, limits: Limits,
             importing: bool = False) -> TaskOutcome:
    phase = "while importing the module" if importing else ""
    if got.kind == "timeout":
        where = f" {phase}" if phase else ""
        if got.detail == "until":
            return TaskOutcome("timeout", detail=f"stopped{where}: {_spent(limits)}")
        return TaskOutcome("timeout", detail=_late(got.value, limits, importing, where))
    if got.kind == "protocol":
        return TaskOutcome("protocol", detail=got.detail)
    if got.kind == "flood":
        return TaskOutcome("output limit", detail=got.detail)
    # The reply pipe closed: let the child finish dying so its own exit code or
    # signal is what we report, then kill whatever is left of the group.
    code = proc.wait(timeout=1.0)
    proc.kill()
    code = proc.wait() if code is None else code
    if _out_of_memory(proc):
        return _memory_limit(limits, phase)
    if code is None:  # its starter (the zygote) went away before telling us
        return TaskOutcome("exited", detail=f"the process ended {phase}".strip())
    if code == -signal.SIGXCPU:
        return TaskOutcome("timeout", detail=f"used more than {limits.cpu_seconds} s of CPU time "
                                             f"{phase}".strip())
    if code == -signal.SIGXFSZ:
        return TaskOutcome("output limit", detail=f"wrote a file larger than the {MAX_FILE_MB} MiB "
                                                  f"allowed {phase}".strip())
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return TaskOutcome("crashed", detail=f"the process was killed by signal {name} {phase}".strip())
    return TaskOutcome("exited", detail=f"the process exited early with code {code} {phase}".strip())


def _out_of_memory(proc: Child) -> bool:
    """Did the kernel's OOM killer end one of the child's processes (its memory cgroup
    reached its limit)? Any of them: the runner, its init or a helper it started."""
    memory = getattr(proc, "memory", None)
    return memory is not None and memory.oom_killed()


def _memory_limit(limits: Limits, phase: str) -> TaskOutcome:
    """The child went past its memory cgroup: reported as the MemoryError it stands for
    (the checks' "memory limit"), whichever of its processes the kernel chose to kill."""
    total = limits.memory_mb + MAX_DISK_MB + MEMORY_MARGIN_MB
    where = f" {phase}" if phase else ""
    return TaskOutcome("exception", error=ErrorInfo(
        "MemoryError", f"the submission's processes used more than {total} MiB of memory "
                       f"together (files in memory included){where}"))


def _late(granted: float | None, limits: Limits, importing: bool, where: str) -> str:
    """What a timeout says: the deadline the child really had (stretched where the
    machine starved it)."""
    seconds = limits.import_seconds if importing else limits.task_seconds
    if granted is None or granted < seconds + 0.05:
        return f"did not finish within {seconds:g} s{where}"
    return (f"did not finish within {seconds:g} s{where} (given {granted:.1f} s in all: "
            "the deadline was extended because the machine was busy)")


def _spent(limits: Limits) -> str:
    return f"the submission used its {limits.submission_seconds:g} s of wall time"


@dataclass
class _Budget:
    """What is left of a submission's wall time and reply bytes."""

    until: float  # time.monotonic() at which the wall time is spent
    reply_bytes: int

    def left(self) -> bool:
        return self.reply_bytes >= 0 and time.monotonic() < self.until

    def spent(self, limits: Limits, what: str) -> TaskOutcome:
        """The outcome of a task the spent budget stops (``what``: "stopped", "not run")."""
        if self.reply_bytes < 0:
            return TaskOutcome("output limit", detail=f"{what}: the submission returned more "
                                                      f"than {MAX_REPLIES_MB} MiB of data in all")
        return TaskOutcome("timeout", detail=f"{what}: {_spent(limits)}")


def _task_outcome(reply: Any, values: wire.Values) -> TaskOutcome:
    """Read a task reply; anything not of the expected form is a protocol failure.

    The reply comes from a process running student code, which can write to
    the reply pipe itself, so its structure is checked, not trusted.
    """
    try:
        calls = tuple(_call_outcome(c, values) for c in reply["calls"])
        if "missing" in reply:
            return TaskOutcome("missing", calls, detail=_text(reply["missing"]))
        if "error" in reply:
            at = reply.get("at", 0)
            if type(at) is not int or not 0 <= at <= len(calls):
                raise ValueError("bad call index")
            return TaskOutcome("exception", calls, error=_error_info(reply["error"]), at=at)
        return TaskOutcome("ok", calls)
    except wire.WireFormatError as exc:
        return TaskOutcome("protocol", detail=str(exc))
    except (TypeError, ValueError, KeyError, AttributeError):
        return TaskOutcome("protocol", detail="malformed reply")


def _call_outcome(c: Any, values: wire.Values) -> CallOutcome:
    if type(c) is not dict or "value" not in c:
        raise ValueError("malformed call reply")
    return CallOutcome(
        value=values.decode(c["value"]),
        mutated=tuple(_path(p) for p in c.get("mutated", ())),
        aliases=tuple((_path(o), _path(i)) for o, i in c.get("aliases", ())),
        warnings=tuple(_text(w) for w in c.get("warnings", ())),
        rng_advanced=tuple(x is True for x in c.get("rng_advanced", ())),
        global_rng_used=c.get("global_rng_used") is True,
    )


def _path(p: Any) -> tuple:
    if type(p) is not list or not all(type(i) in (int, str) for i in p):
        raise ValueError("malformed path")
    return tuple(p)


def _text(value: Any) -> str:
    # The boundary where the child's words enter the grader: made safe here, once.
    return clean(value[:500]) if type(value) is str else ""


def _error_info(value: Any) -> ErrorInfo:
    if not isinstance(value, dict):
        return ErrorInfo("Error", "")
    return ErrorInfo(_text(value.get("type")) or "Error", _text(value.get("message")),
                     _text(value.get("where")))


_encoded = IdentityMemo()  # task calls -> their job message
REPLY_KEPT_BYTES = 1 << 20  # a larger reply is decoded afresh each time, never kept
REPLIES_BYTES = 64 << 20  # all kept replies together, least recently used dropped first
REPLIES_KEPT = 8  # distinct replies remembered per shared task (most classes have a few)
# task calls -> reply bytes -> outcome. Sized by bytes: a student chooses how large
# a reply is, and the grader keeps these for every later student it grades.
_replies = ReplyMemo(REPLY_KEPT_BYTES, REPLIES_BYTES, REPLIES_KEPT)


def _outcome_of(task: Task, payload: bytes) -> TaskOutcome:
    """A task reply's outcome. For a shared task (a public case) the same reply bytes
    give the very same outcome object, decoded once: many students' answers to a
    public case are identical, and the judge can then skip them too.

    Replies are compared byte for byte (a memcmp), not hashed: some are megabytes of
    weights, and the outcome keeps the bytes alive anyway (its arrays are views)."""
    if not task.shared:
        return _decoded(payload)
    known = _replies.find((task.calls,), payload)
    if known is not None:
        return known
    outcome = _decoded(payload)
    if outcome.status != "protocol":
        _replies.add((task.calls,), payload, outcome)
    return outcome


def _decoded(payload: bytes) -> TaskOutcome:
    try:
        return _task_outcome(*wire.unpack_reply(payload))
    except wire.WireFormatError as exc:
        return TaskOutcome("protocol", detail=str(exc))


def _task_message(task: Task) -> bytes:
    """A task's part of the job; encoded once for tasks whose calls recur (public cases)."""
    if not task.shared:
        return wire.pack_job(_task_tree(task))
    return _encoded.get((task.calls,), lambda: wire.pack_job(_task_tree(task)))


def _task_tree(task: Task) -> dict:
    return {"calls": [{"function": c.function, "args": list(c.args), "kwargs": dict(c.kwargs),
                       "drop": list(c.drop)} for c in task.calls]}


def _child_env(workdir: Path) -> dict[str, str]:
    return {**CHILD_ENV, "HOME": str(workdir), "TMPDIR": str(workdir)}


def _rlimits(limits: Limits) -> dict[str, tuple[int, int]]:
    """The child's resource limits, (soft, hard) by name, applied before it starts."""
    memory = limits.memory_mb << 20
    out = {
        "RLIMIT_AS": (memory, memory),
        # SIGXCPU at the soft limit (reported as a timeout), SIGKILL a second later.
        "RLIMIT_CPU": (limits.cpu_seconds, limits.cpu_seconds + 1),
        "RLIMIT_FSIZE": (MAX_FILE_MB << 20, MAX_FILE_MB << 20),
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_NOFILE": (MAX_OPEN_FILES, MAX_OPEN_FILES),
    }
    if os.geteuid() == 0 and limits.sandbox:
        # Counted per uid, so only meaningful for the run's own uid (it binds once
        # the child has dropped to it); for any other user it would count all of
        # that user's processes.
        out["RLIMIT_NPROC"] = (MAX_PROCESSES, MAX_PROCESSES)
    return out


def _write_and_close(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass  # the child died before reading its job; the reader reports that
    finally:
        os.close(fd)


def probe(limits: Limits = Limits()) -> ModuleRun:
    """Run a harmless module through the sandbox to learn which protections hold here."""
    task = Task("probe", "probe", (Call("probe"),))
    return run_module({"probe.py": b"def probe():\n    return 1\n"}, "probe", [task], limits)
