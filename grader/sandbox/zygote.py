"""A pre-started worker that forks one child per run, so a run costs a fork, not an interpreter.

Started once per grader process with numpy and the child runtime already
imported (it never holds anything secret and never runs student code itself).
For each request it receives the child's pipes over a Unix socket, forks, and
the fork becomes an ordinary child: own session, limits, environment, then
``child.main``, which confines itself before loading any student code. The
zygote reports each fork's pid, and its exit status once it ends.

Nothing outlives the grader: when its end of the socket closes (the grader ended,
however it was killed), the zygote kills every child it started and ends, and each
child is armed to die with the zygote should the zygote itself be killed.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import socket
import sys

import numpy  # noqa: F401  (imported once here, inherited by every fork: the point)

import child
import confine  # noqa: F401
import wire  # noqa: F401

MAX_REQUEST = 1 << 16


def serve(sock_fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd fires
    import gc; gc.freeze()
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: set[int] = set()  # started and not yet reaped
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                if not _spawn(sock, children):
                    _kill_all(children)  # the grader went away: so do its runs
                    return
            else:
                os.read(wake_r, 4096)
        _reap(sock, children)


def _spawn(sock: socket.socket, children: set[int]) -> bool:
    try:
        data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 4)
    except OSError:
        return False
    if not data:
        return False
    request = json.loads(data)
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        _become_child(request, fds, zygote)
    children.add(pid)
    for fd in fds:
        os.close(fd)
    try:
        sock.send(json.dumps({"pid": pid, "id": request["id"]}).encode())
    except OSError:
        return False
    return True


def _reap(sock: socket.socket, children: set[int]) -> None:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        # The CPU a run cost, its confinement and every process it waited for included.
        cpu = usage.ru_utime + usage.ru_stime
        try:
            sock.send(json.dumps({"exit": pid, "status": status, "cpu": cpu}).encode())
        except OSError:
            pass  # the grader is gone; the loop notices at its next read


def _kill_all(children: set[int]) -> None:
    """SIGKILL each child's process group (its own session), then the child itself (in
    case it had not yet made one); a child's namespace init and runner die with it."""
    for pid in children:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _become_child(request: dict, fds: list[int], zygote: int) -> None:
    """In the fork: look exactly like a freshly started child, then run it."""
    try:
        # The zygote has one thread, the one that forked this: if it is killed, so is this.
        child.die_with_parent(lambda: os.getppid() == zygote)
        job_r, reply_w, out_w, err_w = fds
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = {0, 1, 2, job_r, reply_w}
        for fd in range(3, max(keep)):  # the zygote's socket, selector, wakeup pipe...
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.closerange(max(keep) + 1, 1 << 16)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [*request["argv"], str(job_r), str(reply_w)]  # as a fresh child's
        for name, value in request["rlimits"].items():
            resource.setrlimit(getattr(resource, name), tuple(value))
        child.main(job_r, reply_w)
        code = 0
    except BaseException:  # noqa: BLE001 - reported on stderr, like an interpreter would
        import traceback
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
