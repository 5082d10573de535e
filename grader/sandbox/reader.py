"""Reading a child: its replies, its printed output, and whether it is busy or starved.

The reply pipe carries length-prefixed wire messages, taken a burst at a time
(a child sends hundreds in quick succession); stdout and stderr are drained
at the same time (so a chatty child never blocks), split by module at the
child's markers and kept up to a cap. Deadlines are wall-clock, but a child
the machine starved (it wanted a CPU and none was free) gets more, up to a
bounded stretch; a child that idles (sleeps, waits) gets none.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox import wire
from grader.text import clean

MAX_MESSAGE_BYTES = 64 << 20
MAX_STREAM_BYTES = 64 << 10
MAX_FLOOD_BYTES = 4 << 20  # printed beyond this, the child is stopped: "output limit"


@dataclass
class Event:
    kind: str  # "message", "timeout", "eof", "protocol", "flood"
    value: Any = None
    detail: str = ""

    @property
    def kind_text(self) -> str:
        return {"timeout": "timed out", "eof": "ended the process",
                "flood": "hit the output limit"}.get(self.kind, "failed")


class CpuProbe:
    """CPU seconds used so far by a child's process tree, read from /proc, and whether
    any of its tasks wants a CPU right now.

    Lets a deadline tell a child that was busy (an infinite loop) from one the
    machine starved (a loaded host): only the first is a timeout.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid: int):
        self.pid = pid

    def __call__(self) -> float | None:
        try:
            return sum(self._cpu(p) for p in self._tree(self.pid)) / self.TICK
        except OSError:
            return None

    def cpus(self) -> set[int] | None:
        """The CPUs the child may run on (an idle CPU elsewhere is no use to it)."""
        try:
            return os.sched_getaffinity(self.pid)
        except (OSError, AttributeError):
            return None

    def runnable(self) -> bool:
        """Is any thread of the tree running or waiting for a CPU (state R)? A child
        that sleeps, waits on a pipe or is stopped is not."""
        for pid in self._tree(self.pid):
            try:
                threads = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue  # ended meanwhile
            for tid in threads[:64]:
                if _state(f"/proc/{pid}/task/{tid}/stat") == "R":
                    return True
        return False

    def _tree(self, pid: int, depth: int = 0) -> list[int]:
        pids = [pid]
        if depth < 4:
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                children = []
            for child in children[:64]:
                pids += self._tree(int(child), depth + 1)
        return pids

    @staticmethod
    def _cpu(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0  # ended meanwhile
        return int(fields[11]) + int(fields[12])  # utime, stime


def _state(stat_path: str) -> str:
    try:
        return Path(stat_path).read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def machine_idle_seconds(cpus: set[int] | None = None) -> float | None:
    """CPU seconds the machine's CPUs (only ``cpus``, if given: those a child may run on)
    have spent idle or waiting for I/O since boot, summed (/proc/stat); None where that
    is not known."""
    try:
        with open("/proc/stat", "rb") as f:
            lines = [line.split() for line in f if line.startswith(b"cpu")]
        if cpus is None:
            chosen = lines[:1]  # the first line sums every CPU
        else:
            chosen = [f for f in lines[1:] if int(f[0][3:]) in cpus]
        if not chosen:
            return None
        return sum(int(f[4]) + int(f[5]) for f in chosen) / CpuProbe.TICK  # idle, iowait
    except (OSError, IndexError, ValueError):
        return None


# A child that used less CPU than this share of the wall time, while it wanted a CPU
# and the machine had less than this share of one CPU free, was starved.
BUSY_SHARE = 0.5


def starved(wall: float, cpu: float | None, idle: float | None, runnable: bool) -> bool:
    """Did the machine keep the child from using its time?

    ``wall``: seconds watched; ``cpu``: CPU seconds the child's tree used meanwhile;
    ``idle``: CPU seconds the machine's CPUs spent idle meanwhile (summed over CPUs);
    ``runnable``: whether the child wants a CPU now. Starved only if it got little CPU
    although it wanted some and none was free: a child that sleeps (not runnable), or
    that could have run on an idle CPU, just did not use its time. Unknown figures
    never grant more time.
    """
    if cpu is None or idle is None or wall <= 0:
        return False
    return runnable and cpu < BUSY_SHARE * wall and idle < BUSY_SHARE * wall


class Streams:
    """The child's stdout/stderr, kept up to a cap and flagged when cut."""

    def __init__(self):
        self.data = {"stdout": bytearray(), "stderr": bytearray()}
        self.cut = {"stdout": False, "stderr": False}

    def add(self, name: str, chunk: bytes) -> None:
        buf = self.data[name]
        room = MAX_STREAM_BYTES - len(buf)
        buf += chunk[:max(room, 0)]
        self.cut[name] |= len(chunk) > room

    def text(self, name: str) -> str:
        # What the student printed enters the grader here: made safe once, for every report.
        text = clean(self.data[name].decode("utf-8", "replace"))
        if self.cut[name]:
            text += f"\n[{name} cut at {MAX_STREAM_BYTES // 1024} KiB]"
        return text


# The child writes this on stdout and stderr between one module and the next, so what a
# module printed is credited to it whatever order the three pipes are read in (a student
# who prints it only misplaces their own output).
NEXT_MODULE = b"\x00\x1egrader: next module\x1e\x00"


class Reader:
    """Reads length-prefixed replies from the child while draining its stdout/stderr.

    ``streams`` holds one Streams per module the child runs, in order; output goes to
    the module of the last NEXT_MODULE seen on its pipe.
    """

    # A starved child (see ``starved``) gets more time, up to STRETCH times the
    # deadline in all.
    STRETCH = 4.0

    def __init__(self, fd: int, proc, streams: list[Streams]):
        self.fd, self.proc, self.streams = fd, proc, streams
        self.part = {proc.out_fd: 0, proc.err_fd: 0}  # which module each pipe is on
        self.carry = {proc.out_fd: b"", proc.err_fd: b""}  # a marker cut by a read
        self.cpu = CpuProbe(proc.pid)
        self.buf = bytearray()
        self.at = 0  # where the next unread reply starts in buf
        self.names = {proc.out_fd: "stdout", proc.err_fd: "stderr"}
        self.open = {fd, *self.names}
        self.printed = 0  # by this child, to stop a flood
        self.raw = False

    # The CPU baseline of a task is read this long after it starts, not at once:
    # most tasks finish sooner, and reading /proc for each would cost more than
    # the task. A deadline then compares CPU used since this point.
    BASELINE_AFTER = 0.05
    GATHER = 0.001
    READ_BYTES = 1 << 20

    def next(self, seconds: float, raw: bool = False, until: float | None = None) -> Event:
        """The next reply (decoded, or with ``raw`` its payload bytes as kind "payload"),
        or what happened instead: "timeout", "eof", "protocol" or "flood".

        ``seconds`` is the deadline, stretched only for a starved child; ``until`` (a
        time.monotonic() value) is never passed, stretched or not. A "timeout" carries
        the seconds it was granted as its value, and detail "until" when ``until`` cut it.
        """
        self.raw = raw
        start = time.monotonic()
        until = float("inf") if until is None else until
        deadline = min(start + seconds, until)
        baseline_at = start + min(self.BASELINE_AFTER, seconds / 4)
        baseline: tuple | None = None
        while True:
            event = self._parse()
            if event is not None:
                return event
            if self.fd not in self.open:
                return Event("eof")
            now = time.monotonic()
            if baseline is None and now >= baseline_at:
                cpus = self.cpu.cpus()
                baseline = (now, self.cpu(), machine_idle_seconds(cpus), cpus)
            left = deadline - now
            if left <= 0:
                # This thread may have been descheduled past the deadline while
                # the reply sat in the pipe: read what is there before judging
                # (for a bounded grace, so a trickle of bytes cannot stall us).
                if now < deadline + seconds and self._drain_ready():
                    continue
                if deadline < until and self._starved(start, seconds, baseline):
                    deadline = min(time.monotonic() + min(1.0, seconds / 2), until)
                    continue
                return Event("timeout", deadline - start, "until" if deadline >= until else "")
            wait = left if baseline is not None else min(left, baseline_at - now)
            if self.fd in self.open and wait > self.GATHER:
                # A child usually has many replies coming in quick succession: let a
                # few gather, then take them all with one wake-up instead of one each.
                time.sleep(self.GATHER)
                wait -= self.GATHER
            ready, _, _ = select.select(list(self.open), [], [], max(wait, 0.0))
            for fd in ready:
                self._pump(fd)
            if self.printed > MAX_FLOOD_BYTES:
                return Event("flood", detail=f"printed more than {MAX_FLOOD_BYTES >> 20} MiB")

    def _starved(self, start: float, seconds: float,
                 baseline: tuple | None) -> bool:
        """Was the child starved since the baseline (time, its CPU, the idle time of the
        CPUs it may use, those CPUs)? Never past STRETCH."""
        now = time.monotonic()
        if baseline is None or now - start >= self.STRETCH * seconds:
            return False
        since, cpu_then, idle_then, cpus = baseline
        cpu_now, idle_now = self.cpu(), machine_idle_seconds(cpus)
        used = None if cpu_now is None or cpu_then is None else cpu_now - cpu_then
        idle = None if idle_now is None or idle_then is None else idle_now - idle_then
        return starved(now - since, used, idle, self.cpu.runnable())

    def _drain_ready(self) -> bool:
        """Read whatever is ready now, without waiting; True if a reply byte arrived."""
        before = len(self.buf)
        ready, _, _ = select.select(list(self.open), [], [], 0)
        for fd in ready:
            self._pump(fd)
        return len(self.buf) > before or (self.fd in ready and self.fd not in self.open)

    def _pump(self, fd: int) -> None:
        try:
            chunk = os.read(fd, self.READ_BYTES)
        except OSError:
            chunk = b""
        if not chunk:
            self.open.discard(fd)
        elif fd == self.fd:
            self.buf += chunk
        else:
            self.printed += len(chunk)
            self._output(fd, chunk)

    def _output(self, fd: int, chunk: bytes) -> None:
        data = self.carry[fd] + chunk
        while (at := data.find(NEXT_MODULE)) >= 0:
            self._credit(fd, data[:at])
            data = data[at + len(NEXT_MODULE):]
            self.part[fd] = min(self.part[fd] + 1, len(self.streams) - 1)
        keep = _marker_start(data)
        self._credit(fd, data[:len(data) - keep])
        self.carry[fd] = data[len(data) - keep:]

    def _credit(self, fd: int, data: bytes) -> None:
        if data:
            self.streams[self.part[fd]].add(self.names[fd], data)

    def _parse(self) -> Event | None:
        size_at = self.at + wire.LENGTH.size
        if len(self.buf) < size_at:
            return None
        (size,) = wire.LENGTH.unpack_from(self.buf, self.at)
        if size > MAX_MESSAGE_BYTES:
            return Event("flood", detail=f"returned more than {MAX_MESSAGE_BYTES >> 20} MiB of data")
        end = size_at + size
        if len(self.buf) < end:
            return None
        with memoryview(self.buf) as view:  # one copy, not two
            payload = bytes(view[size_at:end])
        # Consumed bytes are dropped in one go once they are most of the buffer, not
        # message by message (each drop moves everything after it).
        self.at = end
        if self.at * 2 >= len(self.buf):
            del self.buf[:self.at]
            self.at = 0
        if self.raw:
            return Event("payload", payload)
        try:
            return Event("message", wire.unpack_reply(payload)[0])
        except wire.WireFormatError as exc:
            return Event("protocol", detail=str(exc))

    def drain_and_close(self) -> None:
        # The group is dead: read what is left of stdout/stderr, then close.
        deadline = time.monotonic() + 1.0
        while self.open - {self.fd} and time.monotonic() < deadline:
            ready, _, _ = select.select(list(self.open - {self.fd}), [], [], 0.1)
            for fd in ready:
                self._pump(fd)
        for fd, rest in self.carry.items():
            self._credit(fd, rest)
        os.close(self.fd)
        self.proc.close()


def _marker_start(data: bytes) -> int:
    """The length of the longest end of ``data`` that begins NEXT_MODULE (0 if none)."""
    for n in range(min(len(data), len(NEXT_MODULE) - 1), 0, -1):
        if data.endswith(NEXT_MODULE[:n]):
            return n
    return 0
