"""Starting a child: forked from the pre-started zygote, or a fresh interpreter as fallback.

Both give a ``Child`` with the same small interface (pid, its stdout/stderr
pipes, wait, kill), so the runner does not care which it got.
"""

from __future__ import annotations

import ctypes
import fcntl
import itertools
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parent
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); import child; "
        "child.main(int(sys.argv[2]), int(sys.argv[3]))")
BOOT_ZYGOTE = ("import sys; sys.path.insert(0, sys.argv[1]); import zygote; "
               "zygote.serve(int(sys.argv[2]))")


# A child's environment, scrubbed: nothing of the grader's (secrets live in env
# vars), and one BLAS thread so a batch of children does not oversubscribe the
# cores. The runner adds HOME and TMPDIR (the run folder).
CHILD_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def prestart() -> None:
    """Start the zygote now, in the background: it imports numpy while the grader
    imports its own modules, which is most of a single check's wall time."""
    _get_zygote(CHILD_ENV)


class Child:
    """A started child: its pid (also its process group) and the read ends of its output."""

    def __init__(self, pid: int, out_fd: int, err_fd: int):
        self.pid, self.out_fd, self.err_fd = pid, out_fd, err_fd
        self.cpu = 0.0  # CPU seconds it used, once it has ended (where that is known)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: killed by that signal), or None if still running."""
        raise NotImplementedError

    def kill(self) -> None:
        """Kill the child's whole process group and wait for the child."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.wait()


class _PopenChild(Child):
    def __init__(self, proc: subprocess.Popen):
        super().__init__(proc.pid, proc.stdout.fileno(), proc.stderr.fileno())
        self.proc = proc

    def wait(self, timeout=None):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        self.proc.stdout.close()
        self.proc.stderr.close()


class _ZygoteChild(Child):
    def __init__(self, pid: int, out_fd: int, err_fd: int, zygote: "Zygote"):
        super().__init__(pid, out_fd, err_fd)
        self.zygote = zygote
        self.returncode: int | None = None

    def wait(self, timeout=None):
        if self.returncode is None:
            ended = self.zygote.status(self.pid, timeout)
            if ended is not None:
                status, self.cpu = ended
                self.returncode = (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                   else os.WEXITSTATUS(status))
        return self.returncode

    def close(self) -> None:
        os.close(self.out_fd)
        os.close(self.err_fd)


class Zygote:
    """The pre-started worker: one per grader process, started on first use."""

    def __init__(self, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-u", "-c", BOOT_ZYGOTE, str(SANDBOX_DIR),
             str(theirs.fileno())],
            env=env, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
            start_new_session=True)
        theirs.close()
        self.sock = ours
        self.lock = threading.Lock()  # guards the fields below
        self.requests = itertools.count()
        self.answers: dict[int, int | None] = {}  # request id -> pid, once answered
        self.abandoned: set[int] = set()
        self.answered = threading.Condition(self.lock)
        self.exits: dict[int, tuple[int, float]] = {}  # pid -> (status, CPU seconds)
        self.ended = threading.Condition()
        threading.Thread(target=self._listen, daemon=True).start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, fds: list[int], request: dict, timeout: float = 10.0) -> int:
        """Fork a child holding ``fds``; its pid. Raises OSError if the zygote fails.

        Each request carries an id the zygote echoes, so an answer that comes
        after we gave up is recognised, and that late child is killed.
        """
        with self.lock:
            rid = next(self.requests)
            socket.send_fds(self.sock, [json.dumps({**request, "id": rid}).encode()], fds)
            if not self.answered.wait_for(lambda: rid in self.answers or not self.alive(),
                                          timeout):
                self.abandoned.add(rid)
                raise OSError("the zygote did not answer in time")
            pid = self.answers.pop(rid, None)
        if pid is None:
            raise OSError("the zygote stopped")
        return pid

    def status(self, pid: int, timeout: float | None) -> tuple[int, float] | None:
        """(exit status, CPU seconds) of an ended child; None if it has not ended."""
        with self.ended:
            self.ended.wait_for(lambda: pid in self.exits or not self.alive(), timeout)
            return self.exits.pop(pid, None)

    def _listen(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                for condition in (self.answered, self.ended):
                    with condition:
                        condition.notify_all()
                return
            message = json.loads(data)
            if "pid" in message:
                self._answer(message["id"], message["pid"])
            else:
                with self.ended:
                    self.exits[message["exit"]] = (message["status"], message.get("cpu", 0.0))
                    self.ended.notify_all()

    def _answer(self, rid: int, pid: int) -> None:
        with self.lock:
            if rid in self.abandoned:
                self.abandoned.discard(rid)
                late = True
            else:
                self.answers[rid] = pid
                self.answered.notify_all()
                late = False
        if late:  # its caller went on without it: it must not run
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def spawn(workdir: Path, env: dict[str, str], rlimits: dict[str, tuple[int, int]],
          use_zygote: bool = True) -> tuple[Child, int, int]:
    """Start a child for one run: (child, the job pipe's write end, the reply pipe's read end).

    Every attempt gets pipes of its own, so a zygote child that answers too late
    can never share them with the fresh interpreter started in its place.
    """
    zygote = _get_zygote(env) if use_zygote else None
    if zygote is not None:
        try:
            with _ChildPipes() as pipes:
                pid = zygote.spawn(pipes.child_fds, {
                    "cwd": str(workdir), "env": env, "rlimits": rlimits,
                    "argv": ["-c", str(SANDBOX_DIR)]})
                return _ZygoteChild(pid, pipes.out_r, pipes.err_r, zygote), *pipes.ours()
        except OSError:
            pass  # a fresh interpreter, on fresh pipes, instead
    with _ChildPipes(output=False) as pipes:
        job_r, reply_w = pipes.child_fds
        grader = os.getpid()
        proc = subprocess.Popen(
            # -u: what the student printed before a crash or timeout still reaches us.
            [sys.executable, "-I", "-u", "-c", BOOT, str(SANDBOX_DIR), str(job_r),
             str(reply_w)],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, pass_fds=(job_r, reply_w), start_new_session=True,
            # The calling thread waits for this child and kills it, so it outlives it:
            # it is the parent whose death (a killed grader) must take the child along.
            preexec_fn=lambda: (_apply(rlimits), die_with_parent(grader)))
        return _PopenChild(proc), *pipes.ours()


class _ChildPipes:
    """The job and reply pipes (and, for a zygote child, stdout and stderr) of one child.

    On leaving the block the child's ends are closed in this process; on an error,
    ours are closed too.
    """

    def __init__(self, output: bool = True):
        self.job_r, self.job_w = os.pipe()
        self.reply_r, self.reply_w = os.pipe()
        _widen(self.reply_r)
        self.child_fds = [self.job_r, self.reply_w]
        self.parent_fds = [self.job_w, self.reply_r]
        if output:
            self.out_r, out_w = os.pipe()
            self.err_r, err_w = os.pipe()
            self.child_fds += [out_w, err_w]
            self.parent_fds += [self.out_r, self.err_r]

    def ours(self) -> tuple[int, int]:
        return self.job_w, self.reply_r

    def __enter__(self) -> "_ChildPipes":
        return self

    def __exit__(self, kind, *_) -> None:
        for fd in self.child_fds + (self.parent_fds if kind else []):
            os.close(fd)


F_SETPIPE_SZ = 1031
REPLY_PIPE_BYTES = 1 << 20


def _widen(fd: int) -> None:
    """Room for a burst of replies, so the child rarely waits for the grader to read."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, REPLY_PIPE_BYTES)
    except OSError:
        pass  # a lower system limit: the default size works, only a little slower


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when the thread that started it dies (Linux; elsewhere it
    outlives a killed parent), and end it now if ``parent`` is already gone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _apply(rlimits: dict[str, tuple[int, int]]) -> None:
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), tuple(value))


def _get_zygote(env: dict[str, str]) -> Zygote | None:
    global _zygote
    with _zygote_lock:
        if _zygote is None or not _zygote.alive():
            try:
                _zygote = Zygote({k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")})
            except OSError:
                _zygote = None
        return _zygote
