"""A Gradescope autograder bundle: the zip an instructor uploads to a programming assignment.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once, as root,
when it builds the assignment's image, and then, for every submission, runs
``run_autograder`` (as root, working folder ``/autograder``) with the student's files in
``/autograder/submission``; what it leaves in ``/autograder/results/results.json`` is the
result. The bundle holds the grader's own source (``grader-src/``: the package,
``pyproject.toml`` and ``README.md``, never the tests, ``solutions/`` or ``exercises/``),
the course file, the two scripts and, when asked for, the course secret.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
import zipfile
from pathlib import Path

from grader.checks import CATALOGUE
from grader.course import load_course
from grader.errors import GraderError
from grader.files import TMP_PREFIX, check_writable

SOURCE_DIR = "grader-src"
# A fixed timestamp and sorted members: the same inputs give the same zip, byte for byte.
_EPOCH = (1980, 1, 1, 0, 0, 0)
# A solution region's opening marker on a line of its own (``grader generate``'s rule); a
# mention of the marker in prose or as a string constant does not match.
_SOLUTION_MARKER = re.compile(rb"^[ \t]*# BEGIN SOLUTION[ \t]*\r?$", re.MULTILINE)


def build_gradescope_bundle(out_zip: Path, course_path: Path, repo: Path,
                            secret: str | None) -> list[str]:
    """Write the Gradescope autograder zip ``out_zip``; return its member names, in order.

    ``course_path`` is validated as ``grader grade`` would (a bad course file raises
    CourseError here rather than on every submission), ``repo`` is the folder holding
    ``pyproject.toml`` and the ``grader`` package.

    Without a secret, Gradescope grades on the public cases only (``--public-only``); grade
    the hidden cases offline with ``grader grade`` when you need them. With a secret, it
    is stored in the bundle as ``secret.txt`` and the hidden cases run on Gradescope,
    seeded per student from the submission's e-mail address. The trade-off: the zip (and
    the image built from it) is visible to course staff only, never to students, but
    everyone who can edit the assignment can download it and so reproduce every student's
    hidden inputs. Inside the container the file is made readable by root only, and
    student code runs under its own uid, confined by the sandbox, with the grader's
    environment (which holds the secret) scrubbed. Use a secret made for this course and
    term (not one shared with exams graded offline) and rotate it between assessments.
    """
    out_zip, course_path, repo = Path(out_zip), Path(course_path), Path(repo)
    check_writable(out_zip)  # before the work: a mistyped folder is one line, not a mkdir
    course = load_course(course_path, CATALOGUE)
    if secret is not None and (not secret or secret != secret.strip() or "\0" in secret
                               or "\n" in secret):
        raise GraderError("the course secret must be one non-empty line without surrounding "
                          "spaces")
    files = {name: (data, 0o644) for name, data in _grader_source(repo).items()}
    files["course.yaml"] = (course_path.read_bytes(), 0o644)
    files["setup.sh"] = (_setup_sh(repo).encode(), 0o755)
    files["run_autograder"] = (_run_autograder(course.hidden.secret_env,
                                               secret is not None).encode(), 0o755)
    if secret is not None:
        files["secret.txt"] = (secret.encode(), 0o600)
    leaked = [name for name, (data, _) in files.items() if _SOLUTION_MARKER.search(data)]
    if leaked:
        raise GraderError(f"{leaked[0]}: holds a `# BEGIN SOLUTION` region; solutions never go "
                          "into the bundle")
    names = sorted(files)
    _write_zip(out_zip, [(name, *files[name]) for name in names])
    return names


def _grader_source(repo: Path) -> dict[str, bytes]:
    """The installable grader: pyproject.toml, README.md and the package, no bytecode."""
    package = repo / "grader"
    needed = [repo / "pyproject.toml", repo / "README.md", package / "__init__.py"]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise GraderError(f"{repo}: not the grader's source folder (no {missing[0].name}); "
                          "pass the folder that holds pyproject.toml and grader/")
    files = {f"{SOURCE_DIR}/pyproject.toml": needed[0].read_bytes(),
             f"{SOURCE_DIR}/README.md": needed[1].read_bytes()}
    for path in sorted(package.rglob("*")):
        parts = path.relative_to(repo).parts
        if (path.is_file() and path.suffix not in (".pyc", ".pyo")
                and "__pycache__" not in parts and not any(p.startswith(".") for p in parts)):
            files[f"{SOURCE_DIR}/{'/'.join(parts)}"] = path.read_bytes()
    return files


def _write_zip(out_zip: Path, members: list[tuple[str, bytes, int]]) -> None:
    """Write atomically, with each member's Unix mode (Gradescope needs run_autograder +x);
    only the file is made, in a folder that exists."""
    check_writable(out_zip)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{out_zip.name}.", dir=out_zip.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data, mode in members:
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.external_attr = (0o100000 | mode) << 16  # a regular file with this mode
                info.create_system = 3  # Unix, so that unzip honours the mode
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        os.replace(tmp, out_zip)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _dependencies(repo: Path) -> list[str]:
    """The grader's runtime requirements, as pyproject.toml lists them."""
    with open(repo / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def _setup_sh(repo: Path) -> str:
    requirements = " ".join(f"'{r}'" for r in _dependencies(repo))
    return _SETUP_SH.replace("@REQUIREMENTS@", requirements).replace("@SOURCE_DIR@", SOURCE_DIR)


def _run_autograder(secret_env: str, with_secret: bool) -> str:
    return (_RUN_AUTOGRADER.replace("@SECRET_ENV@", secret_env)
            .replace("@WITH_SECRET@", "1" if with_secret else "0"))


_SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# Written by grader/export.py; running it again changes nothing.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
BIN_DIR="${BIN_DIR:-/usr/local/bin}"

# The grader needs Python 3.11 or newer. It gets a virtual environment of its own, clear
# of the image's packages (and of PEP 668, which stops a plain `pip install` on newer
# Ubuntu images).
usable() { command -v "$1" >/dev/null 2>&1 && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; }

PYTHON=""
for candidate in python3 python3.13 python3.12 python3.11; do
    if usable "$candidate"; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y python3 python3-venv python3-pip
    if usable python3; then
        PYTHON=python3
    else  # Ubuntu 22.04's python3 is 3.10
        apt-get install -y python3.11 python3.11-venv
        PYTHON=python3.11
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV"; then  # Debian and Ubuntu ship venv separately
        rm -rf "$VENV"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y "$PYTHON-venv"
        "$PYTHON" -m venv "$VENV"
    fi
fi

"$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check @REQUIREMENTS@
"$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check "$SOURCE/@SOURCE_DIR@"
mkdir -p "$BIN_DIR"
ln -sf "$VENV/bin/grader" "$BIN_DIR/grader"

# The course secret (if the bundle has one) is for the grader only.
if [ -f "$SOURCE/secret.txt" ]; then chmod 600 "$SOURCE/secret.txt"; fi

"$VENV/bin/grader" --version
# Which sandbox protections hold in this image (shown in the build log only).
"$VENV/bin/grader" doctor || true
"""

_RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission. Written by grader/export.py.
# It always leaves a valid results.json: when the grader cannot grade, the student sees
# a score of 0 and the reason, never a broken autograder.
#   AUTOGRADER_ROOT  the Gradescope folder (default /autograder)
#   GRADER_CMD       how to call the grader (default: grader)
set -o pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
read -r -a GRADER <<< "${GRADER_CMD:-grader}"
WITH_SECRET=@WITH_SECRET@

mkdir -p "$ROOT/results"
rm -f "$RESULTS"

# A JSON string of one line of printable ASCII, at most 500 characters.
json_string() {
    local s
    s=$(printf '%s' "$1" | LC_ALL=C tr -c '\040-\176' ' ')
    s=${s:0:500}
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

fail() {
    local reason="${1%.}"
    echo "run_autograder: $reason" >&2
    printf '{\n  "score": 0,\n  "output": %s,\n  "tests": []\n}\n' \
        "$(json_string "The autograder could not grade this submission: $reason. Please tell the course staff.")" \
        > "$RESULTS"
    exit 0
}

# The modules may be uploaded as files, or as one folder that holds them.
has_py() { compgen -G "$1/*.py" > /dev/null; }
SUBMISSION="$ROOT/submission"
if ! has_py "$SUBMISSION"; then
    found=()
    for dir in "$SUBMISSION"/*/; do
        [ "$(basename "$dir")" = "__MACOSX" ] && continue
        has_py "$dir" && found+=("${dir%/}")
    done
    [ "${#found[@]}" -eq 1 ] && SUBMISSION="${found[0]}"
fi

# Hidden cases are drawn per student: the submitters' e-mail addresses (sorted, for a
# group) keep them the same across resubmissions and regrades.
STUDENT=$(python3 - "$ROOT/submission_metadata.json" 2> /dev/null <<'EOF'
import json, sys
users = json.load(open(sys.argv[1], encoding="utf-8"))["users"]
print(",".join(sorted(str(u.get("email") or u["id"]) for u in users)))
EOF
)
[ -n "$STUDENT" ] || STUDENT=student

ARGS=(--json "$RESULTS" --course "$SOURCE/course.yaml" --student-id "$STUDENT")
if [ "$WITH_SECRET" = 1 ]; then
    [ -s "$SOURCE/secret.txt" ] || fail "the bundle was built with a course secret, but secret.txt is missing"
    chmod 600 "$SOURCE/secret.txt" 2> /dev/null
    export @SECRET_ENV@="$(cat "$SOURCE/secret.txt")"
else
    ARGS+=(--public-only)
fi

ERRORS=$(mktemp)
"${GRADER[@]}" grade "$SUBMISSION" "${ARGS[@]}" 2> "$ERRORS"
STATUS=$?
cat "$ERRORS" >&2
REASON=$(grep -v '^[[:space:]]*$' "$ERRORS" | tail -n 1)
rm -f "$ERRORS"
REASON=${REASON#grader: error: }

if [ "$STATUS" -ne 0 ]; then
    fail "${REASON:-the grader stopped with exit code $STATUS}"
elif [ ! -s "$RESULTS" ]; then
    fail "the grader wrote no results"
fi
"""
