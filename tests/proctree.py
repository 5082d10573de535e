"""What the kill tests need to know about a process tree, read from /proc.

A process is (pid, start time): the start time tells a survivor from a later process
that was given the same pid.
"""

from __future__ import annotations

import os
from pathlib import Path


def stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every process below ``pid``, as (pid, start time)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                fields = stat(child)
                if fields:
                    found.append((child, fields[19]))
                    todo.append(child)
    return found


def alive(process: tuple[int, str]) -> bool:
    fields = stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] != "Z"


def spinning(processes, seconds: float = 0.5) -> list[int]:
    """The processes using a CPU now with more than ``seconds`` of CPU behind them."""
    tick = os.sysconf("SC_CLK_TCK")
    return [pid for pid, _ in processes
            if (f := stat(pid)) and f[0] == "R" and (int(f[11]) + int(f[12])) / tick > seconds]
