"""Tests of grader.sandbox.run: student code runs in a child process and every way it can
misbehave comes back as a TaskOutcome, never as an exception or a stray process in the grader.

Student modules are written inline as bytes, as a submission would hand them over.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.run import MAX_STREAM_BYTES, Call, Limits, Task, run_module
from grader.sandbox.wire import DROPPED, Other, Provided, Ref, Rng
from grader.text import LINE_LIMIT

LIMITS = Limits(task_seconds=5.0, import_seconds=5.0)
QUICK = Limits(task_seconds=0.5, import_seconds=0.5)


def source(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def line_of(src: bytes, needle: str) -> int:
    """1-based number of the first line of ``src`` containing ``needle``."""
    for number, line in enumerate(src.decode().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the source")


def task(function: str, *args, key: str | None = None, group: str | None = None,
         **kwargs) -> Task:
    return Task(key or function, group or function, (Call(function, args, kwargs),))


def run(src: bytes, tasks: list[Task], limits: Limits = LIMITS, extra: dict | None = None):
    return run_module({"m.py": src, **(extra or {})}, "m", tasks, limits)


def running(pid: int) -> bool:
    """Is ``pid`` a live (not zombie) ``sleep`` process? Reads /proc, calls nothing."""
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rindex(")") + 2]
    return state not in "ZX" and cmdline.startswith(b"sleep")


def kill_if_running(pid) -> None:
    """Clean up a process this test started (through the student code), by its id."""
    if isinstance(pid, int) and running(pid):
        os.kill(pid, signal.SIGKILL)


BASIC = source("""
    import numpy as np

    def relu(z):
        return np.maximum(z, 0.0)

    def forward(x):
        return 2.0 * x, {"cache": object()}

    def backward(dout, x2):
        return dout + x2

    def use_act(z, act):
        return act(z)

    def bad(z):
        return z.undefined_attr

    def todo(z):
        raise NotImplementedError("todo: not implemented yet")

    not_a_function = 3
""")


# ---------------------------------------------------------------------------- plain outcomes


def test_ok_results_come_back_as_plain_data():
    z = np.array([-1.0, 0.0, 2.0])
    result = run(BASIC, [task("relu", z)])
    outcome = result.outcomes["relu"]
    assert outcome.status == "ok"
    (call,) = outcome.calls
    np.testing.assert_array_equal(call.value, [0.0, 0.0, 2.0])
    assert call.mutated == () and call.warnings == () and call.global_rng_used is False
    assert result.children == 1


def test_calls_chain_through_refs_and_dropped_parts_stay_in_the_child():
    x = np.array([1.0, 2.0])
    chain = Task("chain", "chain", (Call("forward", (x,), drop=(1,)),
                                    Call("backward", (np.ones(2), Ref(0, (0,))))))
    outcome = run(BASIC, [chain]).outcomes["chain"]
    assert outcome.status == "ok"
    first, second = outcome.calls
    assert type(first.value) is tuple and first.value[1] is DROPPED
    np.testing.assert_array_equal(first.value[0], [2.0, 4.0])
    np.testing.assert_array_equal(second.value, [3.0, 5.0])


def test_provided_callables_are_the_graders():
    z = np.array([0.0, 100.0, -100.0])
    outcome = run(BASIC, [task("use_act", z, Provided("sigmoid"))]).outcomes["use_act"]
    np.testing.assert_allclose(outcome.calls[0].value, [0.5, 1.0, 0.0], atol=1e-40)
    assert 0.0 < outcome.calls[0].value[2] < 1e-40  # computed without underflow to exactly 0


def test_exception_reports_type_message_and_student_line():
    outcome = run(BASIC, [task("bad", np.zeros(2))]).outcomes["bad"]
    assert outcome.status == "exception"
    assert outcome.error.type == "AttributeError"
    assert "undefined_attr" in outcome.error.message
    assert outcome.error.where == f"m.py:{line_of(BASIC, 'z.undefined_attr')} in bad"
    assert outcome.at == 0


def test_exception_inside_a_library_points_at_the_students_line():
    src = source("""
        import numpy as np
        def invert(a):
            return np.linalg.inv(a)
    """)
    outcome = run(src, [task("invert", np.zeros((2, 2)))]).outcomes["invert"]
    assert outcome.status == "exception"
    assert outcome.error.type.endswith("LinAlgError")
    assert outcome.error.where == f"m.py:{line_of(src, 'np.linalg.inv')} in invert"


def test_exception_in_a_later_call_reports_which_call_failed():
    chain = Task("chain", "chain", (Call("relu", (np.ones(2),)), Call("bad", (np.ones(2),))))
    outcome = run(BASIC, [chain]).outcomes["chain"]
    assert outcome.status == "exception" and outcome.at == 1
    assert len(outcome.calls) == 1  # the call that finished is still reported


def test_not_implemented_is_an_exception_with_its_message():
    outcome = run(BASIC, [task("todo", np.zeros(1))]).outcomes["todo"]
    assert outcome.status == "exception"
    assert outcome.error.type == "NotImplementedError"
    assert outcome.error.message == "todo: not implemented yet"
    assert outcome.error.where == f"m.py:{line_of(BASIC, 'raise NotImplementedError')} in todo"


@pytest.mark.parametrize("name", ["nope", "not_a_function"])
def test_missing_or_non_callable_function(name):
    outcome = run(BASIC, [task(name, 1)]).outcomes[name]
    assert outcome.status == "missing"
    assert outcome.detail == name


# ---------------------------------------------------------------------------- import failures


def test_syntax_error_at_import_names_the_line_for_every_task():
    src = source("""
        import numpy as np

        def relu(z:
            return z
    """)
    result = run(src, [task("relu", 1.0), task("other", 1.0)])
    for outcome in result.outcomes.values():
        assert outcome.status == "import error"
        assert outcome.error.type == "SyntaxError"
        assert outcome.error.where == f"m.py:{line_of(src, 'def relu(z:')}"


def test_import_error_at_import():
    src = source("""
        import numpy as np
        import a_module_that_does_not_exist
    """)
    outcome = run(src, [task("relu", 1.0)]).outcomes["relu"]
    assert outcome.status == "import error"
    assert outcome.error.type in ("ImportError", "ModuleNotFoundError")
    assert "a_module_that_does_not_exist" in outcome.error.message
    assert outcome.error.where == f"m.py:{line_of(src, 'a_module_that')} in <module>"


@pytest.mark.parametrize("statement", ["sys.exit(0)", "sys.exit(3)", "raise KeyboardInterrupt"])
def test_exit_at_import_is_an_import_error_not_the_graders_exit(statement):
    src = source(f"""
        import sys
        {statement}
    """)
    outcome = run(src, [task("relu", 1.0)]).outcomes["relu"]  # returning at all is the point
    assert outcome.status == "import error"
    assert outcome.error.type in ("SystemExit", "KeyboardInterrupt")


def test_module_missing_from_the_files_is_an_import_error():
    result = run_module({"other.py": b"x = 1\n"}, "m", [task("relu", 1.0)], LIMITS)
    assert result.outcomes["relu"].status == "import error"
    assert result.outcomes["relu"].error.type == "ModuleNotFoundError"


def test_endless_import_times_out_for_every_task():
    src = source("""
        while True:
            pass
    """)
    start = time.monotonic()
    result = run(src, [task("a", 1), task("b", 1)], QUICK)
    assert time.monotonic() - start < 4.0
    for outcome in result.outcomes.values():
        assert outcome.status == "timeout"
        assert "importing" in outcome.detail


# ---------------------------------------------------------------------------- dying children


DEADLY = source("""
    import os, signal, sys
    import numpy as np

    def ok(x):
        return x + 1

    def exit_now(x):
        os._exit(3)

    def loop(x):
        while True:
            pass

    def segfault(x):
        os.kill(os.getpid(), signal.SIGSEGV)

    def chatter(x):
        sys.stdout.write("x" * 1_000_000)
        sys.stderr.write("e" * 1_000_000)
        return x

    def flood(x):
        sys.stdout.write("x" * 10_000_000)
        sys.stderr.write("e" * 10_000_000)
        return x
""")


def test_os_exit_is_reported_and_later_tasks_run_in_a_new_child():
    tasks = [task("ok", 1, key="ok#0"), task("exit_now", 1), task("ok", 2, key="ok#1")]
    result = run(DEADLY, tasks)
    assert result.outcomes["ok#0"].status == "ok"
    assert result.outcomes["exit_now"].status == "exited"
    assert "code 3" in result.outcomes["exit_now"].detail
    assert result.outcomes["ok#1"].status == "ok"
    assert result.outcomes["ok#1"].calls[0].value == 3
    assert result.children == 2


def test_endless_loop_times_out_skips_its_check_and_spares_the_others():
    tasks = [task("loop", 1, key="loop#0"), task("loop", 2, key="loop#1"),
             task("ok", 1, key="ok#0"), task("loop", 3, key="loop#2"), task("ok", 2, key="ok#1")]
    start = time.monotonic()
    result = run(DEADLY, tasks, QUICK)
    elapsed = time.monotonic() - start
    assert result.outcomes["loop#0"].status == "timeout"
    assert "0.5 s" in result.outcomes["loop#0"].detail
    for key in ("loop#1", "loop#2"):
        assert result.outcomes[key].status == "skipped"
        assert "timed out" in result.outcomes[key].detail
    assert result.outcomes["ok#0"].calls[0].value == 2
    assert result.outcomes["ok#1"].calls[0].value == 3
    assert elapsed < 0.5 + 3.0, f"one endless loop cost {elapsed:.1f} s"


def test_segfault_is_a_crash_naming_the_signal():
    result = run(DEADLY, [task("segfault", 1), task("ok", 1)])
    outcome = result.outcomes["segfault"]
    assert outcome.status == "crashed"
    assert "SIGSEGV" in outcome.detail
    assert result.outcomes["ok"].status == "ok"


def test_output_floods_stop_the_case_and_grading_goes_on():
    result = run(DEADLY, [task("flood", 1), task("ok", 1)])
    assert result.outcomes["flood"].status == "output limit"
    assert "printed more than 4 MiB" in result.outcomes["flood"].detail
    assert result.outcomes["ok"].calls[0].value == 2
    assert result.stdout.endswith(f"[stdout cut at {MAX_STREAM_BYTES // 1024} KiB]")


def test_chatty_output_is_capped_and_the_case_still_counts():
    result = run(DEADLY, [task("chatter", 1), task("ok", 1)])
    assert result.outcomes["chatter"].status == "ok"
    assert result.outcomes["ok"].calls[0].value == 2
    for name, char, text in (("stdout", "x", result.stdout), ("stderr", "e", result.stderr)):
        body, _, note = text.rpartition("\n")
        assert note == f"[{name} cut at {MAX_STREAM_BYTES // 1024} KiB]"
        # One line of 64 KiB: kept to the first LINE_LIMIT characters (grader/text.py).
        assert body == (char * LINE_LIMIT
                        + f"… ({MAX_STREAM_BYTES - LINE_LIMIT} more characters on this line)")


CHATTY = source("""
    import sys
    print("at import")

    def talk():
        print("from talk")
        print("to stderr", file=sys.stderr)
        return 1

    def loop():
        while True:
            pass
""")


def test_small_stderr_output_is_kept_whole_without_a_note():
    result = run(CHATTY, [task("talk"), task("loop")], QUICK)
    assert result.outcomes["talk"].status == "ok"
    assert result.stderr == "to stderr\n"


def test_printed_output_survives_a_later_timeout():
    result = run(CHATTY, [task("talk"), task("loop")], QUICK)
    assert result.outcomes["loop"].status == "timeout"
    assert result.stdout == "at import\nfrom talk\n"


# ------------------------------------------------------------------------ what the child notices


WATCHED = source("""
    import numpy as np

    def scale(z):
        z *= 2.0
        return z

    def scale_second(xs):
        xs[1][0] = 99.0
        return 0

    def fill_out(x, out=None):
        out[...] = 0.0
        return x

    def identity(x):
        return x

    def keep_cache(x):
        return x.sum(), x

    def spoil_cache(cache):
        cache[0] = -1.0
        return 0

    def draw(n, rng):
        return rng.normal(size=n)

    def ignore_rng(n, rng):
        return np.zeros(n)

    def draw_global(n, rng):
        return np.random.normal(size=n)
""")


def test_mutated_inputs_are_reported_with_their_path():
    a, b = np.ones(2), np.ones(3)
    tasks = [
        task("scale", np.ones(3)),
        task("scale_second", [a, b]),
        task("fill_out", np.ones(2), out=np.ones(2)),
        task("identity", np.array([np.nan, 1.0])),
        task("identity", np.arange(3), key="ints"),
        task("identity", np.array([True, False]), key="bools"),
    ]
    outcomes = run(WATCHED, tasks).outcomes
    assert outcomes["scale"].calls[0].mutated == ((0, 0),)
    assert outcomes["scale_second"].calls[0].mutated == ((0, 0, 1),)  # call 0, arg 0, item 1
    assert outcomes["fill_out"].calls[0].mutated == ((0, "out"),)
    for key in ("identity", "ints", "bools"):  # NaN, int and bool inputs left alone
        assert outcomes[key].calls[0].mutated == (), key
    # the grader's own arrays were never touched: only the child's copies were
    np.testing.assert_array_equal(b, np.ones(3))


def test_input_spoiled_through_a_cache_is_reported_on_the_later_call():
    x = np.array([1.0, 2.0])
    chain = Task("chain", "chain", (Call("keep_cache", (x,)),
                                    Call("spoil_cache", (Ref(0, (1,)),))))
    outcome = run(WATCHED, [chain]).outcomes["chain"]
    assert outcome.calls[0].mutated == ()
    assert outcome.calls[1].mutated == ((0, 0),)


def test_rng_use_is_observed():
    tasks = [task("draw", 3, Rng(5)), task("ignore_rng", 3, Rng(5)),
             task("draw_global", 3, Rng(5))]
    outcomes = run(WATCHED, tasks).outcomes
    drew = outcomes["draw"].calls[0]
    assert drew.rng_advanced == (True,) and drew.global_rng_used is False
    np.testing.assert_array_equal(drew.value, np.random.default_rng(5).normal(size=3))
    ignored = outcomes["ignore_rng"].calls[0]
    assert ignored.rng_advanced == (False,) and ignored.global_rng_used is False
    glob = outcomes["draw_global"].calls[0]
    assert glob.rng_advanced == (False,) and glob.global_rng_used is True


def test_warnings_are_reported():
    src = source("""
        import numpy as np
        def overflow(z):
            return np.exp(z)
    """)
    call = run(src, [task("overflow", np.array([1000.0]))]).outcomes["overflow"].calls[0]
    assert any("RuntimeWarning" in w and "overflow" in w for w in call.warnings)


@pytest.mark.parametrize("expression, fragment", [
    ("np.arange(3.0).view(Sub)", "Sub"),
    ("np.ma.masked_array([1.0, 2.0], mask=[0, 1])", "MaskedArray"),
    ("np.array([None, 1.0], dtype=object)", "|O"),
    ("(i for i in range(3))", "generator"),
    ("np.matrix([[1.0]])", "matrix"),
], ids=["subclass", "masked", "object-array", "generator", "matrix"])
def test_values_that_are_not_plain_data_arrive_as_other(expression, fragment):
    src = source(f"""
        import numpy as np
        class Sub(np.ndarray):
            pass
        def f():
            return {expression}
    """)
    outcome = run(src, [task("f")]).outcomes["f"]
    assert outcome.status == "ok"
    value = outcome.calls[0].value
    assert type(value) is Other and fragment in value.type_name


# ---------------------------------------------------------------------------- isolation


@pytest.mark.parametrize("name", ["numpy", "fractions"])
def test_a_submitted_file_does_not_shadow_a_library(name):
    """numpy is imported by the child before the submission is on the path; fractions is not,
    so it shows that the submission's folder comes after the standard library."""
    library = __import__(name)
    src = source(f"""
        import {name}
        def where():
            return {name}.__file__
    """)
    shadow = {f"{name}.py": b"raise RuntimeError('the submission shadowed a library')\n"}
    outcome = run(src, [task("where")], extra=shadow).outcomes["where"]
    assert outcome.status == "ok", outcome
    assert outcome.calls[0].value == library.__file__[:200]  # strings cross capped


def test_the_childs_environment_holds_no_grader_secret(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "do-not-leak")
    src = source("""
        import os
        def secret():
            return os.environ.get("GRADER_SECRET")
        def names():
            return sorted(os.environ)
    """)
    outcomes = run(src, [task("secret"), task("names")]).outcomes
    assert outcomes["secret"].status == "ok"
    assert outcomes["secret"].calls[0].value is None
    assert "GRADER_SECRET" not in outcomes["names"].calls[0].value


def test_the_child_works_in_its_own_folder_not_the_submissions():
    src = source("""
        import os
        def cwd():
            open("scratch.txt", "w").write("x")
            return os.getcwd()
    """)
    cwd = run(src, [task("cwd")]).outcomes["cwd"].calls[0].value
    assert not Path(cwd).exists()  # the temporary folder is gone afterwards


def _survivors(marker: str) -> list[int]:
    """Host pids whose process name (comm) is ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == marker:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# A submission that leaves processes behind: each names itself with the marker so
# the test can find it from outside (its pid inside the sandbox means nothing here).
LINGERER = source("""
    import ctypes, os, time

    def _linger(marker):
        ctypes.CDLL(None).prctl(15, marker.encode(), 0, 0, 0)  # PR_SET_NAME
        time.sleep(30)
        os._exit(0)

    def spawn(marker):
        if os.fork() == 0:
            _linger(marker)
        return 1

    def escape(marker):
        # setsid and a double fork: the usual way out of a process group
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                _linger(marker)
            os._exit(0)
        time.sleep(0.2)
        return 1
""")


@pytest.mark.parametrize("how", ["spawn", "escape"])
def test_no_process_the_submission_started_outlives_its_run(how):
    marker = f"ling{os.getpid() % 10000}{how[:3]}"
    tasks = [Task(how, how, (Call(how, (marker,)),))]
    try:
        outcome = run(LINGERER, tasks).outcomes[how]
        assert outcome.status == "ok", outcome
        deadline = time.monotonic() + 2.0
        while _survivors(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _survivors(marker), f"processes named {marker} survived run_module"
    finally:
        for pid in _survivors(marker):
            kill_if_running(pid)


# ---------------------------------------------------------------------------- known bugs


FORGER = source("""
    import json, os, struct, sys

    class wire:  # the reply framing of grader/sandbox/wire.py (the runtime is not importable)
        LENGTH, HEADER_LENGTH = struct.Struct("<Q"), struct.Struct("<I")

    REPLY_FD = int(sys.argv[3])
    # A reply's envelope is plain JSON; only return values are value trees.
    BODIES = {
        "bad-marker": {"calls": [{"value": {"$ref": ["x", []]}}]},
        "call-not-a-dict": {"calls": [5]},
        "at-not-an-int": {"calls": [], "error": {}, "at": []},
        "not-a-dict": 5,
    }

    def forge(name):
        \"\"\"Write a well-framed reply with a hand-made body, then leave.\"\"\"
        header = json.dumps({"blobs": [], "body": BODIES[name]}).encode()
        payload = wire.HEADER_LENGTH.pack(len(header)) + header
        os.write(REPLY_FD, wire.LENGTH.pack(len(payload)) + payload)
        os._exit(0)

    def ok():
        return 1
""")


@pytest.mark.parametrize("body", ["bad-marker", "call-not-a-dict", "at-not-an-int"])
def test_a_forged_reply_is_a_protocol_outcome(body):
    tasks = [Task("forged", "forged", (Call("forge", (body,)),)), task("ok")]
    result = run(FORGER, tasks)
    assert result.outcomes["forged"].status == "protocol"
    assert result.outcomes["ok"].status == "ok"


def test_a_forged_import_acknowledgement_is_a_protocol_outcome():
    src = FORGER + b'\nforge("not-a-dict")\n'
    outcome = run(src, [task("ok")]).outcomes["ok"]
    assert outcome.status == "protocol"


def test_the_forger_itself_works():
    """The forged-reply tests above fail for the right reason: a well-formed forged reply
    is taken as the task's reply."""
    src = FORGER.replace(b'"not-a-dict": 5,', b'"not-a-dict": 5, "good": {"calls": []},')
    result = run(src, [task("ok"), Task("forged", "forged", (Call("forge", ("good",)),))])
    assert result.outcomes["ok"].status == "ok"
    assert result.outcomes["forged"].status == "ok"
    assert result.outcomes["forged"].calls == ()


def test_a_child_exiting_after_closing_its_reply_pipe_is_reported_with_its_code():
    src = source("""
        import os, sys, time
        def close_then_exit():
            os.close(int(sys.argv[3]))
            time.sleep(0.3)
            os._exit(4)
    """)
    outcome = run(src, [task("close_then_exit")]).outcomes["close_then_exit"]
    assert outcome.status == "exited", outcome.detail
    assert "code 4" in outcome.detail


@pytest.mark.parametrize("cls", ["BadArgs", "BadModule"])
def test_a_hostile_exception_class_is_still_an_exception(cls):
    src = source("""
        class Evil:
            def __eq__(self, other):
                raise RuntimeError("__eq__ called")
            __hash__ = object.__hash__

        class BadArgs(Exception):
            @property
            def args(self):
                raise RuntimeError("args called")

        class BadModule(Exception):
            __module__ = Evil()

        def bad_args():
            raise BadArgs("x")

        def bad_module():
            raise BadModule("x")
    """)
    function = {"BadArgs": "bad_args", "BadModule": "bad_module"}[cls]
    outcome = run(src, [task(function)]).outcomes[function]
    assert outcome.status == "exception", (outcome.status, outcome.detail)
    assert cls in outcome.error.type


def test_a_forged_sandbox_error_cannot_stop_the_grader():
    # Only the child's first message (sent before student code exists) may report a
    # sandbox failure; a submission writing one at import costs only its own cases.
    src = source("""
        import json, os, struct, sys
        LENGTH, HEADER_LENGTH = struct.Struct("<Q"), struct.Struct("<I")  # as wire.py's
        header = json.dumps({"blobs": [], "body": {"sandbox_error": "forged"}}).encode()
        payload = HEADER_LENGTH.pack(len(header)) + header
        os.write(int(sys.argv[3]), LENGTH.pack(len(payload)) + payload)

        def ok():
            return 1
    """)
    result = run(src, [task("ok")])
    assert result.outcomes["ok"].status == "protocol"
    assert result.active  # the genuine confinement report was read


# ---------------------------------------------------------------------- arrays shared with inputs


SHARING = source("""
    import numpy as np

    def same(x):
        return x

    def view_and_new(x):
        return (x[1:], x * 2.0)

    def cached(x):
        return (x * 2.0, {"x": x})  # a cache holding the input itself, as caches do

    def last_of_many(xs):
        return [xs[-1].reshape(-1)]
""")


def test_returned_inputs_and_views_of_them_are_reported_with_both_paths():
    x = np.arange(4.0)
    result = run(SHARING, [task("same", x), task("view_and_new", x)])
    assert result.outcomes["same"].calls[0].aliases == (((), (0, 0)),)
    assert result.outcomes["view_and_new"].calls[0].aliases == (((0,), (0, 0)),)


def test_a_dropped_part_of_the_result_is_not_searched():
    x = np.arange(4.0)
    dropped = Task("cached", "cached", (Call("cached", (x,), drop=(1,)),))
    result = run(SHARING, [dropped])
    assert result.outcomes["cached"].status == "ok"
    assert result.outcomes["cached"].calls[0].aliases == ()
    assert result.outcomes["cached"].calls[0].value[1] is DROPPED


def test_sharing_is_found_among_many_inputs():
    xs = [np.full(3, float(i)) for i in range(40)]  # beyond the few compared one by one
    result = run(SHARING, [task("last_of_many", xs)])
    assert result.outcomes["last_of_many"].calls[0].aliases == (((0,), (0, 0, 39)),)


def test_a_warning_at_import_is_printed_and_one_in_a_call_is_reported():
    src = source("""
        import warnings
        warnings.warn("at import")

        def warn():
            warnings.warn("in a call", RuntimeWarning)
            return 1
    """)
    result = run(src, [task("warn"), task("warn", key="again")])
    assert "at import" in result.stderr
    assert "in a call" not in result.stderr
    for key in ("warn", "again"):  # every call, not only the first at that line
        assert result.outcomes[key].calls[0].warnings == ("RuntimeWarning: in a call",)


def test_a_warning_the_module_silenced_or_made_an_error_is_judged_as_python_runs_it():
    src = source("""
        import warnings
        import numpy as np
        warnings.filterwarnings("ignore", message="overflow")
        warnings.filterwarnings("error", message="strict")

        def quiet():
            return float(1.0 / (1.0 + np.exp(np.float64(1000.0))))

        def loud():
            warnings.warn("loud", RuntimeWarning)
            return 1

        def strict():
            warnings.warn("strict", RuntimeWarning)
            return 1
    """)
    result = run(src, [task("quiet"), task("loud"), task("loud", key="again"),
                       task("strict"), task("quiet", key="still")])
    assert result.outcomes["quiet"].calls[0].warnings == ()
    assert result.outcomes["quiet"].calls[0].value == 0.0
    for key in ("loud", "again"):  # a filter that is not ignore or error drops no repeat
        assert result.outcomes[key].calls[0].warnings == ("RuntimeWarning: loud",)
    assert result.outcomes["strict"].status == "exception"
    assert result.outcomes["strict"].error.type == "RuntimeWarning"
    assert result.outcomes["still"].calls[0].warnings == ()
