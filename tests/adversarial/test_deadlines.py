"""Deadlines: only a child the machine starved gets more time, and a submission as a whole
has a wall-time budget.

A deadline is stretched (up to 4 x) for a child that wanted a CPU and got none; a child
that sleeps is idle, not starved, and must time out like a busy loop does. Whatever was
stretched, a submission never runs past ``limits.submission_seconds``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.checks import CATALOGUE
from grader.course import Limits as CourseLimits
from grader.course import load_course
from grader.grade import Options, grade_files
from grader.sandbox.reader import BUSY_SHARE, starved

ROOT = Path(__file__).resolve().parents[2]
CLIPPING = ("global_norm", "clip_grad_norm", "clip_grad_value")
SPIN = "    t = time.monotonic()\n    while time.monotonic() - t < 60:\n        pass\n"
SLEEP = "    time.sleep(60)\n"


def _course(**limits):
    small = CourseLimits(**{"task_seconds": 1, "import_seconds": 3, "memory_mb": 1024,
                            "cpu_seconds": 20, **limits})
    return dataclasses.replace(load_course(ROOT / "course.yaml", CATALOGUE), limits=small)


def _submission(module: str, functions, body: str) -> dict[str, bytes]:
    """The solution module with each of ``functions`` replaced by ``body``."""
    source = (ROOT / "solutions" / f"{module}.py").read_text() + "\nimport time\n"
    source += "".join(f"\n\ndef {name}(*args, **kwargs):\n{body}" for name in functions)
    return {f"{module}.py": source.encode()}


def _graded(files, exercise: str, course):
    start = time.monotonic()
    result = grade_files(files, "student", "s1", course,
                         Options(exercise=exercise, secret=b"deadlines"))
    return result, time.monotonic() - start


def test_sleeping_functions_take_no_longer_than_busy_loops():
    course = _course()
    busy, busy_seconds = _graded(_submission("clipping", CLIPPING, SPIN), "clipping", course)
    idle, idle_seconds = _graded(_submission("clipping", CLIPPING, SLEEP), "clipping", course)
    for result in (busy, idle):
        assert result.score == 0
        assert [c.cases[0].status for c in result.checks] == ["timeout"] * 3
    # Before the fix: about 12 s for sleeping against 3 s for busy loops (task 1 s).
    assert idle_seconds < 2 * busy_seconds + 1, (idle_seconds, busy_seconds)
    messages = [c.cases[0].message for c in idle.checks]
    assert all(m.endswith("did not finish within 1 s") for m in messages), messages


def test_a_submission_sleeping_everywhere_stops_at_its_wall_budget():
    functions = [c.function for c in load_course(ROOT / "course.yaml", CATALOGUE)
                 .exercise("activations").checks]
    assert len(functions) == 16  # 16 s of sleeping deadlines at least, without the budget
    course = _course(submission_seconds=4)
    result, seconds = _graded(_submission("activations", functions, SLEEP), "activations",
                              course)
    assert seconds < 4 + 3, seconds
    assert result.score == 0 and len(result.checks) == 16
    assert all(c.cases[0].status == "timeout" for c in result.checks)
    messages = [case.message for c in result.checks for case in c.cases]
    assert any("the submission used its 4 s of wall time" in m for m in messages), messages


def test_the_wall_budget_is_a_course_limit():
    assert CourseLimits().submission_seconds == 300
    with pytest.raises(Exception, match="submission_seconds"):
        CourseLimits(submission_seconds=-1)


@pytest.mark.parametrize("wall, cpu, idle, runnable, expected", [
    (2.0, 0.2, 0.0, True, True),      # wanted a CPU, none was free: starved
    (2.0, 0.2, 0.0, False, False),    # asleep on a busy machine: idle, not starved
    (2.0, 0.0, 4.0, False, False),    # asleep on an idle machine
    (2.0, 0.2, 3.0, True, False),     # a CPU was free: it could have run
    (2.0, 1.8, 0.0, True, False),     # it had its time: a busy loop
    (2.0, None, 0.0, True, False),    # unknown figures never grant time
    (2.0, 0.2, None, True, False),
])
def test_starvation_is_wanting_a_cpu_when_none_is_free(wall, cpu, idle, runnable, expected):
    assert starved(wall, cpu, idle, runnable) is expected
    assert BUSY_SHARE == 0.5


STARVED = """
import os, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # grader, zygote, children: one CPU
spinners = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        # A session each, so each is its own scheduling autogroup: otherwise the three
        # share one group's half of the CPU against the child's own session, and the
        # child gets half the CPU, the very border of "starved".
        os.setsid()
        end = time.monotonic() + 30  # bounded, whatever happens to this test
        while time.monotonic() < end:
            pass
        os._exit(0)
    spinners.append(pid)
try:
    from grader.sandbox.run import Call, Limits, Task, run_module
    source = (b"import time\\n"
              b"def work(seconds):\\n"
              b"    end = time.process_time() + seconds\\n"
              b"    while time.process_time() < end:\\n"
              b"        pass\\n"
              b"    return 1.0\\n")
    tasks = [Task("t", "t", (Call("work", (0.4,)),)), Task("loop", "loop", (Call("work", (60,)),))]
    start = time.monotonic()
    run = run_module({"m.py": source}, "m", tasks[:1], Limits(task_seconds=1, import_seconds=10))
    print(run.outcomes["t"].status, time.monotonic() - start)
    run = run_module({"m.py": source}, "m", tasks[1:], Limits(task_seconds=1, import_seconds=10))
    print(run.outcomes["loop"].status, run.outcomes["loop"].detail)
finally:
    for pid in spinners:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_a_child_starved_by_a_busy_machine_still_gets_more_time():
    # 0.4 s of CPU on a CPU shared with three spinners takes about 1.6 s of wall time:
    # a timeout at 1 s, unless the deadline is stretched for a starved child.
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(STARVED)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    status, seconds = first.split()
    assert status == "ok", out.stdout
    assert float(seconds) > 1.0, out.stdout  # it did need more than its deadline
    # A starved infinite loop times out all the same, and is told the deadline it had.
    assert re.fullmatch(r"timeout did not finish within 1 s \(given [1-4]\.\d s in all: "
                        r"the deadline was extended because the machine was busy\)", second), second
