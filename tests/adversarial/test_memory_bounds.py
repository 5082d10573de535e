"""A submission is bounded in memory as a whole, not only per process.

RLIMIT_AS bounds what one process maps; memory a process holds without mapping it
(memfd files, SysV segments, files and inodes of the run folder's tmpfs) and what 16
processes map together escape it. A memory cgroup per child bounds them all, and the run
folder's tmpfs has an inode cap. Each attack here bounds itself to 2 GiB, and the tests
that need a cgroup run only where one can be made (root, a memory controller): on a
machine without one, a broken sandbox must not be able to hurt it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import secrets
import textwrap
import time

import pytest

from grader.sandbox.run import Call, Limits, Task, run_module

LIMITS = Limits(task_seconds=20.0, import_seconds=10.0, memory_mb=512)
IPC_RMID = 0

_libc = ctypes.CDLL(None, use_errno=True)


def memory_controller() -> bool:
    """Can a grader here make a memory cgroup (v1, or v2 with the memory controller)?"""
    if os.geteuid() != 0:
        return False
    if os.path.isfile("/sys/fs/cgroup/memory/cgroup.procs"):
        return True
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                if "memory" in f.read().split():
                    return True
        except OSError:
            pass
    return False


needs_cgroup = pytest.mark.skipif(not memory_controller(),
                                  reason="no memory cgroup can be made here (root and a "
                                         "memory controller are needed)")


def source(text: str, **values) -> bytes:
    text = textwrap.dedent(text).lstrip("\n")
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text.encode()


def run(module: bytes, function: str = "attack", limits: Limits = LIMITS):
    tasks = [Task("attack", "attack", (Call(function),)),
             Task("after", "after", (Call("after"),))]
    started = time.monotonic()
    result = run_module({"m.py": module}, "m", tasks, limits)
    return result, time.monotonic() - started


AFTER = """
    def after():
        return 42
"""


def assert_bounded(result, seconds: float) -> None:
    attack, after = result.outcomes["attack"], result.outcomes["after"]
    assert attack.status == "exception" and attack.error.type == "MemoryError", \
        (attack.status, attack.detail, attack.error)
    assert "memory" in attack.error.message
    # The grader carries on in a new child, which is bounded the same way.
    assert after.status == "ok" and after.calls[0].value == 42
    assert seconds < 60


MEMFD = """
    import os

    def attack():
        # 16 MiB a file (the file-size limit), as many files as the fd limit allows,
        # 2 GiB at most: none of it is mapped, so RLIMIT_AS does not see it.
        block, files = b"\\1" * (1 << 20), []
        while len(files) * 16 < 2048:
            try:
                fd = os.memfd_create("hoard")
            except OSError:
                break
            for _ in range(16):
                os.write(fd, block)
            files.append(fd)
        return len(files) * 16
""" + AFTER


@needs_cgroup
def test_memfd_files_past_the_memory_limit_end_the_run_as_a_memory_limit():
    assert_bounded(*run(source(MEMFD)))


SHM = """
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.shmat.restype = ctypes.c_void_p
    _libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    KEY = @KEY@
    SEGMENT = 128 << 20

    def attack():
        # 128 MiB segments, each touched then detached (so RLIMIT_AS never sees more
        # than one), 2 GiB at most.
        total = 0
        for n in range(16):
            shmid = _libc.shmget(KEY + n, SEGMENT, 0o1000 | 0o600)
            if shmid < 0:
                raise OSError(ctypes.get_errno(), "shmget")
            address = _libc.shmat(shmid, None, 0)
            if address in (None, 2 ** 64 - 1):
                raise OSError(ctypes.get_errno(), "shmat")
            ctypes.memset(address, 1, SEGMENT)
            _libc.shmdt(ctypes.c_void_p(address))
            total += SEGMENT >> 20
        return total
""" + AFTER


def remove_segments(first: int, count: int) -> None:
    """Clean up what a broken sandbox let the attack leave (its own keys only)."""
    with open("/proc/sysvipc/shm") as f:
        header, *rows = [line.split() for line in f]
    for row in rows:
        segment = dict(zip(header, row))
        if first <= int(segment["key"]) < first + count:
            _libc.shmctl(int(segment["shmid"]), IPC_RMID, None)


@needs_cgroup
def test_shared_memory_segments_past_the_memory_limit_end_the_run_as_a_memory_limit():
    key = 0x4800_0000 + secrets.randbelow(1 << 20) * 16
    try:
        assert_bounded(*run(source(SHM, KEY=key)))
    finally:
        remove_segments(key, 16)


INODES = """
    import os

    def attack():
        # Empty files cost no bytes of the folder's size, only inodes (kernel memory).
        os.mkdir("flood")
        for n in range(200_000):
            open(f"flood/{n}", "w").close()
        return n + 1

    def few():
        for n in range(200):
            with open(f"file{n}.txt", "w") as f:
                f.write("x" * 100)
        return len(os.listdir("."))
""" + AFTER


def test_an_inode_flood_in_the_run_folder_stops_at_the_inode_cap():
    result, seconds = run(source(INODES))
    attack = result.outcomes["attack"]
    assert attack.status == "exception" and attack.error.type == "OSError", \
        (attack.status, attack.detail, attack.error)
    assert "No space left" in attack.error.message
    assert result.outcomes["after"].status == "ok"
    assert seconds < 60


def test_a_few_hundred_files_are_still_fine():
    result, _ = run(source(INODES), "few")
    assert result.outcomes["attack"].status == "ok"
    assert result.outcomes["attack"].calls[0].value >= 200


@needs_cgroup
def test_a_check_whose_child_the_cgroup_killed_fails_with_the_memory_limit_status():
    from pathlib import Path

    from grader.checks import CATALOGUE, status
    from grader.course import load_course
    from grader.grade import Options, grade_files

    root = Path(__file__).resolve().parents[2]
    attack = textwrap.dedent(MEMFD.split("def after")[0]).replace("def attack():",
                                                                   "def _hoard():")
    attack += "\n\ndef relu(z):\n    _hoard()\n    return z * (z > 0)\n"
    files = {"activations.py": (root / "solutions" / "activations.py").read_bytes()
             + b"\n\n" + attack.encode()}
    course = load_course(root / "course.yaml", CATALOGUE)
    course = dataclasses.replace(course, limits=dataclasses.replace(course.limits,
                                                                     memory_mb=512))
    result = grade_files(files, "hoarder", "hoarder", course, Options(exercise="activations"))
    checks = {c.function: c for c in result.checks}
    relu = checks.pop("relu")
    assert relu.score == 0
    first = next(case for case in relu.cases if not case.passed)
    assert first.status == status.MEMORY, (first.status, first.message)
    assert "memory" in first.message
    assert all(c.score == c.max_score for c in checks.values())
