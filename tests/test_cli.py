"""Tests of the `grader` command (grader/cli.py) through Click's CliRunner: exit codes, the
one-line errors, the Gradescope JSON of shared/spec/exercises.md, and verify/generate.

Totals are read from course.yaml, never hard-coded, so adding a check changes no test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.checks import CATALOGUE
from grader.cli import main
from grader.course import load_course
from grader.grade import hidden_rng
from grader.sandbox import wire

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course.yaml"
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
LOADED = load_course(COURSE, {m: set(c) for m, c in CATALOGUE.items()})
CHECK_NAMES = [f"{e.module}.{c.function}" for e in LOADED.exercises for c in e.checks]


def invoke(*args: str, secret: str | None = None):
    """Run `grader ARGS` in-process; GRADER_SECRET is set only when ``secret`` is given."""
    env = {LOADED.hidden.secret_env: secret}  # None removes the variable
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def total(score: float, max_score: float) -> str:
    return f"Score {score:g}/{max_score:g}"


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"not one line: {result.stderr!r}"
    assert lines[0].startswith("grader: error: ")
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in result.output
    assert result.stdout == ""


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def insert_in_solution(path: Path, function: str, line: str) -> None:
    """Insert ``line`` right after the `# BEGIN SOLUTION` marker of ``function``: the answer
    changes, the generated stub does not."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"def {function}(")
    marker = text.index("# BEGIN SOLUTION", start)
    indent = text[text.rindex("\n", 0, marker) + 1:marker]
    end = text.index("\n", marker) + 1
    path.write_text(text[:end] + indent + line + "\n" + text[end:], encoding="utf-8")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def without_timing(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "execution_time"}


# ---------------------------------------------------------------------------- help


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_with_an_example(name):
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"grader {name}" in result.output.split("Example", 1)[1]


def test_the_group_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in main.commands:
        assert name in result.output
    assert invoke("-h").output == result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and "grader" in result.output


def _installed_script() -> Path | None:
    beside = Path(sys.executable).with_name("grader")
    if beside.exists():
        return beside
    found = shutil.which("grader")
    return Path(found) if found else None


@pytest.mark.parametrize("how", ["python -m grader", "grader"])
def test_the_real_entry_points_run(how):
    if how == "grader":
        script = _installed_script()
        assert script is not None, "the `grader` script is not installed (pip install -e .)"
        command = [str(script), "--help"]
    else:
        command = [sys.executable, "-m", "grader", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    for name in main.commands:
        assert name in done.stdout


# ---------------------------------------------------------------------------- check


def test_check_solutions_scores_full_marks():
    result = invoke("check", SOLUTIONS, "--course", COURSE, "--no-color")
    assert result.exit_code == 0, result.output
    assert total(LOADED.max_score, LOADED.max_score) in result.stdout
    for exercise in LOADED.exercises:
        assert exercise.id in result.stdout


def test_check_stubs_says_not_started_and_what_to_do_next():
    result = invoke("check", EXERCISES, "--course", COURSE, "--no-color")
    assert result.exit_code == 1
    assert total(0, LOADED.max_score) in result.stdout
    assert "not started" in result.stdout
    first = LOADED.exercises[0]
    assert f"Next: implement {first.checks[0].function}" in result.stdout
    assert "Traceback" not in result.output


def test_check_one_exercise():
    backward = LOADED.exercise("backward")
    points = sum(c.points for c in backward.checks)
    stubs = invoke("check", EXERCISES, "--exercise", "backward", "--course", COURSE, "--no-color")
    assert stubs.exit_code == 1
    assert total(0, points) in stubs.stdout
    assert "--exercise backward" in stubs.stdout
    others = [e for e in LOADED.exercises if e.id != "backward"]
    for other in others:
        assert f"{other.id}: {other.title}" not in stubs.stdout
    full = invoke("check", SOLUTIONS, "-e", "backward", "--course", COURSE, "--no-color")
    assert full.exit_code == 0
    assert total(points, points) in full.stdout


def test_check_verbose_on_stubs_lists_every_function():
    result = invoke("check", EXERCISES, "--verbose", "--course", COURSE, "--no-color")
    assert result.exit_code == 1
    for name in CHECK_NAMES:
        assert name.split(".", 1)[1] in result.stdout


def test_check_a_missing_path_is_one_line():
    assert_one_line_error(invoke("check", REPO / "no-such-folder", "--course", COURSE),
                          "no-such-folder", "no such file or folder")


def test_check_a_file_instead_of_a_folder_is_one_line():
    assert_one_line_error(invoke("check", COURSE, "--course", COURSE), "not a folder")


def test_check_an_unknown_exercise_is_one_line():
    assert_one_line_error(invoke("check", SOLUTIONS, "-e", "nope", "--course", COURSE),
                          "no exercise 'nope'")


def test_a_missing_course_file_is_one_line(tmp_path):
    assert_one_line_error(invoke("check", SOLUTIONS, "--course", tmp_path / "none.yaml"),
                          "none.yaml", "no such file")


def test_an_invalid_course_file_is_one_line(tmp_path):
    bad = tmp_path / "course.yaml"
    bad.write_text(COURSE.read_text(encoding="utf-8").replace("points: 1}", "points: two}", 1),
                   encoding="utf-8")
    assert_one_line_error(invoke("check", SOLUTIONS, "--course", bad),
                          str(bad), "points", "'two'")


def test_a_submission_missing_a_module_still_gets_graded(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    first = LOADED.exercises[0]
    shutil.copy(SOLUTIONS / f"{first.module}.py", sub)
    result = invoke("check", sub, "--course", COURSE, "--no-color")
    assert result.exit_code == 1
    points = sum(c.points for c in first.checks)
    assert total(points, LOADED.max_score) in result.stdout
    assert "Next: no " in result.stdout  # the missing module is named as the next step


# ---------------------------------------------------------------------------- grade


def test_grade_without_the_secret_is_one_line(tmp_path):
    out = tmp_path / "out.json"
    result = invoke("grade", SOLUTIONS, "--json", out, "--course", COURSE)
    assert_one_line_error(result, LOADED.hidden.secret_env, "--public-only")
    assert not out.exists()


def test_grade_a_missing_submission_is_one_line(tmp_path):
    result = invoke("grade", tmp_path / "ghost", "--json", tmp_path / "o.json",
                    "--course", COURSE, secret="s")
    assert_one_line_error(result, "ghost", "no such file or folder")


def test_grade_writes_gradescope_json(tmp_path):
    (tmp_path / "nested").mkdir()  # only the file is made (tests/test_out_paths.py)
    out = tmp_path / "nested" / "out.json"
    result = invoke("grade", SOLUTIONS, "--json", out, "--course", COURSE, secret="s3cret")
    assert result.exit_code == 0, result.output
    data = read_json(out)
    assert {"score", "max_score", "tests"} <= set(data)
    assert data["score"] == data["max_score"] == LOADED.max_score
    tests = data["tests"]
    assert len(tests) == len(CHECK_NAMES)
    for test, name in zip(tests, CHECK_NAMES):
        assert test["name"].startswith(name)
        assert test["name"][len(name):][:1] in ("", ":")  # not a longer function's name
        assert test["status"] == "passed"
        assert isinstance(test["output"], str) and test["output"]
        assert "hidden" in test["output"]  # hidden cases ran
        assert 0 <= test["score"] <= test["max_score"]
    assert sum(t["score"] for t in tests) == data["score"]
    assert sum(t["max_score"] for t in tests) == data["max_score"]
    assert f"{LOADED.max_score:g}/{LOADED.max_score:g}" in result.stdout


def test_grade_public_only_needs_no_secret_and_runs_no_hidden_case(tmp_path):
    out = tmp_path / "out.json"
    result = invoke("grade", SOLUTIONS, "--json", out, "--public-only", "--course", COURSE,
                    secret="s3cret")
    assert result.exit_code == 0, result.output
    data = read_json(out)
    assert data["score"] == LOADED.max_score
    assert all("hidden" not in t["output"] for t in data["tests"])
    assert "public cases only" in data["output"]


def test_grade_stubs_finishes_with_zero(tmp_path):
    out = tmp_path / "out.json"
    result = invoke("grade", EXERCISES, "--json", out, "--course", COURSE, secret="s")
    assert result.exit_code == 0, result.output  # grading finished: exit 0 whatever the score
    data = read_json(out)
    assert data["score"] == 0 and data["max_score"] == LOADED.max_score
    for test in data["tests"]:
        assert test["status"] == "failed" and test["score"] == 0
        assert "not implemented" in test["output"]


def test_grade_one_exercise(tmp_path):
    out = tmp_path / "out.json"
    result = invoke("grade", SOLUTIONS, "--json", out, "-e", "backward", "--course", COURSE,
                    secret="s")
    assert result.exit_code == 0
    names = [t["name"].split(":")[0] for t in read_json(out)["tests"]]
    assert names == [n for n in CHECK_NAMES if n.startswith("backward.")]


def test_the_student_id_comes_from_the_folder_name(tmp_path):
    sub = copy_folder(SOLUTIONS, tmp_path / "alice.v2")  # the whole name: alice.v1 differs
    result = invoke("grade", sub, "--json", tmp_path / "o.json", "--course", COURSE,
                    secret="s")
    assert result.stdout.startswith("alice.v2: ")
    result = invoke("grade", sub, "--json", tmp_path / "o.json", "--student-id", "bob",
                    "--course", COURSE, secret="s")
    assert result.stdout.startswith("bob: ")


@pytest.fixture(scope="module")
def wrong_relu(tmp_path_factory) -> Path:
    """A submission whose relu is wrong on every positive entry."""
    sub = copy_folder(SOLUTIONS, tmp_path_factory.mktemp("subs") / "carol")
    insert_in_solution(sub / "activations.py", "relu", "z = np.asarray(z, dtype=np.float64) * 1.5")
    return sub


def test_same_secret_and_student_give_identical_results(tmp_path, wrong_relu):
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}.json"
        result = invoke("grade", wrong_relu, "--json", out, "-e", "activations",
                        "--course", COURSE, secret="same")
        assert result.exit_code == 0
        runs.append(without_timing(read_json(out)))
    assert runs[0] == runs[1]
    relu = next(t for t in runs[0]["tests"] if t["name"].startswith("activations.relu:")
                or t["name"] == "activations.relu")
    assert relu["status"] == "failed" and relu["score"] == 0
    assert "wrong" in relu["output"]


def _hidden_inputs(secret: bytes, student: str, check: str) -> bytes:
    module, function = check.split(".")
    cases = CATALOGUE[module][function].hidden(hidden_rng(secret, student, check), 3)
    return wire.pack([list(c.calls[0].args) for c in cases])


@pytest.mark.parametrize("check", CHECK_NAMES)
def test_hidden_inputs_depend_on_secret_student_and_check(check):
    base = _hidden_inputs(b"secret", "alice", check)
    assert _hidden_inputs(b"secret", "alice", check) == base
    assert _hidden_inputs(b"secret", "bob", check) != base
    assert _hidden_inputs(b"other", "alice", check) != base


def test_hidden_seeds_differ_per_student_and_check():
    draw = lambda *key: hidden_rng(*key).integers(0, 2**63, size=4).tolist()  # noqa: E731
    assert draw(b"s", "alice", "backward.mse_loss") == draw(b"s", "alice", "backward.mse_loss")
    assert draw(b"s", "alice", "backward.mse_loss") != draw(b"s", "bob", "backward.mse_loss")
    assert draw(b"s", "alice", "backward.mse_loss") != draw(b"s", "alice", "backward.mlp_forward")
    # the separator keeps ("ab", "c") and ("a", "bc") apart
    assert draw(b"s", "ab", "c.d") != draw(b"s", "a", "bc.d")


def test_a_hostile_submission_still_gets_a_result(tmp_path):
    sub = copy_folder(SOLUTIONS, tmp_path / "mallory")
    with (sub / "backward.py").open("a", encoding="utf-8") as f:
        f.write(
            "\nimport json as _json, os as _os, sys as _sys\n"
            "_sys.path.insert(0, _sys.argv[1])\n"
            "import wire as _wire\n"
            "_h = _json.dumps({'blobs': [], 'body': {'$ref': ['x', []]}}).encode()\n"
            "_p = _wire.HEADER_LENGTH.pack(len(_h)) + _h\n"
            "_os.write(int(_sys.argv[3]), _wire.LENGTH.pack(len(_p)) + _p)\n")
    out = tmp_path / "o.json"
    result = CliRunner().invoke(main, ["grade", str(sub), "--json", str(out), "--course",
                                       str(COURSE)], env={LOADED.hidden.secret_env: "s"})
    assert result.exit_code == 0, repr(result.exception)
    data = read_json(out)
    backward = [t for t in data["tests"] if t["name"].startswith("backward.")]
    assert backward and all(t["score"] == 0 for t in backward)


# ---------------------------------------------------------------------------- verify


def verify(solutions: Path, exercises: Path, secret: str | None = None):
    return invoke("verify", "--solutions", solutions, "--exercises", exercises,
                  "--course", COURSE, secret=secret)


def test_verify_passes_on_the_repository():
    result = verify(SOLUTIONS, EXERCISES)
    assert result.exit_code == 0, result.output
    assert "verify: OK" in result.stdout
    assert f"solutions: {LOADED.max_score:g}/{LOADED.max_score:g}" in result.stdout


@pytest.fixture
def course_copy(tmp_path) -> tuple[Path, Path]:
    return copy_folder(SOLUTIONS, tmp_path / "solutions"), copy_folder(EXERCISES,
                                                                        tmp_path / "exercises")


def test_the_copies_verify(course_copy):
    """The fixtures below fail verify only because of the edit each makes."""
    assert verify(*course_copy).exit_code == 0


def test_verify_fails_when_a_stub_is_edited(course_copy):
    solutions, exercises = course_copy
    stub = exercises / f"{LOADED.exercises[-1].module}.py"
    with stub.open("a", encoding="utf-8") as f:
        f.write("# an edit by hand\n")
    result = verify(solutions, exercises)
    assert result.exit_code == 1
    assert f"FAIL exercises: {stub.name} differs from `grader generate`" in result.stderr
    assert "verify: OK" not in result.stdout


def test_verify_fails_when_a_solution_is_broken(course_copy):
    solutions, exercises = course_copy
    insert_in_solution(solutions / "activations.py", "relu",
                       "raise RuntimeError('broken on purpose')")
    result = verify(solutions, exercises, secret=None)
    assert result.exit_code == 1
    assert "FAIL solutions: activations.relu fails" in result.stderr
    assert "RuntimeError" in result.stderr or "exception" in result.stderr
    # Only the answer changed: no stub drifts, only the solved notebook in solutions/ does.
    assert "activations.py differs" not in result.stderr
    assert result.stderr.count("activations.ipynb differs from `grader generate`") == 1
    assert f"{LOADED.hidden.secret_env}=" in result.stderr  # how to reproduce the hidden cases


def test_verify_fails_when_a_stub_answers(course_copy):
    solutions, exercises = course_copy
    shutil.copy(solutions / "backward.py", exercises / "backward.py")
    result = verify(solutions, exercises)
    assert result.exit_code == 1
    assert "expected 'not implemented'" in result.stderr


# ---------------------------------------------------------------------------- generate


def test_generate_check_passes_on_the_repository():
    result = invoke("generate", "--check", "--solutions", SOLUTIONS, "--exercises", EXERCISES)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_generate_check_fails_after_a_stub_is_edited_and_generate_repairs_it(course_copy):
    solutions, exercises = course_copy
    stub = exercises / "backward.py"
    stub.write_text(stub.read_text(encoding="utf-8") + "\nx = 1\n", encoding="utf-8")
    before = sorted(p.name for p in exercises.iterdir())
    result = invoke("generate", "--check", "--solutions", solutions, "--exercises", exercises)
    assert result.exit_code == 1
    assert result.stdout.strip() == f"out of date: {stub}"
    assert sorted(p.name for p in exercises.iterdir()) == before  # --check writes nothing
    assert stub.read_text(encoding="utf-8").endswith("\nx = 1\n")

    result = invoke("generate", "--solutions", solutions, "--exercises", exercises)
    assert result.exit_code == 0
    assert stub.read_text(encoding="utf-8") == (EXERCISES / "backward.py").read_text(
        encoding="utf-8")
    assert invoke("generate", "--check", "--solutions", solutions,
                  "--exercises", exercises).exit_code == 0
