"""What a submission prints is credited to the module that printed it.

All of a submission's modules run in one child, whose stdout, stderr and replies
travel on three pipes read in whatever order they fill; the child marks each
module boundary on stdout and stderr, and the reader splits the output there.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from grader.sandbox import reader
from grader.sandbox.reader import NEXT_MODULE, Reader, Streams
from grader.sandbox.run import SANDBOX_DIR, Call, Task, run_modules

sys.path.insert(0, str(SANDBOX_DIR))
import child  # noqa: E402  (the child runs with grader/sandbox as its path entry)


def source(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


FILES = {
    "quiet.py": source("""
        def f():
            return 1
    """),
    "chatty.py": source("""
        import sys
        for i in range(300):
            print(f"chatty {i}")
            print(f"chatty err {i}", file=sys.stderr)

        def f():
            print("chatty in f")
            return 2
    """),
    "last.py": source("""
        print("last at import")

        def f():
            return 3
    """),
}


def plan(*modules: str) -> list[tuple[str, list[Task]]]:
    return [(m, [Task(f"{m}.f{i}", "f", (Call("f"),)) for i in range(20)]) for m in modules]


@pytest.mark.parametrize("attempt", range(5))
def test_output_printed_at_import_goes_to_its_own_module(attempt):
    runs = run_modules(FILES, plan("quiet", "chatty", "last"))
    assert runs["quiet"].stdout == "" and runs["quiet"].stderr == ""
    chatty = "".join(f"chatty {i}\n" for i in range(300)) + "chatty in f\n" * 20
    assert runs["chatty"].stdout == chatty
    assert runs["chatty"].stderr == "".join(f"chatty err {i}\n" for i in range(300))
    assert runs["last"].stdout == "last at import\n" and runs["last"].stderr == ""


def test_the_child_and_the_reader_agree_on_the_marker():
    assert child.NEXT_MODULE == NEXT_MODULE


class _Proc:
    pid, out_fd, err_fd = 1, 101, 102


@pytest.mark.parametrize("cut", range(1, 2 * len(NEXT_MODULE) + 12))
def test_a_marker_cut_by_a_read_still_splits_the_output(cut):
    streams = [Streams(), Streams(), Streams()]
    r = Reader(-1, _Proc(), streams)
    data = b"one\x00" + NEXT_MODULE + b"two" + NEXT_MODULE + NEXT_MODULE[:5] + b"three"
    for at in range(0, len(data), cut):
        r._output(_Proc.out_fd, data[at:at + cut])
    for fd, rest in r.carry.items():  # as drain_and_close does
        r._credit(fd, rest)
    assert [bytes(s.data["stdout"]) for s in streams] == [
        b"one\x00", b"two", NEXT_MODULE[:5] + b"three"]


def test_a_forged_marker_never_points_past_the_last_module():
    streams = [Streams(), Streams()]
    r = Reader(-1, _Proc(), streams)
    r._output(_Proc.err_fd, NEXT_MODULE * 5 + b"tail")
    assert bytes(streams[1].data["stderr"]) == b"tail"
    assert reader._marker_start(b"x" + NEXT_MODULE[:3]) == 3
    assert reader._marker_start(b"plain") == 0
