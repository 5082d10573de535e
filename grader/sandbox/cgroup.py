"""A memory cgroup per child: a submission's memory bounded as a whole.

RLIMIT_AS bounds what one process maps. What a process holds without mapping it
(memfd files, SysV segments, the run folder's files and inodes, pipe buffers) and
what up to 16 processes map together escape it. A memory cgroup counts all of it,
for every process the child starts, kernel memory included.

Made by the grader (this runs in the grader's process, never in the child): one
cgroup per child, under the grader's own cgroup, the child moved in before it
has read its job (so before any of its processes exist and before student code
runs), and removed after the child ended, every process left in it killed
first. cgroup v2 where its memory controller can be delegated to a child group,
else cgroup v1's memory controller; where neither can be made (not root, no
controller, a v2 cgroup holding processes), ``create`` says why, and the run goes
on with the per-process limits only (``grader doctor`` shows it MISSING).
"""

from __future__ import annotations

import errno
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass

__all__ = ["MemoryGroup", "NoGroup", "create"]

_names = itertools.count()
_lock = threading.Lock()
_stale: list[str] = []  # groups whose last processes had not yet gone when we removed them


@dataclass(frozen=True)
class _Place:
    """Where this process makes its groups: its own cgroup of a memory hierarchy."""

    path: str
    version: int


class NoGroup:
    """No cgroup for this child; ``reason`` says why (shown as MISSING)."""

    def __init__(self, reason: str):
        self.reason = reason

    def attach(self, pid: int) -> "NoGroup":
        return self

    def oom_killed(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def report(self) -> tuple[list[str], list[str]]:
        return [], [f"memory cgroup ({self.reason})"]


class MemoryGroup:
    """One child's memory cgroup of ``limit_mb``."""

    def __init__(self, path: str, version: int, limit_mb: int):
        self.path, self.version, self.limit_mb = path, version, limit_mb

    def attach(self, pid: int) -> "MemoryGroup | NoGroup":
        """Move ``pid`` in (its children are born inside); on failure, the reason."""
        try:
            _write(os.path.join(self.path, "cgroup.procs"), str(pid))
        except OSError as exc:
            self.close()
            return NoGroup(f"cannot move the child in: {exc.strerror}")
        return self

    def oom_killed(self) -> bool:
        """Did the kernel kill one of the group's processes for going past the limit?"""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(self.path, name)) as f:
                fields = dict(line.split() for line in f if len(line.split()) == 2)
        except OSError:
            return False
        return int(fields.get("oom_kill", 0)) > 0 or int(fields.get("oom_group_kill", 0)) > 0

    def close(self) -> None:
        """Kill whatever the child left in the group, then remove it."""
        if not _remove(self.path, wait=2.0):
            with _lock:
                _stale.append(self.path)

    def report(self) -> tuple[list[str], list[str]]:
        return [f"memory cgroup (v{self.version}) of {self.limit_mb} MiB per run, "
                "all its processes together"], []


def create(limit_mb: int) -> MemoryGroup | NoGroup:
    """A new memory cgroup of ``limit_mb`` for one child (not yet holding it)."""
    place = _place()
    if isinstance(place, str):
        return NoGroup(place)
    _sweep()
    path = os.path.join(place.path, f"gradflow-{os.getpid()}-{next(_names)}")
    limit = str(limit_mb << 20)
    try:
        os.mkdir(path, 0o755)
    except OSError as exc:
        return NoGroup(f"cannot create one in {place.path}: {exc.strerror}")
    try:
        if place.version == 1:
            _write(os.path.join(path, "memory.limit_in_bytes"), limit)
            # With swap accounting, swap counts too; without it the file is missing.
            _optional(os.path.join(path, "memory.memsw.limit_in_bytes"), limit)
        else:
            _write(os.path.join(path, "memory.max"), limit)
            _optional(os.path.join(path, "memory.swap.max"), "0")
            # One OOM kill takes the whole child: it ends with one clear status.
            _optional(os.path.join(path, "memory.oom.group"), "1")
    except OSError as exc:
        _remove(path, wait=0.0)
        return NoGroup(f"cannot set its limit: {exc.strerror}")
    return MemoryGroup(path, place.version, limit_mb)


_place_cache: dict[str, _Place | str] = {}


def _place() -> _Place | str:
    """The grader's own memory cgroup (v2 preferred), or why there is none."""
    with _lock:
        if "place" not in _place_cache:
            _place_cache["place"] = place = _find_place()
            if isinstance(place, _Place):
                _sweep_dead(place.path)
        return _place_cache["place"]


def _sweep_dead(folder: str) -> None:
    """Remove the empty groups a grader that is gone left behind (killed before it could).
    A group still holding processes is left alone: they are not this grader's."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "gradflow" and parts[1].isdigit() \
                and not _alive(int(parts[1])):
            try:
                os.rmdir(os.path.join(folder, name))
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _find_place() -> _Place | str:
    try:
        with open("/proc/self/cgroup") as f:
            own = dict(_membership(line) for line in f if line.count(":") >= 2)
        with open("/proc/self/mountinfo") as f:
            mounts = [_mount(line) for line in f]
    except OSError as exc:
        return f"cannot read this process's cgroups: {exc.strerror}"
    v2_reason = "no cgroup v2 memory controller"
    for fstype, root, point, options in mounts:
        if fstype == "cgroup2" and "" in own:
            found = _v2(_join(point, root, own[""]))
            if isinstance(found, _Place):
                return found
            v2_reason = found
    for fstype, root, point, options in mounts:
        if fstype == "cgroup" and "memory" in options.split(",") and "memory" in own:
            path = _join(point, root, own["memory"])
            if os.access(path, os.W_OK):
                return _Place(path, 1)
            return f"cgroup v1: {path} is not writable (run the grader as root)"
    return v2_reason + ", no cgroup v1 memory controller"


def _v2(path: str) -> _Place | str:
    try:
        with open(os.path.join(path, "cgroup.controllers")) as f:
            if "memory" not in f.read().split():
                return "no cgroup v2 memory controller"
        with open(os.path.join(path, "cgroup.subtree_control")) as f:
            if "memory" not in f.read().split():
                _enable_memory(path)
    except OSError as exc:
        return (f"cgroup v2: cannot delegate memory below {path} ({exc.strerror}); run the "
                "grader in a cgroup of its own, e.g. systemd-run --scope -p Delegate=yes")
    return _Place(path, 2)


def _enable_memory(path: str) -> None:
    """Let the grader's cgroup give memory limits to groups below it.

    cgroup v2 allows that only in a cgroup that holds no process itself, so when the
    grader's holds only the grader and its own children (a scope made for it), they
    move into a leaf of it first; a cgroup shared with anything else is left alone.
    """
    control = os.path.join(path, "cgroup.subtree_control")
    try:
        _write(control, "+memory")
        return
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
    with open(os.path.join(path, "cgroup.procs")) as f:
        pids = [int(p) for p in f.read().split()]
    me = os.getpid()
    if any(pid != me and _parent(pid) != me for pid in pids):
        raise OSError(errno.EBUSY, "the grader's cgroup holds other processes too")
    leaf = os.path.join(path, f"gradflow-grader-{me}")
    os.makedirs(leaf, exist_ok=True)
    for pid in [me, *(p for p in pids if p != me)]:
        _write(os.path.join(leaf, "cgroup.procs"), str(pid))
    _write(control, "+memory")


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _membership(line: str) -> tuple[str, str]:
    """'4:memory:/a/b' -> ('memory', '/a/b'); the v2 line '0::/a' -> ('', '/a')."""
    _, controllers, path = line.rstrip("\n").split(":", 2)
    return ("memory" if "memory" in controllers.split(",") else controllers), path


def _mount(line: str) -> tuple[str, str, str, str]:
    """(fs type, root, mount point, super options) of a /proc/self/mountinfo line."""
    fields = line.split()
    tail = fields[fields.index("-") + 1:]
    return tail[0], fields[3], fields[4], tail[2] if len(tail) > 2 else ""


def _join(point: str, root: str, path: str) -> str:
    """The folder of cgroup ``path`` under a hierarchy mounted at ``point`` from ``root``."""
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root.rstrip("/")):]
    return os.path.join(point, path.lstrip("/"))


def _sweep() -> None:
    """Retry the removal of groups that were still emptying when their run ended."""
    with _lock:
        stale = _stale[:]
        _stale.clear()
    for path in stale:
        if not _remove(path, wait=0.0):
            with _lock:
                _stale.append(path)


def _remove(path: str, wait: float) -> bool:
    """Kill the group's processes (all of them a child of ours started), then rmdir it."""
    deadline = time.monotonic() + wait
    while True:
        _kill_members(path)
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
        time.sleep(0.01)


def _kill_members(path: str) -> None:
    kill = os.path.join(path, "cgroup.kill")  # v2: the kernel kills them all
    if os.path.exists(kill):
        _optional(kill, "1")
        return
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _optional(path: str, value: str) -> None:
    try:
        _write(path, value)
    except OSError:
        pass


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)
