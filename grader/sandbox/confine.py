"""Confinement of a child process before it runs student code (Linux).

Runs inside the child, as the child's own first steps, in this order:

1. ``enter_namespaces``: a new PID namespace (every process the submission
   starts lives and dies in it), a new network namespace (no network at all),
   a new IPC namespace (SysV segments, semaphores and message queues and POSIX
   message queues of its own, destroyed with its last process: nothing to
   publish to a classmate's run, no host memory held after it) and a private
   mount namespace; when the grader is not root, a user namespace first, which
   is what lets an unprivileged process make the others.
2. Mounts: ``reach`` (as root) makes the Python installation reachable for an
   unprivileged uid (a tmpfs over a closed ancestor such as /root, with the
   installation bind-mounted back at its own path; the rest stays hidden);
   ``hide`` covers the grader's own package; ``cap_folder`` puts the run
   folder on a tmpfs limited in size and in inodes.
3. ``drop_privileges``: as root, switch to a per-run unprivileged uid, so
   process-count limits bind and root's powers are gone.
4. ``landlock``: read access only to the Python installation, system
   libraries and the run's folder; write access only to the run's folder; no
   TCP bind or connect; no signals or abstract Unix sockets outside.
5. ``seccomp.install`` (its own module): keyrings, io_uring, ptrace and new
   namespaces refused.

Each step reports what it managed; a missing kernel feature is reported,
never fatal. Only the standard library is used (ctypes for the syscalls).
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct
import sys

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 0x4000, 1 << 18, 2
PR_SET_NO_NEW_PRIVS = 38

# Landlock (x86_64 syscall numbers; the ABI is stable across kernels).
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_ALL_V1 = (1 << 13) - 1
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

SYSTEM_READABLE = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib",
                   "/etc/ld.so.cache", "/dev/null", "/dev/zero", "/dev/urandom")


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


_mount_namespace = False


def enter_namespaces() -> list[str]:
    """Unshare PID, network, IPC and mount (and, unless root, user) namespaces; fork next."""
    global _mount_namespace
    active = ["pid namespace", "network namespace", "ipc namespace", "mount namespace"]
    flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS
    if os.geteuid() == 0:
        _check(_libc.unshare(flags), "unshare")
    else:
        uid, gid = os.geteuid(), os.getegid()
        _check(_libc.unshare(CLONE_NEWUSER | flags), "unshare")
        # Map only our own ids: the namespace grants nothing outside it.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        active.insert(0, "user namespace")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount private")
    _mount_namespace = True
    return active


def in_mount_namespace() -> bool:
    """True once enter_namespaces has given this process mounts of its own."""
    return _mount_namespace


def hide(paths: list[str]) -> list[str]:
    """Cover each existing folder with an empty, unreadable tmpfs (e.g. the grader itself,
    which a regular install puts inside the readable site-packages)."""
    hidden = []
    for path in paths:
        if os.path.isdir(path):
            _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"mode=0000,size=4k"),
                   f"hide {path}")
            hidden.append(f"{path} hidden")
    return hidden


def cap_folder(path: str, size_mb: int, inodes: int, uid: int | None) -> list[str]:
    """Put the run folder on a tmpfs of ``size_mb`` and ``inodes`` entries, so writing many
    files cannot fill the disk, and empty ones (which cost no bytes of the size, but kernel
    memory for each inode) cannot fill memory. The folder's files are carried over; this
    process moves into the new folder."""
    files = {}
    for name in os.listdir(path):
        with open(os.path.join(path, name), "rb") as f:
            files[name] = f.read()
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0,
                       f"mode=0755,size={size_mb}m,nr_inodes={inodes}{owner}".encode()),
           f"tmpfs on {path}")
    os.chdir(path)  # the old cwd is the folder now covered
    for name, data in files.items():
        with open(name, "wb") as f:
            f.write(data)
    return [f"run folder capped at {size_mb} MiB", f"run folder inode cap: {inodes} files"]


def reach(paths: list[str], stage: str) -> list[str]:
    """Make each path reachable by any uid, hiding the closed ancestors' other contents.

    For a path under a folder others cannot enter (typically /root), that
    folder is covered with an empty world-traversable tmpfs and the path is
    bind-mounted back at its own place. ``stage`` is an empty folder we may
    mount on temporarily. Needs root in a private mount namespace.
    """
    covered = []
    for closed in sorted({_closed_ancestor(p) for p in paths} - {None}):
        inside = [p for p in paths if p == closed or p.startswith(closed + os.sep)]
        staged = []
        for i, path in enumerate(inside):
            target = os.path.join(stage, str(i))
            os.makedirs(target, exist_ok=True)
            _check(_libc.mount(path.encode(), target.encode(), None, MS_BIND | MS_REC, None),
                   f"bind {path}")
            staged.append((path, target))
        _check(_libc.mount(b"tmpfs", closed.encode(), b"tmpfs", 0, b"mode=0755,size=64k"),
               f"tmpfs on {closed}")
        for path, target in staged:
            os.makedirs(path, exist_ok=True)
            _check(_libc.mount(target.encode(), path.encode(), None, MS_BIND | MS_REC, None),
                   f"bind back {path}")
            _check(_libc.umount2(target.encode(), MNT_DETACH), f"unstage {path}")
        covered.append(closed)
    return [f"{c} hidden" for c in covered]


def _closed_ancestor(path: str) -> str | None:
    """The outermost folder on the way to ``path`` that others cannot traverse."""
    current = os.sep
    for part in path.strip(os.sep).split(os.sep):
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return current
    return None


def drop_privileges(uid: int) -> list[str]:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    return [f"unprivileged uid {uid}"]


def no_new_privileges() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none."""
    try:
        return max(0, _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                                    ctypes.c_uint32(1)))
    except (AttributeError, OSError):
        return 0


def landlock(readable: list[str], writable: list[str]) -> list[str]:
    """Restrict this process and its future children to the given paths, no TCP, no
    signals or abstract sockets outside; returns what was applied."""
    abi = landlock_abi()
    if abi < 1:
        return []
    fs = FS_ALL_V1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0) \
        | (FS_IOCTL_DEV if abi >= 5 else 0)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("<QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _check(_libc.syscall(SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)),
                                   ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
        for path in readable:
            _allow(ruleset, path, read, fs)
        for path in writable:
            _allow(ruleset, path, fs, fs)
        no_new_privileges()
        _check(_libc.syscall(SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)
    applied = [f"landlock ABI {abi}: files"]
    if net:
        applied.append("landlock: no TCP")
    if scoped:
        applied.append("landlock: no signals outside")
    return applied


def _allow(ruleset: int, path: str, access: int, handled: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this system does not have
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FILE_RIGHTS
        rule = struct.pack("<Qi", access & handled, fd)
        buf = ctypes.create_string_buffer(rule, len(rule))
        _check(_libc.syscall(SYS_ADD_RULE, ruleset, ctypes.c_int(RULE_PATH_BENEATH), buf,
                             ctypes.c_uint32(0)), f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def python_paths() -> list[str]:
    """Where this interpreter reads its standard library and packages from."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths.update(os.path.realpath(p) for p in sys.path
                 if ("site-packages" in p or "dist-packages" in p) and os.path.isdir(p))
    return sorted(paths)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
