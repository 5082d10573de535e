"""A seccomp filter for the child: system calls no student code needs, refused.

Runs inside the child as its last confinement step (after Landlock, which sets
``no_new_privs``, the condition for an unprivileged filter), and binds the
process, its threads and everything it starts. A refused call fails with EPERM,
as if the kernel had the feature switched off; nothing is killed.

What is refused, and why it is safe to:

- the kernel's keyrings (``add_key``, ``request_key``, ``keyctl``): a uid's user
  keyring outlives its processes, so a key is a channel to a later run and
  memory held after the grader; neither CPython nor numpy uses them;
- ``io_uring_*``, ``bpf``, ``perf_event_open``, ``userfaultfd``: large kernel
  attack surface (and io_uring's operations escape a syscall filter);
- ``ptrace``, ``process_vm_readv``/``writev``: a student's helper process
  reading or patching the runner's memory (its reports on inputs and warnings);
- new namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag): a
  user namespace would give student code capabilities of its own, the usual
  first step of a kernel exploit. ``clone3`` answers ENOSYS, its arguments being
  out of a filter's reach; glibc then falls back to ``clone`` (threads,
  ``fork``, ``posix_spawn`` all keep working, as under Docker's default profile).

Other ABIs on the same machine (32-bit ``int 0x80``, x32) are refused whole:
only x86_64 system calls are filtered by number. Only the standard library is
used (ctypes), and only on x86_64; elsewhere ``install`` reports it missing.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

import confine

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SYS_SECCOMP = 317
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1

# x86_64 numbers (stable: the ABI never renumbers).
REFUSED = {
    "add_key": 248, "request_key": 249, "keyctl": 250,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "unshare": 272, "setns": 308,
}
SYS_CLONE, SYS_CLONE3 = 56, 435
# Every namespace clone's flags can ask for (NEWTIME is clone3's and unshare's only: in
# clone's flags that bit is the exit signal's).
CLONE_NAMESPACES = (confine.CLONE_NEWNS | confine.CLONE_NEWCGROUP | confine.CLONE_NEWUTS
                    | confine.CLONE_NEWIPC | confine.CLONE_NEWUSER | confine.CLONE_NEWPID
                    | confine.CLONE_NEWNET)

# Classic BPF over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
LD_ABS, AND_K, JEQ_K, JGE_K, RET_K = 0x20, 0x54, 0x15, 0x35, 0x06
NR, ARCH, ARG0 = 0, 4, 16  # offsets; ARG0 is the low half of args[0] (little-endian)
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000


def program() -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, k) instructions."""
    refused = sorted(REFUSED.values())
    # Layout: checks, then the verdicts they jump forward to.
    checks = 5 + 2 + len(refused)  # arch (3), nr and x32 (2), clone3, clone, the list
    clone_check = checks + 1  # the allow verdict is at index checks
    deny, enosys = clone_check + 4, clone_check + 5

    def to(target: int, at: int) -> int:
        return target - at - 1

    code = [
        (LD_ABS, 0, 0, ARCH),
        (JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (RET_K, 0, 0, RET_ERRNO | errno.EPERM),  # another ABI: refused whole
        (LD_ABS, 0, 0, NR),
        (JGE_K, to(deny, 4), 0, X32_SYSCALL_BIT),
        (JEQ_K, to(enosys, 5), 0, SYS_CLONE3),
        (JEQ_K, to(clone_check, 6), 0, SYS_CLONE),
    ]
    for number in refused:
        code.append((JEQ_K, to(deny, len(code)), 0, number))
    code += [
        (RET_K, 0, 0, RET_ALLOW),
        (LD_ABS, 0, 0, ARG0),
        (AND_K, 0, 0, CLONE_NAMESPACES),
        (JEQ_K, 0, 1, 0),
        (RET_K, 0, 0, RET_ALLOW),
        (RET_K, 0, 0, RET_ERRNO | errno.EPERM),
        (RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
    ]
    assert len(code) == enosys + 1
    return code


def install() -> list[str]:
    """Refuse the calls above in this process and all it starts; returns what applied.

    Raises OSError if the kernel refuses the filter; returns [] where it cannot apply
    (not x86_64).
    """
    if platform.machine() != "x86_64":
        return []
    code = program()
    raw = b"".join(struct.pack("<HBBI", *op) for op in code)
    filters = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("<HxxxxxxQ", len(code), ctypes.addressof(filters))
    prog = ctypes.create_string_buffer(fprog, len(fprog))
    confine.no_new_privileges()
    # TSYNC: every thread of the process, should a library have started one.
    confine._check(confine._libc.syscall(
        ctypes.c_long(SYS_SECCOMP), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC), prog), "seccomp")
    return ["seccomp: keyrings, io_uring, bpf, perf, ptrace and new namespaces refused"]
