"""SysV IPC and kernel keyrings must not cross from one run to the next.

A student who could publish text in a SysV shared-memory segment or a key of the kernel's
keyrings, and a classmate whose module reads it in a later child of the same grader, would
share code outside any file the grader sees; a segment left behind would also hold host
memory until reboot. Each child gets an IPC namespace of its own (its segments die with
it), keyrings are refused to student code, and run uids never repeat within a grader.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import textwrap

from grader.sandbox.run import Call, Limits, Task, run_module

LIMITS = Limits(task_seconds=10.0, import_seconds=10.0)
IPC_RMID = 0

_libc = ctypes.CDLL(None, use_errno=True)


def source(text: str, **values) -> bytes:
    text = textwrap.dedent(text).lstrip("\n")
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text.encode()


def call(module: str, function: str) -> str:
    run = run_module({"m.py": module}, "m", [Task("t", "t", (Call(function),))], LIMITS)
    outcome = run.outcomes["t"]
    assert outcome.status == "ok", (outcome.status, outcome.detail, outcome.error)
    return outcome.calls[0].value


SHM = """
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.shmat.restype = ctypes.c_void_p
    _libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    KEY = @KEY@
    IPC_CREAT, SHM_RDONLY = 0o1000, 0o10000

    def publish():
        text = @TEXT@.encode() + b"\\0"
        shmid = _libc.shmget(KEY, 4096, IPC_CREAT | 0o666)
        if shmid < 0:
            return f"shmget failed: errno {ctypes.get_errno()}"
        address = _libc.shmat(shmid, None, 0)
        ctypes.memmove(address, text, len(text))
        _libc.shmdt(ctypes.c_void_p(address))
        return "published"

    def fetch():
        shmid = _libc.shmget(KEY, 0, 0)
        if shmid < 0:
            return ""
        address = _libc.shmat(shmid, None, SHM_RDONLY)
        if address in (None, 2 ** 64 - 1):
            return ""
        return ctypes.string_at(address).decode()
"""


def segments() -> list[dict]:
    """The SysV shared-memory segments of the grader's own IPC namespace."""
    with open("/proc/sysvipc/shm") as f:
        header, *rows = [line.split() for line in f]
    return [dict(zip(header, row)) for row in rows]


def remove_segments(key: int) -> None:
    """Clean up what a broken sandbox let the attack leave (by its key: ours alone)."""
    for segment in segments():
        if int(segment["key"]) == key:
            _libc.shmctl(int(segment["shmid"]), IPC_RMID, None)


def test_a_shared_memory_segment_from_one_run_is_not_seen_by_the_next():
    key = 0x4700_0000 + secrets.randbelow(1 << 24)
    text = repr(f"def relu(z): return z * (z > 0)  # published {secrets.token_hex(4)}")
    before = {s["shmid"] for s in segments()}
    try:
        assert call(source(SHM, KEY=key, TEXT=text), "publish") == "published"
        assert call(source(SHM, KEY=key, TEXT="''"), "fetch") == ""
        left = [s for s in segments() if s["shmid"] not in before
                and (int(s["key"]) == key or int(s["cuid"]) != os.getuid())]
        assert left == [], "segments a run left in the grader's IPC namespace"
    finally:
        remove_segments(key)


KEYS = """
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
    SYS_ADD_KEY, SYS_KEYCTL = 248, 250
    KEY_SPEC_USER_KEYRING = -4
    KEYCTL_SEARCH, KEYCTL_READ, KEYCTL_SET_TIMEOUT = 10, 11, 15
    DESCRIPTION = b"@DESCRIPTION@"
    L = ctypes.c_long

    def publish():
        data = b"def relu(z): return z * (z > 0)"
        serial = _libc.syscall(L(SYS_ADD_KEY), b"user", DESCRIPTION, data, L(len(data)),
                               L(KEY_SPEC_USER_KEYRING))
        if serial < 0:
            return f"refused: errno {ctypes.get_errno()}"
        _libc.syscall(L(SYS_KEYCTL), L(KEYCTL_SET_TIMEOUT), L(serial), L(600))
        return "published"

    def fetch():
        serial = _libc.syscall(L(SYS_KEYCTL), L(KEYCTL_SEARCH), L(KEY_SPEC_USER_KEYRING),
                               b"user", DESCRIPTION, L(0))
        if serial < 0:
            return ""
        buffer = ctypes.create_string_buffer(4096)
        n = _libc.syscall(L(SYS_KEYCTL), L(KEYCTL_READ), L(serial), buffer, L(4096))
        return buffer.raw[:n].decode() if n > 0 else ""
"""


def test_a_key_added_in_one_run_is_not_found_by_the_65_runs_after_it():
    # Run uids used to repeat every 64 children, and a uid's user keyring outlives its
    # processes: run 65 read run 1's keys.
    module = source(KEYS, DESCRIPTION=f"gradflow-{secrets.token_hex(6)}")
    call(module, "publish")  # refused (or kept in a keyring no later run shares)
    found = [n for n in range(2, 68) if call(module, "fetch")]
    assert found == [], f"runs that read the key of run 1: {found}"


FILTERED = """
    import ctypes, os, subprocess, sys, threading

    _libc = ctypes.CDLL(None, use_errno=True)
    L = ctypes.c_long
    SIGCHLD, CLONE_NEWUSER, CLONE_NEWNET = 17, 0x10000000, 0x40000000

    def errno_of(result):
        return ctypes.get_errno() if result < 0 else 0

    def probe():
        seen = {}
        seen["keyctl"] = errno_of(_libc.syscall(L(250), L(0), L(-4), L(0)))
        seen["unshare"] = errno_of(_libc.unshare(CLONE_NEWUSER))
        pid = _libc.syscall(L(56), L(CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD), L(0), L(0),
                            L(0), L(0))
        if pid == 0:
            os._exit(0)  # a broken filter let the clone through: the copy leaves at once
        if pid > 0:
            os.waitpid(pid, 0)
        seen["clone into a new namespace"] = errno_of(pid)
        # What CPython and numpy need still works.
        child = os.fork()
        if child == 0:
            os._exit(3)
        seen["fork"] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        box = []
        thread = threading.Thread(target=lambda: box.append(1))
        thread.start()
        thread.join()
        seen["thread"] = box
        seen["subprocess"] = subprocess.run([sys.executable, "-c", "print(7)"],
                                            capture_output=True, text=True).stdout
        return seen
"""


def test_the_seccomp_filter_refuses_keyrings_and_namespaces_and_spares_the_rest():
    seen = call(source(FILTERED), "probe")
    assert seen == {"keyctl": 1, "unshare": 1, "clone into a new namespace": 1, "fork": 3,
                    "thread": [1], "subprocess": "7\n"}


MQUEUE = """
    import ctypes, os

    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.mq_open.restype = ctypes.c_int
    NAME = b"/@NAME@"

    def publish():
        queue = _libc.mq_open(NAME, os.O_CREAT | os.O_WRONLY, 0o666, None)
        if queue < 0:
            return f"mq_open failed: errno {ctypes.get_errno()}"
        message = b"def relu(z): return z * (z > 0)"
        _libc.mq_send(queue, message, len(message), 0)
        return "published"

    def fetch():
        queue = _libc.mq_open(NAME, os.O_RDONLY | os.O_NONBLOCK)
        if queue < 0:
            return ""
        buffer = ctypes.create_string_buffer(1 << 16)
        n = _libc.mq_receive(queue, buffer, len(buffer), None)
        return buffer.raw[:n].decode() if n > 0 else ""
"""


def test_a_posix_message_queue_from_one_run_is_not_seen_by_the_next():
    # Landlock refuses mq_open here already (EACCES: the queue is a file of the mqueue
    # mount, outside what the child may open); where Landlock is missing, the queue is
    # the IPC namespace's own and dies with it.
    name = f"gradflow-{secrets.token_hex(6)}"
    try:
        call(source(MQUEUE, NAME=name), "publish")
        assert call(source(MQUEUE, NAME=name), "fetch") == ""
    finally:
        _libc.mq_unlink(f"/{name}".encode())  # what a broken sandbox let the run leave
