"""Run uids (as root): one of its own per child, never handed out twice while anything
of it may survive.

What a uid owns can outlive its run: processes still being torn down, the user
keyring of the kernel (kept per uid in the initial user namespace, however long
ago its processes ended), files where Landlock is missing. So a grader hands a uid
out once, two graders never share one, and a uid an earlier grader used is taken
again only when nothing of it is left:

- run uids fill [2^30, 2^31): 16,384 blocks of 65,536, far from system and
  container ranges (subordinate ids usually start at 100,000 in steps of 65,536);
- a grader claims a block for itself by holding an flock on ``/run/gradflow-grader/
  block-N`` for as long as it lives (the kernel lets go when it dies, even by
  kill -9); the first it tries is ``pid % 16384``, the next free one otherwise;
- a block is taken only if no process runs as one of its uids and no uid of it
  holds keys (``/proc/key-users``), so whatever an earlier grader left is never
  inherited;
- inside a grader, uids are handed out in order and a block is never claimed
  twice: a grader runs 65,536 children before it needs a second block;
- a forked worker claims blocks of its own (the parent keeps its lock).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

__all__ = ["UID_BASE", "run_uids", "next_uid"]

UID_BASE = 1 << 30
BLOCK = 1 << 16
BLOCKS = 1 << 14  # UID_BASE + BLOCKS * BLOCK == 2^31
LOCKS = "/run/gradflow-grader"


class UidsExhausted(OSError):
    pass


def run_uids(grader_pid: int) -> range:
    """The block a grader with this pid claims first (its own, unless a live grader or
    a leftover holds that one)."""
    return _block(grader_pid % BLOCKS)


def _block(n: int) -> range:
    first = UID_BASE + n * BLOCK
    return range(first, first + BLOCK)


class _Allocator:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        # Anew in a forked child too: a lock another thread held at the fork stays held.
        self.lock = threading.Lock()
        self.block: range | None = None
        self.taken = 0
        self.claimed: set[int] = set()
        self.held: list[int] = []  # lock fds, kept open for the process's lifetime

    def next(self) -> int:
        with self.lock:
            if self.block is None or self.taken == len(self.block):
                self.block, self.taken = self._claim(), 0
            self.taken += 1
            return self.block[self.taken - 1]

    def _claim(self) -> range:
        folder = _lock_folder()
        start = os.getpid() % BLOCKS
        for k in range(BLOCKS):
            n = (start + k) % BLOCKS
            if n in self.claimed:
                continue
            fd = _try_lock(folder, n) if folder else None
            if folder and fd is None:
                continue  # another live grader's
            if _in_use(_block(n)):
                if fd is not None:
                    os.close(fd)
                continue
            self.claimed.add(n)
            if fd is not None:
                self.held.append(fd)
            return _block(n)
        raise UidsExhausted("every block of run uids is in use")


def _lock_folder() -> str | None:
    """The lock folder, made root-only; None where it cannot be trusted or made."""
    try:
        os.makedirs(LOCKS, mode=0o700, exist_ok=True)
        st = os.lstat(LOCKS)
    except OSError:
        return None
    if not os.path.isdir(LOCKS) or os.path.islink(LOCKS) or st.st_uid != 0 \
            or st.st_mode & 0o022:
        return None
    return LOCKS


def _try_lock(folder: str, n: int) -> int | None:
    try:
        fd = os.open(os.path.join(folder, f"block-{n}"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _in_use(block: range) -> bool:
    """Does a process run as, or do keys belong to, one of the block's uids?"""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "status").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("Uid:"):
                    if any(int(u) in block for u in line.split()[1:]):
                        return True
                    break
    try:
        with open("/proc/key-users") as f:
            return any(int(line.split(":")[0]) in block for line in f if ":" in line)
    except OSError:
        return False


_allocator = _Allocator()
os.register_at_fork(after_in_child=_allocator.reset)


def next_uid() -> int:
    """A run uid that no other child, of this grader or another, holds anything of."""
    return _allocator.next()
