"""Read one student's submission (a folder, a .zip or a notebook) into memory, safely.

A submission is untrusted input: nothing is extracted to disk, no link is
followed, and every size is capped both before reading (from what the file
system or the zip's headers claim) and while reading (on the bytes actually
produced), so a zip bomb or a lying header stops at the cap.

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
from pathlib import Path

from grader.errors import SubmissionPathError

MAX_FILE_BYTES = 1 << 20  # one .py file, uncompressed
MAX_NOTEBOOK_BYTES = 20 << 20  # one .ipynb file (outputs, images and all), uncompressed
MAX_TOTAL_BYTES = 8 << 20  # all .py files read from one submission
MAX_NOTEBOOK_TOTAL = 40 << 20  # all .ipynb files read from one submission
MAX_FILES = 64  # .py and .ipynb files read from one submission
MAX_MEMBERS = 1000  # entries a zip may list, whatever they are
MAX_ZIP_BYTES = 32 << 20  # the .zip file itself
MAX_DIRECTORY_BYTES = 1 << 20  # a zip's central directory, checked before it is parsed
CHUNK = 64 << 10
IGNORED_FOLDERS = ("__MACOSX",)  # resource forks added by macOS's "Compress"
HOW_TO_ZIP = "zip the folder holding your exercise modules (activations.py, ...) at its top level"


class UnpackError(Exception):
    """The submission cannot be read; the message is one line for the student."""

    def __init__(self, reason: str):
        self.reason = " ".join(str(reason).split())
        super().__init__(self.reason)


def read_files(path: Path) -> dict[str, bytes]:
    """The submission's files, name -> bytes: its modules (e.g. "activations.py") and
    notebooks ("lesson.ipynb"), from a folder, a .zip or a single notebook."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise SubmissionPathError(f"{path}: {exc.strerror.lower()}") from None
    if stat.S_ISDIR(mode):
        files = _read_folder(path)
    elif stat.S_ISREG(mode) and path.name.lower().endswith(".zip"):
        files = _read_zip(path)
    elif stat.S_ISREG(mode) and _is_notebook(path.name):
        files = _read_notebook_file(path)
    else:
        raise SubmissionPathError(f"{path}: not a folder, a .zip or an .ipynb file")
    if not files:
        raise UnpackError(f"no .py or .ipynb files found in the submission; {HOW_TO_ZIP}")
    return files


def content_hash(files: dict[str, bytes]) -> str:
    """sha256 over the files sorted by name; changes when any name or byte changes."""
    digest = hashlib.sha256(b"gradflow-submission-v1\0")
    for name in sorted(files):
        encoded = name.encode("utf-8", "surrogatepass")
        for part in (encoded, files[name]):
            digest.update(struct.pack("<Q", len(part)))
            digest.update(part)
    return digest.hexdigest()


def student_id(path: Path, pattern: str) -> str:
    """The id in the submission's name (without .zip), safe to use as a folder name.

    ``pattern`` is a regex with a named group ``id`` (course.student_id_pattern);
    without a match the whole name is used. Characters outside [A-Za-z0-9._-]
    become '_', and so do leading dots: never empty, hidden, '.' or '..'.
    """
    name = Path(os.path.abspath(path)).name
    stem = re.sub(r"\.(zip|ipynb)$", "", name, flags=re.IGNORECASE)
    match = re.search(pattern, stem)
    found = match.groupdict().get("id") if match else None
    raw = found or stem
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", raw)[:100]
    stripped = safe.lstrip(".")
    safe = "_" * (len(safe) - len(stripped)) + stripped
    return safe or "_"


def discover(folder: Path) -> list[Path]:
    """The submissions in a class folder: its sub-folders, .zip and .ipynb files, by name.

    Hidden entries, symlinks, macOS's __MACOSX folder and any other file are skipped.
    """
    folder = Path(folder)
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError as exc:
        raise SubmissionPathError(f"{folder}: {exc.strerror.lower()}") from None
    found = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS or entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False) or (
                entry.is_file(follow_symlinks=False)
                and (entry.name.lower().endswith(".zip") or _is_notebook(entry.name))):
            found.append(Path(entry.path))
    return sorted(found, key=lambda p: p.name)


# -- folders ---------------------------------------------------------------------------------


def _read_folder(path: Path) -> dict[str, bytes]:
    """Top-level regular .py and .ipynb files; opened relative to the folder, never
    through a link."""
    try:
        folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SubmissionPathError(f"{path}: {exc.strerror.lower()}") from None
    try:
        files: dict[str, bytes] = {}
        for name in sorted(os.listdir(folder)):
            if not _wanted(name):
                continue
            data = _read_entry(folder, name, path)
            if data is not None:
                _check_module_name(name)
                _add(files, name, data)
        return files
    finally:
        os.close(folder)


def _read_entry(folder: int, name: str, path: Path) -> bytes | None:
    """A regular file's bytes (at most the cap), None for folders, FIFOs and the like."""
    try:
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            raise OSError(errno.ELOOP, "a symbolic link")
        if not stat.S_ISREG(mode):
            return None
        # O_NOFOLLOW: if the file was swapped for a link since, opening fails.
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnpackError(f"{_show(name)} is a symbolic link; submit the file itself") from None
        raise SubmissionPathError(f"{path / name}: {exc.strerror.lower()}") from None
    with open(fd, "rb", closefd=True) as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        data = file.read(_cap(name) + 1)  # not trusting st_size: the file may grow
    if len(data) > _cap(name):
        raise _too_large(name)
    return data


def _read_notebook_file(path: Path) -> dict[str, bytes]:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as exc:
        raise SubmissionPathError(f"{path}: {exc.strerror.lower()}") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise _too_large(path.name)
    return {path.name: data}


# -- zips ------------------------------------------------------------------------------------

# What zipfile raises on a damaged archive: a bad directory or header, a bad CRC
# (BadZipFile), a corrupt deflate stream (zlib.error), data cut short (EOFError),
# a seek past the end (OSError), a malformed field (struct.error, ValueError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, struct.error, ValueError,
            NotImplementedError, RuntimeError)


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        file = open(path, "rb")
    except OSError as exc:
        raise SubmissionPathError(f"{path}: {exc.strerror.lower()}") from None
    with file:
        if os.fstat(file.fileno()).st_size > MAX_ZIP_BYTES:
            raise UnpackError(f"the zip file is larger than {MAX_ZIP_BYTES >> 20} MiB; "
                              "zip only your folder of .py files")
        try:
            _check_directory(file)
            with zipfile.ZipFile(file) as archive:
                members = archive.infolist()
                if len(members) > MAX_MEMBERS:
                    raise _too_many_members()
                chosen = _select(members)
                for info in chosen:
                    _check_member(info)
                # Caps on what the headers claim, before decompressing anything...
                if len(chosen) > MAX_FILES:
                    raise _too_many_files()
                for notebooks in (False, True):
                    if sum(info.file_size for info in chosen
                           if _is_notebook(_basename(info)) == notebooks) > _total_cap(notebooks):
                        raise _too_much(notebooks)
                # ...and on what decompressing actually produces.
                files: dict[str, bytes] = {}
                for info in chosen:
                    _add(files, _basename(info), _read_member(archive, info))
                return files
        except _DAMAGED as exc:
            raise UnpackError(f"the zip file is damaged: {_brief(exc)}; "
                              f"{HOW_TO_ZIP} again and resubmit") from None


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
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnpackError(f"the zip file holds a symbolic link, {_show(info.orig_filename)};"
                              " zip the files themselves")
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
    _check_module_name(name)
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


def _add(files: dict[str, bytes], name: str, data: bytes) -> None:
    if len(files) >= MAX_FILES:
        raise _too_many_files()
    kind = _is_notebook(name)
    if sum(len(v) for k, v in files.items() if _is_notebook(k) == kind) + len(data) \
            > _total_cap(kind):
        raise _too_much(kind)
    files[name] = data


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


def _too_many_members() -> UnpackError:
    return UnpackError(f"the zip file lists more than {MAX_MEMBERS} entries; "
                       "zip only your folder of .py files")


def _show(name: str) -> str:
    """A name as it can be shown in a one-line message, whatever it holds."""
    return repr(name if len(name) <= 80 else name[:77] + "...")


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:120] or type(exc).__name__).rstrip(".")
