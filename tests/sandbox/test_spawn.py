"""Children forked from the pre-started zygote, and the fresh-interpreter fallback."""

import dataclasses
import os
import signal

from grader.sandbox import spawn
from grader.sandbox.run import Call, Limits, Task, run_module

SOURCE = b"""
import os

def ok():
    return 1

def open_fds():
    found = []
    for fd in range(1024):  # /proc is closed to the child, so probe each number
        try:
            os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    return found
"""
LIMITS = Limits(task_seconds=5.0)


def _run(function: str, limits: Limits = LIMITS):
    return run_module({"m.py": SOURCE}, "m", [Task(function, function, (Call(function),))],
                      limits).outcomes[function]


def test_the_fresh_interpreter_path_gives_the_same_result():
    assert _run("ok", dataclasses.replace(LIMITS, zygote=False)).calls[0].value == 1
    assert _run("ok").calls[0].value == 1


def test_a_dead_zygote_is_replaced():
    assert _run("ok").status == "ok"
    zygote = spawn._zygote
    assert zygote is not None and zygote.alive()
    os.kill(zygote.proc.pid, signal.SIGKILL)
    zygote.proc.wait()
    assert _run("ok").calls[0].value == 1
    assert spawn._zygote is not zygote and spawn._zygote.alive()


def test_a_forked_child_holds_no_descriptor_of_the_zygote():
    forked = _run("open_fds").calls[0].value
    fresh = _run("open_fds", dataclasses.replace(LIMITS, zygote=False)).calls[0].value
    # stdin, stdout, stderr and the reply pipe, as for a fresh interpreter
    assert len(forked) == len(fresh) == 4, (forked, fresh)


def test_a_late_answer_from_the_zygote_is_killed_and_never_misattributed(tmp_path):
    import pytest
    import time
    assert _run("ok").status == "ok"  # the zygote is up
    zygote = spawn._zygote
    with pytest.raises(OSError):
        with spawn._ChildPipes() as pipes:
            zygote.spawn(pipes.child_fds, {"cwd": str(tmp_path), "env": {},
                                           "rlimits": {}, "argv": ["-c", "x"]}, timeout=0)
    # The late answer is recognised and consumed (its child killed, if still there:
    # here it has usually ended already, its job pipe being closed), and the zygote
    # reports that child's end.
    before = len(zygote.exits)
    deadline = time.monotonic() + 5
    while (zygote.abandoned or len(zygote.exits) == before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not zygote.abandoned and not zygote.answers
    assert len(zygote.exits) > before, "the abandoned child's end was never reported"
    assert _run("ok").calls[0].value == 1  # the next child gets its own pid and pipes
