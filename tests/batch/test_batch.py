"""`grader batch`: outputs, hidden cases per student, resuming after kill -9."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path


from grader.checks import CATALOGUE
from grader.course import load_course
from proctree import alive, descendants, spinning

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "course.yaml"
ENV = {**os.environ, "GRADER_SECRET": "batch-tests"}


def _course():
    return load_course(COURSE, {m: set(c) for m, c in CATALOGUE.items()})


def make_class(root: Path, n: int) -> Path:
    """n students: correct, buggy, stub-only, zipped, and one corrupt zip."""
    classroom = root / "class"
    for i in range(n):
        folder = classroom / f"s{i:03d}"
        folder.mkdir(parents=True)
        for source in (REPO / "solutions").glob("*.py"):
            text = source.read_text()
            if i % 4 == 1 and source.name == "backward.py":
                text = text.replace("db = dout.sum(axis=0)", "db = dout.mean(axis=0)")
            if i % 4 == 2:
                text = (REPO / "exercises" / source.name).read_text()
            (folder / source.name).write_text(text)
    zipped = classroom / "zoe.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for source in (REPO / "solutions").glob("*.py"):
            z.write(source, f"zoe/{source.name}")
    (classroom / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    return classroom


def batch(classroom: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "batch", str(classroom), "--out",
                           str(out), "--course", str(COURSE), *extra],
                          capture_output=True, text=True, env=ENV, timeout=600)


def gradebook(out: Path) -> list[list[str]]:
    with (out / "gradebook.csv").open() as f:
        return list(csv.reader(f))


def test_batch_writes_every_output(tmp_path):
    classroom = make_class(tmp_path, 6)
    out = tmp_path / "results"
    done = batch(classroom, out, "--jobs", "2")
    assert done.returncode == 0, done.stderr
    course = _course()
    rows = gradebook(out)
    assert rows[0] == ["student_id", "submission", "total", "max",
                       *[e.id for e in course.exercises], "status"]
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {f"s{i:03d}" for i in range(6)} | {"zoe", "broken"}
    assert by_id["s000"][2] == by_id["zoe"][2] == f"{course.max_score:g}"
    assert float(by_id["s001"][2]) < course.max_score  # the averaged bias gradient
    assert by_id["s002"][2] == "0"
    assert by_id["broken"][2] == "0" and by_id["broken"][-1].startswith("unreadable: ")
    assert by_id["zoe"][1] == "zoe.zip" and by_id["s000"][1] == "s000"  # the original name
    for sid in by_id:
        results = json.loads((out / "students" / sid / "results.json").read_text())
        assert {"score", "max_score"} <= set(results)
        assert (out / "students" / sid / "feedback.md").read_text().startswith("# ")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["students"] == 8 and summary["unreadable"] == 1
    assert summary["pass_rate"]["backward.linear_backward"] < 1.0
    assert any(m["check"] == "backward.linear_backward" for m in summary["common_mistakes"])
    assert "Most common mistakes" in (out / "summary.md").read_text()
    assert "8 submissions" in done.stderr


def test_rerun_skips_finished_students_and_regrades_changed_ones(tmp_path):
    classroom = make_class(tmp_path, 3)
    out = tmp_path / "results"
    assert batch(classroom, out).returncode == 0
    first = gradebook(out)
    again = batch(classroom, out)
    assert "0 graded, 5 unchanged" in again.stderr
    assert gradebook(out) == first
    # A power cut can leave a renamed file empty: its record no longer matches it.
    page = out / "students" / "s001" / "feedback.html"
    text = page.read_text()
    page.write_text("")
    repaired = batch(classroom, out)
    assert "1 graded, 4 unchanged" in repaired.stderr
    assert gradebook(out) == first
    assert _without_timing(page.read_text()) == _without_timing(text)
    stub = (REPO / "exercises" / "activations.py").read_text()
    (classroom / "s000" / "activations.py").write_text(stub)
    changed = batch(classroom, out)
    assert "1 graded, 4 unchanged" in changed.stderr
    assert gradebook(out) != first


def _without_timing(page: str) -> str:
    return re.sub(r"in [0-9.]+ s ·", "", page)


def test_hidden_cases_differ_per_student_and_repeat_on_regrade(tmp_path):
    from grader.grade import hidden_rng
    a = hidden_rng(b"batch-tests", "s000", "backward.mlp_backward").integers(0, 2**62, 4)
    b = hidden_rng(b"batch-tests", "s001", "backward.mlp_backward").integers(0, 2**62, 4)
    a2 = hidden_rng(b"batch-tests", "s000", "backward.mlp_backward").integers(0, 2**62, 4)
    assert list(a) != list(b) and list(a) == list(a2)


def test_a_batch_killed_with_sigkill_resumes_to_an_identical_gradebook(tmp_path):
    classroom = make_class(tmp_path, 16)
    reference = tmp_path / "uninterrupted"
    assert batch(classroom, reference, "--jobs", "2").returncode == 0

    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(classroom), "--out",
                             str(out), "--course", str(COURSE), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = list(out.glob("students/*/record.json"))
        if len(done) >= 4:
            break
        time.sleep(0.02)
    started = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Its worker processes die with it, instead of waiting for work for ever, and so
    # does everything they started (zygotes, children).
    deadline = time.monotonic() + 10
    while ((_processes_mentioning(str(out)) or any(map(alive, started)))
           and time.monotonic() < deadline):
        time.sleep(0.05)
    assert not _processes_mentioning(str(out))
    assert not [p for p in started if alive(p)]
    finished = len(list(out.glob("students/*/record.json")))
    assert 4 <= finished < 18, "kill the batch while it is still grading"
    assert not (out / "gradebook.csv").exists()

    resumed = batch(classroom, out, "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{finished} unchanged" in resumed.stderr
    assert gradebook(out) == gradebook(reference)
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no half-written files left


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


SPIN = """

def sigmoid(z):
    import time
    end = time.monotonic() + 60  # bounded, even if nothing stops it
    while time.monotonic() < end:
        pass
"""


def test_a_batch_killed_with_sigkill_takes_its_sandboxes_with_it(tmp_path):
    # Two students spinning, one per worker: the batch is killed while both loops run.
    # Everything it started must go: workers, zygotes, children, namespace inits, runners.
    classroom = tmp_path / "class"
    for name in ("spin1", "spin2"):
        (classroom / name).mkdir(parents=True)
        (classroom / name / "activations.py").write_text(
            (REPO / "solutions" / "activations.py").read_text() + SPIN)
    proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(classroom), "--out",
                             str(tmp_path / "out"), "--course", str(COURSE), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(spinning(descendants(proc.pid))) < 2:
            time.sleep(0.05)
        started = descendants(proc.pid)
        assert len(spinning(started)) == 2, "both students' loops should be running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(5)
    # A survivor's own children are the batch's too (forked after the snapshot).
    left = [p for p in started if alive(p)]
    left += [c for p in left for c in descendants(p[0]) if c not in left]
    for pid, _ in left:  # leave the machine clean for the next test, then report
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"processes of the killed batch still running: {_describe(left)}"


def _describe(processes) -> str:
    out = []
    for pid, _ in processes:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:80]
            uid = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0]
        except (OSError, IndexError):
            continue
        out.append(f"{pid} (uid {uid}): {cmdline.decode(errors='replace')}")
    return "; ".join(out) or "(ended while being described)"


def test_bad_inputs_are_one_line_errors(tmp_path):
    missing = batch(tmp_path / "nope", tmp_path / "out")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    (tmp_path / "empty").mkdir()
    empty = batch(tmp_path / "empty", tmp_path / "out")
    assert empty.returncode == 2 and "no submissions found" in empty.stderr
    no_secret = subprocess.run([sys.executable, "-m", "grader", "batch", str(tmp_path),
                                "--out", str(tmp_path / "o"), "--course", str(COURSE)],
                               capture_output=True, text=True,
                               env={k: v for k, v in ENV.items() if k != "GRADER_SECRET"})
    assert no_secret.returncode == 2 and "GRADER_SECRET" in no_secret.stderr
