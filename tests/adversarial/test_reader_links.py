"""Links in a submission are refused by every entry point, and the secret never shows.

A submission file that is a symbolic link is the oldest way to read what the sandbox
hides: the grader, not the child, opens it, so Landlock never sees the read. Each link
below aims at something a student must not get: the grader's environment (which holds
GRADER_SECRET), a solution through /proc/self/cwd, a classmate's folder, the Gradescope
bundle's secret.txt. Placed as a course module, the submission is not graded and the
reason names the file; placed as a helper file a module reads at run time, it is left
out with a note naming it, and the module finds nothing. ``grade``, ``check``, ``batch``
and ``run_autograder`` are run as commands (the secret is in their environment from
exec, as /proc/self/environ shows it), and every output they make (stdout, stderr, every
file written) is searched for the secret.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "course.yaml"
SOLUTIONS = REPO / "solutions"
MARKER = "leak-marker-" + secrets.token_hex(8)
ENV = {**os.environ, "GRADER_SECRET": MARKER, "PYTHONPATH": str(REPO)}

# A module that passes nothing of its own: it quotes a file beside it in every answer.
READER = '''
import os

def _quote():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "leak.py"), "rb") as f:
        return f.read().decode("latin-1")

def sigmoid(z):
    raise ValueError(_quote())

def sigmoid_grad(z):
    raise ValueError(_quote())
'''


def targets(root: Path) -> dict[str, str]:
    """Where each link points: what a student must never read through the grader."""
    bob = root / "bob"
    bob.mkdir(exist_ok=True)
    shutil.copy(SOLUTIONS / "activations.py", bob / "activations.py")
    secret = root / "secret.txt"
    secret.write_text(MARKER)
    return {"environ": "/proc/self/environ",
            "solution": "/proc/self/cwd/solutions/activations.py",
            "classmate": str(bob / "activations.py"),
            "secret": str(secret)}


def linked(folder: Path, name: str, target: str, reader: bool = False) -> Path:
    folder.mkdir(parents=True)
    (folder / name).symlink_to(target)
    if reader:
        (folder / "activations.py").write_text(READER)
    return folder


def outputs(proc: subprocess.CompletedProcess, *folders: Path) -> str:
    """Everything a run showed or wrote, as text."""
    texts = [proc.stdout, proc.stderr]
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def grader(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


KINDS = ["environ", "solution", "classmate", "secret"]


@pytest.mark.parametrize("kind", KINDS)
def test_grade_refuses_a_linked_module_and_names_it(tmp_path, kind):
    submission = linked(tmp_path / "alice", "activations.py", targets(tmp_path)[kind])
    out = tmp_path / "out"
    out.mkdir()
    proc = grader("grade", str(submission), "--json", str(out / "r.json"), "--html",
                  str(out / "r.html"), "--course", str(COURSE))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "r.json").read_text())
    assert result["score"] == 0 and not result["tests"]
    assert "activations.py" in result["output"] and "symbolic link" in result["output"]
    assert MARKER not in outputs(proc, out)


@pytest.mark.parametrize("kind", KINDS)
def test_grade_leaves_out_a_linked_helper_with_a_note(tmp_path, kind):
    submission = linked(tmp_path / "alice", "leak.py", targets(tmp_path)[kind], reader=True)
    out = tmp_path / "out"
    out.mkdir()
    proc = grader("grade", str(submission), "--json", str(out / "r.json"), "-e", "activations",
                  "--course", str(COURSE))
    assert proc.returncode == 0, proc.stderr
    text = outputs(proc, out)
    assert "leak.py" in text and "symbolic link" in text
    assert "FileNotFoundError" in text  # the module found nothing to quote
    assert MARKER not in text
    if kind == "solution":
        assert json.loads((out / "r.json").read_text())["score"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_check_refuses_a_linked_module(tmp_path, kind):
    submission = linked(tmp_path / "alice", "activations.py", targets(tmp_path)[kind])
    out = tmp_path / "out"
    out.mkdir()
    proc = grader("check", str(submission), "-e", "activations", "--html", str(out / "r.html"),
                  "--course", str(COURSE))
    assert proc.returncode == 1
    assert "activations.py" in proc.stdout + proc.stderr and "symbolic link" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert MARKER not in outputs(proc, out)


def test_grade_refuses_a_submission_folder_that_is_a_link(tmp_path):
    targets(tmp_path)
    (tmp_path / "mallory").symlink_to(tmp_path / "bob")
    out = tmp_path / "out"
    out.mkdir()
    proc = grader("grade", str(tmp_path / "mallory"), "--json", str(out / "r.json"),
                  "--course", str(COURSE))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "r.json").read_text())
    assert result["score"] == 0 and "mallory" in result["output"]
    assert "symbolic link" in result["output"]


def test_batch_refuses_every_link_and_says_which(tmp_path):
    aims = targets(tmp_path)
    classroom = tmp_path / "class"
    for kind in KINDS:
        linked(classroom / f"m-{kind}", "activations.py", aims[kind])
    (classroom / "mallory").symlink_to(tmp_path / "bob")
    out = tmp_path / "results"
    proc = grader("batch", str(classroom), "--out", str(out), "--course", str(COURSE))
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in _gradebook(out)}
    assert set(rows) == {*(f"m-{kind}" for kind in KINDS), "mallory"}
    for sid, row in rows.items():
        assert row["total"] == "0" and "symbolic link" in row["status"], row
        assert ("mallory" if sid == "mallory" else "activations.py") in row["status"]
    assert MARKER not in outputs(proc, out)


def test_batch_and_grade_leave_out_a_linked_helper_alike(tmp_path):
    aims = targets(tmp_path)
    classroom = tmp_path / "class"
    linked(classroom / "eve", "leak.py", aims["environ"], reader=True)
    out = tmp_path / "results"
    proc = grader("batch", str(classroom), "--out", str(out), "--course", str(COURSE))
    assert proc.returncode == 0, proc.stderr
    (row,) = _gradebook(out)
    assert row["status"] == "graded"
    feedback = (out / "students" / "eve" / "feedback.md").read_text()
    assert "leak.py" in feedback and "symbolic link" in feedback
    assert MARKER not in outputs(proc, out)


def _gradebook(out: Path) -> list[dict]:
    import csv
    with (out / "gradebook.csv").open() as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------- Gradescope


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from grader.export import build_gradescope_bundle
    tmp = tmp_path_factory.mktemp("bundle")
    build_gradescope_bundle(tmp / "autograder.zip", COURSE, REPO, MARKER)
    with zipfile.ZipFile(tmp / "autograder.zip") as zf:
        zf.extractall(tmp / "source")
    return tmp / "source"


@pytest.mark.parametrize("placement", ["module", "helper", "folder"])
def test_run_autograder_refuses_a_link_to_the_bundles_secret(tmp_path, bundle, placement):
    root = tmp_path / "autograder"
    shutil.copytree(bundle, root / "source")
    (root / "results").mkdir()
    secret = root / "source" / "secret.txt"
    if placement == "module":
        linked(root / "submission", "activations.py", str(secret))
    elif placement == "helper":
        linked(root / "submission", "leak.py", str(secret), reader=True)
    else:  # one uploaded folder, which is a link to the bundle's own folder
        (root / "submission").mkdir()
        (root / "source" / "activations.py").symlink_to(secret)
        (root / "submission" / "work").symlink_to(root / "source")
    env = {**ENV, "AUTOGRADER_ROOT": str(root), "GRADER_CMD": f"{sys.executable} -m grader"}
    env.pop("GRADER_SECRET")  # only the bundle's secret.txt holds it
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    text = outputs(proc, root / "results")
    if placement == "module":
        assert results["score"] == 0 and "activations.py" in results["output"]
        assert "symbolic link" in results["output"]
    elif placement == "helper":
        assert "leak.py" in text and "symbolic link" in text
    else:  # the linked folder is not graded: the reader refuses it by name
        assert results["score"] == 0 and not results["tests"]
        assert "'work'" in results["output"] and "symbolic link" in results["output"]
    assert MARKER not in text


# ---------------------------------------------------------------------------- one set of rules


def _solutions(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for source in SOLUTIONS.glob("*.py"):
        shutil.copy(source, folder / source.name)
    return folder


def test_a_file_the_course_does_not_grade_is_left_out_alike_by_grade_and_batch(tmp_path):
    alice = _solutions(tmp_path / "class" / "alice")
    with open(alice / "huge.py", "wb") as f:
        f.truncate(200 << 20)  # sparse: 200 MB of nothing
    (alice / "my-notes.py").write_text("not a module name\n")
    (alice / "helpers.py").write_text("SCALE = 1.0\n")  # a helper within the caps is read
    with open(alice / "activations.py", "a") as f:
        f.write("\nimport helpers  # noqa\n")
    out = tmp_path / "out"
    out.mkdir()
    graded = grader("grade", str(alice), "--json", str(out / "r.json"), "--course", str(COURSE))
    assert graded.returncode == 0, graded.stderr
    result = json.loads((out / "r.json").read_text())
    batch = grader("batch", str(tmp_path / "class"), "--out", str(tmp_path / "results"),
                   "--course", str(COURSE))
    assert batch.returncode == 0, batch.stderr
    (row,) = _gradebook(tmp_path / "results")
    assert row["status"] == "graded" and float(row["total"]) == result["score"] > 0
    assert result["score"] == result["max_score"]
    feedback = (tmp_path / "results" / "students" / "alice" / "feedback.md").read_text()
    for text in (result["output"], feedback):
        assert "'huge.py' was left out" in text and "larger than 1 MiB" in text
        assert "'my-notes.py' was left out" in text and "helpers.py" not in text


def test_a_course_module_too_large_is_not_graded_alike_by_grade_and_batch(tmp_path):
    alice = _solutions(tmp_path / "class" / "alice")
    with open(alice / "activations.py", "a") as f:
        f.write("#" * (2 << 20) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    graded = grader("grade", str(alice), "--json", str(out / "r.json"), "--course", str(COURSE))
    assert graded.returncode == 0, graded.stderr
    result = json.loads((out / "r.json").read_text())
    assert result["score"] == 0 and "'activations.py' is larger than 1 MiB" in result["output"]
    batch = grader("batch", str(tmp_path / "class"), "--out", str(tmp_path / "results"),
                   "--course", str(COURSE))
    (row,) = _gradebook(tmp_path / "results")
    assert row["total"] == "0" and "'activations.py' is larger than 1 MiB" in row["status"]


def test_check_here_refuses_a_linked_notebook(tmp_path, capsys):
    from grader.notebook import check_here
    (tmp_path / "lesson.ipynb").symlink_to(REPO / "solutions" / "activations.ipynb")
    check_here(tmp_path / "lesson.ipynb", "activations", COURSE)
    out = capsys.readouterr().out
    assert out.startswith("grader: error: ") and "symbolic link" in out and out.count("\n") == 1
