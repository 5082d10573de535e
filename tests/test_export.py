"""Tests of the Gradescope autograder bundle (grader/export.py): what goes into the zip, and
run_autograder run for real against a simulated /autograder tree (AUTOGRADER_ROOT), with
the grader called from this repository (GRADER_CMD, PYTHONPATH). setup.sh is never run
here: it would pip install.

Totals are read from course.yaml, never hard-coded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.checks import CATALOGUE
from grader.course import load_course
from grader.errors import CourseError, GraderError
from grader.export import build_gradescope_bundle

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course.yaml"
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
LOADED = load_course(COURSE, {m: set(c) for m, c in CATALOGUE.items()})
SECRET = "bundle-test-secret-5f1c"
ROOT_MEMBERS = {"setup.sh", "run_autograder", "course.yaml"}


def build(tmp: Path, secret: str | None = None) -> tuple[Path, list[str], Path]:
    """Build a bundle into ``tmp`` and unzip it; return (zip, member names, unzipped)."""
    out = tmp / "autograder.zip"
    names = build_gradescope_bundle(out, COURSE, REPO, secret)
    unzipped = tmp / "unzipped"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(unzipped)
    return out, names, unzipped


@pytest.fixture(scope="module")
def public_bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("public"))


@pytest.fixture(scope="module")
def secret_bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("secret"), SECRET)


def run_autograder(source: Path, tmp: Path, submission: dict[str, bytes],
                   metadata: dict | None = None, grader_cmd: str | None = None):
    """Lay out tmp/autograder as Gradescope does, run run_autograder; return (results, proc).

    ``submission`` maps paths inside /autograder/submission to file contents.
    """
    root = tmp / "autograder"
    shutil.copytree(source, root / "source")
    (root / "results").mkdir()
    (root / "submission").mkdir()
    for name, data in submission.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHONPATH": str(REPO),
           "GRADER_CMD": grader_cmd or f"{sys.executable} -m grader"}
    env.pop(LOADED.hidden.secret_env, None)  # hidden cases only from the bundle's secret
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert isinstance(results["score"], (int, float)), results
    return results, proc


def modules(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


def points(module: str) -> float:
    return sum(c.points for e in LOADED.exercises if e.module == module for c in e.checks)


def metadata(*emails: str) -> dict:
    return {"id": 1, "users": [{"email": e, "id": i, "name": e} for i, e in enumerate(emails)]}


# ---------------------------------------------------------------------------- the zip


def test_members_are_the_scripts_the_course_and_the_grader_source(public_bundle):
    out, names, unzipped = public_bundle
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == names
    assert ROOT_MEMBERS <= set(names)
    assert "secret.txt" not in names
    for name in ("pyproject.toml", "README.md", "grader/__init__.py", "grader/cli.py",
                 "grader/course.py"):
        assert f"grader-src/{name}" in names
    for name in names:
        assert name in ROOT_MEMBERS or re.fullmatch(
            r"grader-src/(pyproject\.toml|README\.md|grader/.+)", name), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
    assert (unzipped / "course.yaml").read_bytes() == COURSE.read_bytes()


def test_no_tests_solutions_or_stubs_leak(public_bundle):
    _, names, unzipped = public_bundle
    assert not [n for n in names if re.search(r"(^|/)(tests|solutions|exercises)/", n)]
    # The marker is mentioned in prose (README, cli.py) and as a constant (generate.py);
    # a solution region is the marker on a line of its own, as `grader generate` requires.
    marker = re.compile(r"^\s*# BEGIN SOLUTION\s*$", re.MULTILINE)
    stubs_and_answers = {p.read_bytes() for p in [*SOLUTIONS.glob("*.py"), *EXERCISES.glob("*.py")]}
    for name in names:
        data = (unzipped / name).read_bytes()
        assert not marker.search(data.decode("utf-8")), f"{name} holds a solution region"
        assert data not in stubs_and_answers, f"{name} is a copy of a solution or stub"


def test_scripts_are_executable_bash(public_bundle):
    out, _, unzipped = public_bundle
    with zipfile.ZipFile(out) as zf:
        for name in ("run_autograder", "setup.sh"):
            mode = zf.getinfo(name).external_attr >> 16
            assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, (name, oct(mode))
        assert zf.getinfo("course.yaml").external_attr >> 16 & 0o111 == 0
    for name in ("run_autograder", "setup.sh"):
        text = (unzipped / name).read_text(encoding="utf-8")
        assert text.startswith("#!/usr/bin/env bash\n")
        check = subprocess.run(["bash", "-n", str(unzipped / name)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_setup_installs_the_dependencies_and_the_grader(public_bundle):
    _, _, unzipped = public_bundle
    text = (unzipped / "setup.sh").read_text(encoding="utf-8")
    for requirement in ("numpy", "click", "pyyaml"):
        assert re.search(rf"pip install .*'{requirement}[>=]", text, re.IGNORECASE), requirement
    assert 'pip install --no-cache-dir --disable-pip-version-check "$SOURCE/grader-src"' in text
    assert "apt-get install -y python3 python3-venv python3-pip" in text


def test_secret_is_a_member_of_its_own_readable_by_the_owner_only(secret_bundle):
    out, names, unzipped = secret_bundle
    assert "secret.txt" in names
    assert (unzipped / "secret.txt").read_text() == SECRET
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("secret.txt").external_attr >> 16 & 0o777 == 0o600
    for name in names:
        if name != "secret.txt":
            assert SECRET.encode() not in (unzipped / name).read_bytes(), name


def test_same_inputs_give_the_same_zip(tmp_path, public_bundle):
    again = tmp_path / "again.zip"
    build_gradescope_bundle(again, COURSE, REPO, None)
    assert again.read_bytes() == public_bundle[0].read_bytes()


def test_a_bad_course_is_refused_at_build_time(tmp_path):
    bad = tmp_path / "course.yaml"
    bad.write_text(COURSE.read_text().replace("scoring: all_or_nothing", "scoring: sometimes"))
    with pytest.raises(CourseError, match="scoring"):
        build_gradescope_bundle(tmp_path / "a.zip", bad, REPO, None)
    assert not list(tmp_path.glob("*.zip"))


@pytest.mark.parametrize("secret", ["", " padded", "two\nlines"])
def test_a_malformed_secret_is_refused(tmp_path, secret):
    with pytest.raises(GraderError, match="secret"):
        build_gradescope_bundle(tmp_path / "a.zip", COURSE, REPO, secret)


def test_a_folder_without_the_grader_is_refused(tmp_path):
    with pytest.raises(GraderError, match="not the grader's source folder"):
        build_gradescope_bundle(tmp_path / "a.zip", COURSE, tmp_path, None)


# ---------------------------------------------------------------------------- run_autograder


def test_solutions_score_full_marks_on_public_cases(tmp_path, public_bundle):
    results, proc = run_autograder(public_bundle[2], tmp_path, modules(SOLUTIONS),
                                   metadata("alice@example.com"))
    assert results["score"] == results["max_score"] == LOADED.max_score
    assert "public cases only" in results["output"]
    assert len(results["tests"]) == sum(len(e.checks) for e in LOADED.exercises)
    assert "alice@example.com:" in proc.stdout  # the student id came from the metadata


def test_solutions_in_one_uploaded_folder(tmp_path, public_bundle):
    files = {f"my work/{name}": data for name, data in modules(SOLUTIONS).items()}
    files["__MACOSX/activations.py"] = b"raise SystemExit\n"  # macOS zip debris, ignored
    results, proc = run_autograder(public_bundle[2], tmp_path, files)
    assert results["score"] == LOADED.max_score
    assert proc.stdout.startswith("student:")  # no metadata: the constant id


def test_stubs_score_zero(tmp_path, public_bundle):
    results, _ = run_autograder(public_bundle[2], tmp_path, modules(EXERCISES))
    assert results["score"] == 0
    assert results["max_score"] == LOADED.max_score


def test_a_syntax_error_costs_only_its_module(tmp_path, public_bundle):
    files = modules(SOLUTIONS)
    files["backward.py"] = files["backward.py"] + b"\ndef broken(:\n"
    results, _ = run_autograder(public_bundle[2], tmp_path, files)
    assert results["score"] == LOADED.max_score - points("backward")
    for test in results["tests"]:
        expected = 0 if test["name"].startswith("backward.") else test["max_score"]
        assert test["score"] == expected, test["name"]


def test_solutions_with_the_bundled_secret_run_hidden_cases(tmp_path, secret_bundle):
    results, _ = run_autograder(secret_bundle[2], tmp_path, modules(SOLUTIONS),
                                metadata("bob@example.com", "alice@example.com"))
    assert results["score"] == LOADED.max_score
    assert "public and hidden cases" in results["output"]


def test_an_invalid_course_file_still_gives_valid_results(tmp_path, public_bundle):
    source = tmp_path / "source"
    shutil.copytree(public_bundle[2], source)
    course = source / "course.yaml"
    course.write_text(course.read_text().replace("scoring: all_or_nothing", "scoring: sometimes"))
    results, proc = run_autograder(source, tmp_path, modules(SOLUTIONS))
    assert results["score"] == 0
    assert results["tests"] == []
    assert results["output"].startswith("The autograder could not grade this submission: ")
    assert "course.yaml: scoring:" in results["output"]
    assert "\n" not in results["output"]
    assert "grader: error:" in proc.stderr  # the full message stays in the staff's log


def test_a_missing_grader_still_gives_valid_results(tmp_path, public_bundle):
    results, _ = run_autograder(public_bundle[2], tmp_path, modules(SOLUTIONS),
                                grader_cmd=str(tmp_path / "no-such-grader"))
    assert results["score"] == 0
    assert "could not grade" in results["output"] and "no-such-grader" in results["output"]


def test_a_lost_secret_is_reported_not_silently_skipped(tmp_path, secret_bundle):
    source = tmp_path / "source"
    shutil.copytree(secret_bundle[2], source)
    (source / "secret.txt").unlink()
    results, _ = run_autograder(source, tmp_path, modules(SOLUTIONS))
    assert results["score"] == 0
    assert "secret.txt is missing" in results["output"]


def test_cli_export_needs_the_secret_or_public_only(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main
    runner = CliRunner()
    refused = runner.invoke(main, ["export", "gradescope", str(tmp_path / "a.zip")],
                            env={"GRADER_SECRET": ""})
    assert refused.exit_code == 2 and "--public-only" in refused.output
    made = runner.invoke(main, ["export", "gradescope", str(tmp_path / "b.zip"),
                                "--public-only"])
    assert made.exit_code == 0 and "hidden cases off" in made.output
    assert (tmp_path / "b.zip").stat().st_size > 0
