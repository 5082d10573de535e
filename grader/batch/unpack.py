"""Read one student's submission (a folder, a .zip or a notebook) into memory, safely.

This is the one reader of submissions: ``grader grade``, ``grader check``, ``grader
batch``, Gradescope's ``run_autograder`` (which calls ``grader grade``) and the notebook's
``check_here`` all read through :func:`read`.

A submission is untrusted input: nothing is extracted to disk, no link is
followed, and every size is capped both before reading (from what the file
system or the zip's headers claim) and while reading (on the bytes actually
produced), so a zip bomb or a lying header stops at the cap. Every file is opened
with O_NOFOLLOW relative to the submission folder's own descriptor, so a file
swapped for a link after it was checked is not followed either. The submission
path itself must not be a link (its last component: the folders above it are the
grader's choice): a class folder's entry that links to a classmate's folder, or an
upload that links into the autograder's own files, is refused, not graded.

Only what the course grades can make a submission unreadable: its modules (the
course exercises' ``<module>.py``) and its notebooks. Any other .py file (a helper a
module imports, notes, an unused 200 MB ``huge.py``) is read if it is a regular file
within the caps, and otherwise left out with a note, so ``grade`` and ``batch`` agree.

A bad submission is a result, not a tool failure: it raises ``UnpackError``,
whose message is one line telling the student what is wrong and how to fix it.
Only the grader's own problems (a path that does not exist or cannot be read)
raise ``SubmissionPathError``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from grader.errors import SubmissionPathError
from grader.text import clean_name

MAX_FILE_BYTES = 1 << 20  # one .py file, uncompressed
MAX_NOTEBOOK_BYTES = 20 << 20  # one .ipynb file (outputs, images and all), uncompressed
MAX_TOTAL_BYTES = 8 << 20  # all .py files read from one submission
MAX_NOTEBOOK_TOTAL = 40 << 20  # all .ipynb files read from one submission
MAX_FILES = 64  # .py and .ipynb files read from one submission
MAX_MEMBERS = 1000  # entries a zip may list, whatever they are
MAX_ZIP_BYTES = 32 << 20  # the .zip file itself
MAX_DIRECTORY_BYTES = 1 << 20  # a zip's central directory, checked before it is parsed
MAX_NOTES = 10  # files left out that are named one by one; the rest are counted
CHUNK = 64 << 10
IGNORED_FOLDERS = ("__MACOSX",)  # resource forks added by macOS's "Compress"
HOW_TO_ZIP = "zip the folder holding your exercise modules (activations.py, ...) at its top level"
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnpackError(Exception):
    """The submission cannot be read; the message is one line for the student."""

    def __init__(self, reason: str):
        self.reason = " ".join(str(reason).split())
        super().__init__(self.reason)


@dataclass(frozen=True)
class Submission:
    """What was read (name -> bytes), and a note for each file left out."""

    files: dict[str, bytes]
    notes: tuple[str, ...] = ()


def read(path: Path, modules: Iterable[str] | None = None) -> Submission:
    """The submission at ``path``: its modules (e.g. "activations.py"), helpers and
    notebooks ("lesson.ipynb"), from a folder, a .zip or a single notebook.

    ``modules`` names the course's modules ("activations", ...); a problem with one of
    them, or with a notebook, makes the submission unreadable, a problem with any
    other file leaves that file out with a note. None counts every .py file as a module.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        what = "no such file or folder" if exc.errno == errno.ENOENT else exc.strerror.lower()
        raise SubmissionPathError(f"{_where(path)}: {what}") from None
    kept = _Kept(modules)
    if stat.S_ISLNK(mode):
        raise UnpackError(f"the submission {_show(path.name)} is a symbolic link; "
                          "submit the folder or file itself")
    if stat.S_ISDIR(mode):
        _read_folder(path, kept)
    elif stat.S_ISREG(mode) and path.name.lower().endswith(".zip"):
        _read_zip(path, kept)
    elif stat.S_ISREG(mode) and _is_notebook(path.name):
        kept.add(path.name, lambda: _read_notebook_file(path))
    else:
        raise SubmissionPathError(f"{_where(path)}: not a folder, a .zip or an .ipynb file")
    if not kept.files:
        left_out = f" ({kept.notes[0]})" if kept.notes else ""
        raise UnpackError(f"no .py or .ipynb files found in the submission{left_out}; "
                          f"{HOW_TO_ZIP}")
    return Submission(kept.files, kept.summary())


def read_files(path: Path, modules: Iterable[str] | None = None) -> dict[str, bytes]:
    """``read(path, modules).files``."""
    return read(path, modules).files


class _Kept:
    """The files read so far, against the caps, and the notes on those left out."""

    def __init__(self, modules: Iterable[str] | None):
        self.modules = None if modules is None else frozenset(f"{m}.py" for m in modules)
        self.files: dict[str, bytes] = {}
        self.notes: list[str] = []

    def graded(self, name: str) -> bool:
        """A file whose trouble makes the submission unreadable: a module or a notebook."""
        return _is_notebook(name) or self.modules is None or name in self.modules

    def order(self, names: Iterable[str]) -> list[str]:
        """Modules and notebooks first, so that no helper takes their share of a cap."""
        return sorted(names, key=lambda name: (not self.graded(name), name))

    def add(self, name: str, read_bytes: Callable[[], bytes | None]) -> None:
        """Read one file into the submission, or refuse it by the rules above."""
        try:
            _check_module_name(name)
            if len(self.files) >= MAX_FILES:
                raise _too_many_files()
            data = read_bytes()
            if data is None:
                return
            kind = _is_notebook(name)
            if sum(len(v) for k, v in self.files.items() if _is_notebook(k) == kind) \
                    + len(data) > _total_cap(kind):
                raise _too_much(kind)
        except UnpackError as exc:
            self.refuse(name, exc)
            return
        self.files[name] = data

    def refuse(self, name: str, problem: UnpackError) -> None:
        if self.graded(name):
            raise problem
        self.notes.append(f"{_show(name)} was left out, as it is not one of the course's "
                          f"modules: {problem.reason}")

    def summary(self) -> tuple[str, ...]:
        shown = self.notes[:MAX_NOTES]
        if len(self.notes) > MAX_NOTES:
            shown.append(f"... and {len(self.notes) - MAX_NOTES} more files left out")
        return tuple(shown)


def content_hash(files: dict[str, bytes], notes: Iterable[str] = ()) -> str:
    """sha256 over the files sorted by name (and the notes on files left out, if any);
    changes when any name or byte changes."""
    digest = hashlib.sha256(b"gradflow-submission-v1\0")
    for name in sorted(files):
        encoded = name.encode("utf-8", "surrogatepass")
        for part in (encoded, files[name]):
            digest.update(struct.pack("<Q", len(part)))
            digest.update(part)
    for note in notes:
        digest.update(b"note\0" + note.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def student_id(path: Path, pattern: str) -> str:
    """The student id in the submission's name (without .zip or .ipynb), safe to use as
    a folder name.

    A pure function of the name alone, never of the class's other submissions, so
    adding a submission changes no other's id (hidden cases are seeded by it).
    ``pattern`` is a regex with a named group ``id`` (course.student_id_pattern);
    without a match the whole name is used. Characters outside [A-Za-z0-9._-]
    become '_', and so do leading dots: never empty, hidden, '.' or '..'. When that
    changed the id (or cut it at 100 characters), 8 hex digits of a hash of the id as
    written follow, so 'bob\\xff' and 'bob?' stay two students. ``alice/``, ``alice.zip``
    and ``alice.ipynb`` are one student, ``alice``: a batch holding two of them refuses
    to start (run._students) rather than pick one.
    """
    name = Path(os.path.abspath(path)).name
    stem = re.sub(r"\.(zip|ipynb)$", "", name, flags=re.IGNORECASE)
    match = re.search(pattern, stem)
    found = match.groupdict().get("id") if match else None
    raw = found or stem
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", raw)
    stripped = safe.lstrip(".")
    safe = "_" * (len(safe) - len(stripped)) + stripped
    if safe == raw and 0 < len(safe) <= 100:
        return safe
    tag = hashlib.sha256(os.fsencode(raw)).hexdigest()[:8]
    return f"{safe[:90] or '_'}-{tag}"


def discover(folder: Path) -> list[Path]:
    """The submissions in a class folder: its sub-folders, .zip and .ipynb files, by name.

    Hidden entries, macOS's __MACOSX folder and any other file are skipped. A symbolic
    link to a folder, or named .zip or .ipynb, is listed too (never read here): reading
    refuses it, so the instructor sees its row and the reason instead of a student
    silently missing.
    """
    folder = Path(folder)
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError as exc:
        raise SubmissionPathError(f"{_where(folder)}: {exc.strerror.lower()}") from None
    found = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS:
            continue
        named = entry.name.lower().endswith(".zip") or _is_notebook(entry.name)
        if entry.is_symlink():
            # Looked through only to decide whether it stands for a submission: a link to
            # a folder or a .zip/.ipynb name gets its row, a link to a stray file does not.
            if named or entry.is_dir():
                found.append(Path(entry.path))
        elif entry.is_dir(follow_symlinks=False) or (entry.is_file(follow_symlinks=False)
                                                     and named):
            found.append(Path(entry.path))
    return sorted(found, key=lambda p: p.name)


# -- folders ---------------------------------------------------------------------------------


def _read_folder(path: Path, kept: _Kept) -> None:
    """Top-level regular .py and .ipynb files; opened relative to the folder, never
    through a link."""
    try:
        folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a link since lstat
            raise UnpackError(f"the submission {_show(path.name)} is a symbolic link; "
                              "submit the folder or file itself") from None
        raise SubmissionPathError(f"{_where(path)}: {exc.strerror.lower()}") from None
    try:
        for name in kept.order(n for n in os.listdir(folder) if _wanted(n)):
            kept.add(name, lambda name=name: _read_entry(folder, name, path))
    finally:
        os.close(folder)


def _read_entry(folder: int, name: str, path: Path) -> bytes | None:
    """A regular file's bytes (at most the cap), None for a folder (a folder named like
    a module is not one); anything else is refused, by its kind."""
    try:
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            raise OSError(errno.ELOOP, "a symbolic link")
        if stat.S_ISDIR(mode):
            return None
        if not stat.S_ISREG(mode):
            raise _not_regular(name, mode)
        # O_NOFOLLOW: if the file was swapped for a link since, opening fails.
        fd = os.open(name, _OPEN, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _a_link(name) from None
        raise SubmissionPathError(f"{_where(path / name)}: {exc.strerror.lower()}") from None
    return _read_fd(fd, name)


def _read_fd(fd: int, name: str) -> bytes:
    """The bytes of the regular file open at ``fd`` (closed here), at most its cap."""
    with open(fd, "rb", closefd=True) as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(name, mode)
        data = file.read(_cap(name) + 1)  # not trusting st_size: the file may grow
    if len(data) > _cap(name):
        raise _too_large(name)
    return data


def _open_file(path: Path) -> int:
    """The submission file itself (a notebook or a zip), never through a link."""
    try:
        return os.open(path, _OPEN)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnpackError(f"the submission {_show(path.name)} is a symbolic link; "
                              "submit the folder or file itself") from None
        raise SubmissionPathError(f"{_where(path)}: {exc.strerror.lower()}") from None


def _read_notebook_file(path: Path) -> bytes:
    return _read_fd(_open_file(path), path.name)


# -- zips ------------------------------------------------------------------------------------

# What zipfile raises on a damaged archive: a bad directory or header, a bad CRC
# (BadZipFile), a corrupt deflate stream (zlib.error), data cut short (EOFError),
# a seek past the end (OSError), a malformed field (struct.error, ValueError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, struct.error, ValueError,
            NotImplementedError, RuntimeError)


def _read_zip(path: Path, kept: _Kept) -> None:
    with open(_open_file(path), "rb", closefd=True) as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise _not_regular(path.name, os.fstat(file.fileno()).st_mode)
        if os.fstat(file.fileno()).st_size > MAX_ZIP_BYTES:
            raise UnpackError(f"the zip file is larger than {MAX_ZIP_BYTES >> 20} MiB; "
                              "zip only your folder of .py files")
        try:
            _check_directory(file)
            with zipfile.ZipFile(file) as archive:
                members = archive.infolist()
                if len(members) > MAX_MEMBERS:
                    raise _too_many_members()
                chosen = {_basename(info): info for info in _select(members)}
                # Caps on what the headers claim, before decompressing anything...
                _check_claims([info for name, info in chosen.items() if kept.graded(name)])
                # ...and on what decompressing actually produces.
                for name in kept.order(chosen):
                    kept.add(name, lambda info=chosen[name]: _read_member(archive, info))
        except _DAMAGED as exc:
            raise UnpackError(f"the zip file is damaged: {_brief(exc)}; "
                              f"{HOW_TO_ZIP} again and resubmit") from None


def _check_claims(graded: list[zipfile.ZipInfo]) -> None:
    """Refuse, from their headers alone, graded members that could never fit."""
    for info in graded:
        _check_member(info)
    if len(graded) > MAX_FILES:
        raise _too_many_files()
    for notebooks in (False, True):
        if sum(info.file_size for info in graded
               if _is_notebook(_basename(info)) == notebooks) > _total_cap(notebooks):
            raise _too_much(notebooks)


def _check_directory(file) -> None:
    """Refuse a huge central directory before zipfile parses it into memory.

    zipfile reads as many bytes of directory as the end record says (not as many
    entries), so both are capped; its own reader of that record is used so that
    both read the same numbers.
    """
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:  # a future Python: the file-size cap still bounds the parse
        return
    record = end_record(file)
    if record is None:
        raise zipfile.BadZipFile("it is not a zip archive")
    if (record[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS
            or record[zipfile._ECD_SIZE] > MAX_DIRECTORY_BYTES):
        raise _too_many_members()


def _select(members: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """The .py members to read: those at the top, or else those in the one top folder."""
    seen = set()
    for info in members:
        _check_member_name(info.orig_filename)
        if info.orig_filename in seen:
            raise UnpackError(f"the zip file holds {_show(info.orig_filename)} twice; "
                              f"{HOW_TO_ZIP} again")
        seen.add(info.orig_filename)
    by_folder: dict[str, list[zipfile.ZipInfo]] = {}
    for info in members:
        parts = info.filename.split("/")
        if info.is_dir() or len(parts) > 2 or not _wanted(parts[-1]):
            continue
        folder = parts[0] if len(parts) == 2 else ""
        if not (folder.startswith(".") or folder in IGNORED_FOLDERS):
            by_folder.setdefault(folder, []).append(info)
    if "" in by_folder:
        return by_folder[""]
    if len(by_folder) > 1:
        names = ", ".join(_show(f + "/") for f in sorted(by_folder)[:3])
        raise UnpackError(f"the zip file holds .py files in several folders ({names}); "
                          f"{HOW_TO_ZIP}, one folder only")
    return next(iter(by_folder.values()), [])


def _check_member_name(name: str) -> None:
    parts = name.split("/")
    if name.endswith("/"):
        parts.pop()  # a folder entry
    if ("\0" in name or "\\" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name)
            or any(part in ("", ".", "..") for part in parts)):
        raise UnpackError(f"the zip file holds an unsafe name, {_show(name)}; "
                          f"{HOW_TO_ZIP} with your system's own zip tool")


def _check_member(info: zipfile.ZipInfo) -> None:
    name = _basename(info)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnpackError(f"the zip file holds a symbolic link, {_show(name)}; "
                          "zip the files themselves")
    if info.flag_bits & 0x41:  # 0x1: encrypted, 0x40: strong encryption
        raise UnpackError(f"{_show(name)} is encrypted in the zip file; zip it without a password")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # zipfile decompresses bzip2 and lzma without an output bound: a bomb would
        # be expanded whole before any cap could stop it.
        raise UnpackError(f"{_show(name)} is compressed with an unusual method; "
                          f"{HOW_TO_ZIP} with standard (deflate) compression")
    if info.file_size > _cap(name):
        raise _too_large(name)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, capped while decompressing: its header's sizes are not trusted."""
    _check_member(info)
    data = bytearray()
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            data += chunk
            if len(data) > _cap(_basename(info)):
                raise _too_large(_basename(info))
    return bytes(data)


def _basename(info: zipfile.ZipInfo) -> str:
    return info.filename.rpartition("/")[2]


# -- shared ----------------------------------------------------------------------------------


def _wanted(name: str) -> bool:
    """A .py or .ipynb file to read (hidden files, e.g. macOS's ._activations.py, and
    Jupyter's .ipynb_checkpoints, are skipped)."""
    return (name.endswith(".py") or _is_notebook(name)) and not name.startswith(".")


def _is_notebook(name: str) -> bool:
    return name.lower().endswith(".ipynb")


def _cap(name: str) -> int:
    return MAX_NOTEBOOK_BYTES if _is_notebook(name) else MAX_FILE_BYTES


def _check_module_name(name: str) -> None:
    if _is_notebook(name):
        return  # never imported: any name will do
    stem, _, ext = name.partition(".")
    if ext != "py" or not stem.isidentifier():
        raise UnpackError(f"{_show(name)} is not a valid module name; rename it with letters, "
                          "digits and underscores only (e.g. activations.py) or remove it")


def _total_cap(notebooks: bool) -> int:
    return MAX_NOTEBOOK_TOTAL if notebooks else MAX_TOTAL_BYTES


def _too_many_files() -> UnpackError:
    return UnpackError(f"the submission holds more than {MAX_FILES} .py and .ipynb files; "
                       "submit only your exercise modules")


def _too_much(notebooks: bool = False) -> UnpackError:
    if notebooks:
        return UnpackError(f"the notebooks add up to more than {MAX_NOTEBOOK_TOTAL >> 20} MiB; "
                           "clear their outputs (Edit > Clear All Outputs), save and resubmit")
    return UnpackError(f"the .py files add up to more than {MAX_TOTAL_BYTES >> 20} MiB; "
                       "submit only your exercise modules")


def _too_large(name: str) -> UnpackError:
    if _is_notebook(name):
        return UnpackError(f"{_show(name)} is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB; "
                           "clear its outputs (Edit > Clear All Outputs), save and resubmit")
    return UnpackError(f"{_show(name)} is larger than {MAX_FILE_BYTES >> 20} MiB; "
                       "submit only source code (no data or outputs in .py files)")


def _a_link(name: str) -> UnpackError:
    return UnpackError(f"{_show(name)} is a symbolic link; submit the file itself")


def _not_regular(name: str, mode: int) -> UnpackError:
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    return UnpackError(f"{_show(name)} is {kind}, not a file; submit the file itself")


def _too_many_members() -> UnpackError:
    return UnpackError(f"the zip file lists more than {MAX_MEMBERS} entries; "
                       "zip only your folder of .py files")


def _show(name: str) -> str:
    """A name as it can be shown in a one-line message, whatever it holds."""
    shown = clean_name(name)
    return f"'{shown if len(shown) <= 80 else shown[:77] + '...'}'"


def _where(path: Path) -> str:
    """A path as a grader error may show it (a class folder's names are untrusted)."""
    return clean_name(str(path))


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:120] or type(exc).__name__).rstrip(".")
