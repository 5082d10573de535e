"""Atomic writes: a reader (or a batch resumed after kill -9) never sees half a file.

Only the file itself is made, in a folder that exists: a mistyped ``--json
/nonexistent/dir/x.json`` is a one-line error, not a tree of folders made at ``/``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from grader.errors import GraderError

# Every temporary file the grader writes starts so; clean-ups remove only such names.
TMP_PREFIX = ".grader-tmp-"


def check_writable(path: str | Path) -> Path:
    """``path`` if a file can be made there (its folder exists; it is not a folder), else
    a GraderError saying which; cheap, so commands call it before the work."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "no such folder"
        raise GraderError(f"{path}: cannot write it, {folder}: {what}; make the folder first "
                          "or pick another path")
    if path.is_dir():
        raise GraderError(f"{path}: is a folder; give a file name (e.g. {path / 'out'})")
    return path


def write_text(path: str | Path, text: str) -> None:
    path = check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", dir=path.parent)
    except OSError as exc:
        raise GraderError(f"{path}: cannot write it ({exc.strerror.lower()})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
