"""Nothing a grader started outlives it: a grader killed with SIGKILL (or its zygote
killed) while a student's loop spins takes every sandbox process along, forked from the
zygote or started as a fresh interpreter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from proctree import alive, descendants, spinning

ROOT = Path(__file__).resolve().parents[2]

GRADER = """
from grader.sandbox.run import Call, Limits, Task, run_module
source = (b"import time\\n"
          b"def spin():\\n"
          b"    end = time.monotonic() + 60  # bounded, even if nothing stops it\\n"
          b"    while time.monotonic() < end:\\n"
          b"        pass\\n")
run_module({"m.py": source}, "m", [Task("t", "t", (Call("spin"),))],
           Limits(task_seconds=60, import_seconds=20, zygote=ZYGOTE))
"""


def _zygote(processes) -> int:
    for pid, _ in processes:
        try:
            if b"zygote.serve" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            pass
    raise AssertionError("no zygote among the grader's processes")


@pytest.mark.parametrize("zygote, victim", [(True, "grader"), (True, "zygote"),
                                            (False, "grader")])
def test_killing_the_grader_or_its_zygote_ends_every_sandbox_process(zygote, victim):
    script = textwrap.dedent(GRADER).replace("ZYGOTE", str(zygote))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not spinning(descendants(proc.pid), 0.3):
            time.sleep(0.05)
        started = descendants(proc.pid)
        assert spinning(started, 0.3), "the student's loop should be running"
        os.kill(_zygote(started) if victim == "zygote" else proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(map(alive, started)):
            time.sleep(0.05)
        left = [p for p in started if alive(p)]
        for pid, _ in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"still running after the {victim} was killed: {left}"
    finally:
        proc.kill()
        proc.wait()
