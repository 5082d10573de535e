"""Starting a child: forked from the pre-started zygote, or a fresh interpreter as fallback.

Both give a ``Child`` with the same small interface (pid, its stdout/stderr
pipes, wait, kill), so the runner does not care which it got.
"""

from __future__ import annotations

import json
import os
import queue
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


class Child:
    """A started child: its pid (also its process group) and the read ends of its output."""

    def __init__(self, pid: int, out_fd: int, err_fd: int):
        self.pid, self.out_fd, self.err_fd = pid, out_fd, err_fd

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
            status = self.zygote.status(self.pid, timeout)
            if status is not None:
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
        self.lock = threading.Lock()  # one spawn request at a time
        self.pids: queue.Queue = queue.Queue()
        self.exits: dict[int, int] = {}
        self.ended = threading.Condition()
        threading.Thread(target=self._listen, daemon=True).start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, fds: list[int], request: dict, timeout: float = 10.0) -> int:
        with self.lock:
            socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
            pid = self.pids.get(timeout=timeout)
        if pid is None:
            raise OSError("the zygote stopped")
        return pid

    def status(self, pid: int, timeout: float | None) -> int | None:
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
                self.pids.put(None)
                with self.ended:
                    self.ended.notify_all()
                return
            message = json.loads(data)
            if "pid" in message:
                self.pids.put(message["pid"])
            else:
                with self.ended:
                    self.exits[message["exit"]] = message["status"]
                    self.ended.notify_all()


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def spawn(workdir: Path, env: dict[str, str], rlimits: dict[str, tuple[int, int]], job_r: int,
          reply_w: int, use_zygote: bool = True) -> Child:
    """Start a child for one run; the caller closes job_r and reply_w afterwards."""
    if use_zygote:
        zygote = _get_zygote(env)
        if zygote is not None:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                pid = zygote.spawn([job_r, reply_w, out_w, err_w],
                                   {"cwd": str(workdir), "env": env, "rlimits": rlimits,
                                    "argv": ["-c", str(SANDBOX_DIR)]})
                return _ZygoteChild(pid, out_r, err_r, zygote)
            except (OSError, queue.Empty):
                os.close(out_r)
                os.close(err_r)
            finally:
                os.close(out_w)
                os.close(err_w)
    proc = subprocess.Popen(
        # -u: what the student printed before a crash or timeout still reaches us.
        [sys.executable, "-I", "-u", "-c", BOOT, str(SANDBOX_DIR), str(job_r), str(reply_w)],
        cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, pass_fds=(job_r, reply_w), start_new_session=True,
        preexec_fn=lambda: _apply(rlimits))
    return _PopenChild(proc)


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
