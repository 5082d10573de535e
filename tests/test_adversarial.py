"""Hostile submissions: the grader must contain every attack and judge it, and only it.

Each entry of tests/adversarial/attacks.py is the reference solutions with ONE attack in
ONE module. Grading it (hidden cases on, GRADER_SECRET set) must:

1. finish normally with a result listing every check of what was graded;
2. cost the attacked checks all their points, with the expected status;
3. leave every other check with full marks;
4. leave a correct control submission, graded before and after, with full marks;
5. create or change no file outside the run's temporary folder, and leave none of the
   grader's own temporary folders behind;
6. leave no process of the attack behind;
7. end within the attack's deadline (a course copy with task_seconds 2, import_seconds 3).

An attack the grader does not contain today carries ``weakness``: its test is an
xfail(strict=True) that fails only on the attacked checks' expectation (NotContained), so
any other broken guarantee still fails it, and it turns into a failure once fixed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import py_compile
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from grader.checks import CATALOGUE, status
from grader.course import Course, Limits as CourseLimits, load_course
from grader.grade import Options, grade
from grader.report.gradescope import to_gradescope
from grader.report.text import check_lines
from grader.results import SubmissionResult
from grader.sandbox.run import run_uids

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import attacks as catalogue  # noqa: E402

from attacks import ATTACKS, EVERY, LIMIT_BUSTERS, Attack  # noqa: E402

RELU_TABLE = catalogue.hard_coded_relu_table()

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
MODULES = ("activations", "initializers", "clipping", "backward")  # with limit busters
ATTACKABLE = MODULES + ("diagnostics", "fixes", "training")
SECRET_ENV = "GRADER_SECRET"
SECRET = "advx-s3cret-5f1c0e9a27d4"  # fixed: the same hidden cases on every run
STUDENT = "advx"
SMALL = CourseLimits(task_seconds=2, import_seconds=3, memory_mb=1024, cpu_seconds=20)
SHARED_DIRS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), ROOT.parent)


class NotContained(AssertionError):
    """The attacked checks were not judged as expected: the attack got through."""


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def grader_tmp(tmp_path_factory):
    """A private temporary root for the grader's run folders (world-traversable, as /tmp),
    so that leftovers are ours to see, whatever else runs on the machine."""
    tmp_path_factory.getbasetemp()  # pytest's own temporary folders stay where they are
    path = Path(tempfile.mkdtemp(prefix="advx-grader-tmp-", dir="/tmp"))
    path.chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(path))
        mp.setenv(SECRET_ENV, SECRET)
        yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def course() -> Course:
    full = load_course(ROOT / "course.yaml", CATALOGUE)
    return dataclasses.replace(full, limits=SMALL)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    control = tmp_path_factory.mktemp("control")
    for file in SOLUTIONS.glob("*.py"):
        shutil.copy(file, control / file.name)
    return {"control": control, "results": tmp_path_factory.mktemp("results")}


@pytest.fixture(scope="module")
def control_before(grader_tmp, course, folders):
    """The control submission graded once, full course, before any attack."""
    result = _grade(folders["control"], course, None)
    assert result.score == result.max_score, _summary(result)
    return _statuses(result)


@pytest.fixture
def listener():
    """Loopback sockets an attack aims at; records whatever reaches them."""
    sockets, events = [], []
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    sockets.append(tcp)
    port6 = 9  # discard: refused when ::1 is absent
    if socket.has_ipv6:
        try:
            tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            tcp6.bind(("::1", 0))
            tcp6.listen(8)
            sockets.append(tcp6)
            port6 = tcp6.getsockname()[1]
        except OSError:
            pass
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix_name = f"advx-unix-{os.getpid()}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0" + unix_name)
    unix.listen(8)
    sockets += [udp, unix]
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            ready, _, _ = select.select(sockets, [], [], 0.1)
            for s in ready:
                if s is udp:
                    data, addr = udp.recvfrom(1024)
                    events.append(("udp", addr, data))
                else:
                    conn, addr = s.accept()
                    events.append(("connect", addr, s.family))
                    conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield {"PORT": tcp.getsockname()[1], "PORT6": port6, "UDP_PORT": udp.getsockname()[1],
               "UNIX_NAME": unix_name, "HOST_IP": _host_ip(), "events": events}
    finally:
        stop.set()
        thread.join(2.0)
        for s in sockets:
            s.close()


def _host_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


# ------------------------------------------------------------------------------ helpers

def _grade(folder: Path, course: Course, exercise: str | None) -> SubmissionResult:
    return grade(folder, course, Options(exercise=exercise, secret=SECRET.encode(),
                                         student_id=STUDENT))


def _statuses(result: SubmissionResult) -> dict[str, list[str]]:
    return {c.name: [case.status for case in c.cases] for c in result.checks}


def _summary(result: SubmissionResult) -> str:
    return "\n".join(f"--- {c.name} {c.score:g}/{c.max_score:g}\n"
                     + "\n".join(check_lines(c, cases=2)) for c in result.checks if not c.passed) \
        or "(every check passed)"


def _all_modules(course: Course) -> tuple[str, ...]:
    return tuple(e.module for e in course.exercises)


def _course_checks(course: Course, modules) -> list[str]:
    return [f"{e.module}.{c.function}" for e in course.exercises if e.module in modules
            for c in e.checks]


def _marker(attack: Attack) -> str:
    return f"advx{ATTACKS.index(attack):02d}x"  # a process name: 15 characters at most


def _context(attack: Attack, folders: dict, grader_tmp: Path, extra: dict) -> dict:
    return {"MARKER": _marker(attack), "REPO": ROOT, "RESULTS": folders["results"],
            "CONTROL": folders["control"], "GRADER_TMP": grader_tmp, "TEST_PID": os.getpid(),
            "SECRET_ENV": SECRET_ENV, "RELU_TABLE": RELU_TABLE,
            **{k: v for k, v in extra.items() if k != "events"}}


def build_submission(attack: Attack, folder: Path, context: dict) -> Path:
    folder.mkdir()
    for file in SOLUTIONS.glob("*.py"):
        shutil.copy(file, folder / file.name)
    solution = (SOLUTIONS / f"{attack.module}.py").read_text()
    (folder / f"{attack.module}.py").write_text(attack.source(solution, context))
    for name, text in attack.files.items():
        (folder / name).write_text(catalogue.render(text, context))
    if attack.pyc:
        _ship_pyc(attack.module, folder, solution)
    return folder


def _ship_pyc(module: str, folder: Path, solution: str) -> None:
    """Bytecode of a wrong module where Python would look first: __pycache__ (unchecked
    hash, never compared with the source) and a sourceless <module>.pyc beside it."""
    wrong = folder.parent / f"{folder.name}-wrong"
    wrong.mkdir()
    source = wrong / f"{module}.py"
    source.write_text(catalogue.pyc_module_source(solution))
    cached = Path(importlib.util.cache_from_source(str(folder / f"{module}.py")))
    cached.parent.mkdir()
    py_compile.compile(str(source), cfile=str(cached), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    py_compile.compile(str(source), cfile=str(folder / f"{module}.pyc"), doraise=True)
    shutil.rmtree(wrong)


def _tree(root: Path, skip=(".git", ".pytest_cache")) -> dict:
    """Every file and folder under ``root`` with what would show a change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames:
            out[os.path.join(dirpath, name)] = ("dir",)
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out[path] = (st.st_mtime_ns, st.st_size, st.st_mode, st.st_uid)
    return out


def _top(folder: Path) -> dict:
    out = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    for name in names:
        try:
            st = os.lstat(folder / name)
        except OSError:
            continue
        kind = "dir" if os.path.isdir(folder / name) else (st.st_mtime_ns, st.st_size)
        out[name] = (kind, st.st_uid)
    return out


class FileGuard:
    """Snapshots of the places an attack could write to; ``changes()`` says what moved.

    Folders that are ours (the repository, the submissions, the results folder) must not
    change at all. Shared folders (/tmp, /var/tmp, /dev/shm, the repository's parent),
    where other programs on the machine may write too (another grader's grader-run-*),
    must get no entry owned by one of our grader's run uids or named with the attack's
    marker. The grader's own run folders go to a private temporary root (see grader_tmp),
    which must be empty again after every grading.
    """

    def __init__(self, strict: list[Path], grader_tmp: Path, marker: str,
                 grader_pid: int | None = None):
        self.strict, self.grader_tmp, self.marker = strict, grader_tmp, marker
        self.uids = _run_uids(os.getpid() if grader_pid is None else grader_pid)
        self.before = self._take()

    def _take(self):
        return ({root: _tree(root) for root in self.strict},
                {folder: _top(folder) for folder in SHARED_DIRS})

    def changes(self) -> list[str]:
        found = []
        before_strict, before_shared = self.before
        after_strict, after_shared = self._take()
        for root in self.strict:
            old, new = before_strict[root], after_strict[root]
            found += [f"created {p}" for p in sorted(set(new) - set(old))]
            found += [f"removed {p}" for p in sorted(set(old) - set(new))]
            found += [f"changed {p}" for p in sorted(set(old) & set(new)) if old[p] != new[p]]
        for folder in SHARED_DIRS:
            old, new = before_shared[folder], after_shared[folder]
            for name, (kind, uid) in new.items():
                suspicious = (uid in self.uids or self.marker in name
                              or "advx" in name and not name.startswith("advx-grader-tmp"))
                if suspicious and old.get(name) != (kind, uid):
                    found.append(f"created or changed {folder / name} (uid {uid})")
        left = sorted(os.listdir(self.grader_tmp))
        found += [f"the grader left {self.grader_tmp / name} behind" for name in left]
        return found


def _processes() -> list[tuple[int, int, str, str]]:
    """(pid, real uid, name, command line) of every process, read from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8",
                                                                                  "replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        out.append((int(entry.name), int(fields["Uid"].split()[0]), fields["Name"].strip(),
                    cmdline))
    return out


def _run_uids(grader_pid: int) -> range:
    """The per-run uids a grader process with this pid hands out (grader/sandbox/uids.py)."""
    return run_uids(grader_pid)


def survivors(marker: str, grader_pid: int, wait: float = 3.0) -> list[str]:
    """Processes of the attack still alive after grading: named with its marker, or running
    as one of the grader's run uids. Waits for the kernel to finish a teardown; whatever is
    left is killed (by pid: they are this test's own) and reported."""
    uids = _run_uids(grader_pid)
    deadline = time.monotonic() + wait
    while True:
        left = [p for p in _processes()
                if (marker in p[2] or marker in p[3] or p[1] in uids) and p[0] != os.getpid()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid, *_ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return [f"pid {pid} uid {uid} {name!r} {cmd[:80]!r}" for pid, uid, name, cmd in left]


def secret_places(result: SubmissionResult) -> list[str]:
    """Where the course secret shows in what grading produced (it never may)."""
    texts = {"results JSON": json.dumps(to_gradescope(result))}
    for e in result.exercises:
        texts[f"{e.module} stdout"] = e.stdout
        texts[f"{e.module} stderr"] = e.stderr
    texts["case messages"] = "\n".join(c.message + c.hint + c.where for ch in result.checks
                                        for c in ch.cases)
    return [where for where, text in texts.items() if SECRET in text]


def attacked_problems(attack: Attack, result: SubmissionResult, course: Course) -> list[str]:
    """How the attacked checks differ from the attack's expectation."""
    checks = {c.name: c for c in result.checks}
    expected = (dict.fromkeys(_course_checks(course, (attack.module,)), attack.fails[EVERY])
                if EVERY in attack.fails else attack.fails)
    problems = []
    for name, want in expected.items():
        check = checks[name]
        if check.passed or check.score != 0:
            problems.append(f"{name}: scored {check.score:g}/{check.max_score:g}, expected 0 "
                            f"with {want!r}")
            continue
        got = check.failures[0].status
        if got != want:
            problems.append(f"{name}: first failing case is {got!r} "
                            f"({check.failures[0].message[:300]!r}), expected {want!r}")
        text = "\n".join(check_lines(check, cases=3))
        problems += [f"{name}: {pattern!r} not in its feedback:\n{text[:600]}"
                     for pattern in attack.feedback.get(name, []) if not re.search(pattern, text)]
        if attack.public_pass:
            public_failed = [c.label for c in check.cases if not c.hidden and not c.passed]
            hidden_passed = [c.label for c in check.cases if c.hidden and c.passed]
            if public_failed or hidden_passed:
                problems.append(f"{name}: public cases failing {public_failed}, hidden "
                                f"passing {hidden_passed}: expected the reverse")
    return problems


# ------------------------------------------------------------------------------ the attacks

def test_catalogue_is_well_formed():
    names = [a.name for a in ATTACKS]
    assert len(ATTACKS) >= 30 and len(names) == len(set(names))
    statuses = {v for k, v in vars(status).items() if k.isupper()}
    for attack in ATTACKS:
        assert attack.module in ATTACKABLE, attack.name
        assert attack.scope in ("module", "course"), attack.name
        assert attack.code or attack.files or attack.pyc, attack.name
        for check, want in attack.fails.items():
            assert want in statuses, f"{attack.name}: {want!r}"
            assert check == EVERY or check.startswith(attack.module + "."), attack.name
            assert check == EVERY or check.split(".", 1)[1] in CATALOGUE[attack.module]
        for check in attack.feedback:
            assert check in attack.fails or EVERY in attack.fails, attack.name
        assert "sitecustomize.py" not in attack.files or attack.scope == "course"


def _params():
    out = []
    for attack in ATTACKS:
        marks = [pytest.mark.xfail(strict=True, raises=NotContained,
                                   reason=f"not contained: {attack.weakness}")] \
            if attack.weakness else []
        out.append(pytest.param(attack, id=attack.name, marks=marks))
    return out


@pytest.mark.parametrize("attack", _params())
def test_attack_is_contained(attack: Attack, grader_tmp, course, folders, control_before,
                             tmp_path, request):
    extra = request.getfixturevalue("listener") if "listener" in attack.needs else {}
    context = _context(attack, folders, grader_tmp, extra)
    submission = build_submission(attack, tmp_path / "submission", context)
    scope = (attack.module,) if attack.scope == "module" else _all_modules(course)
    exercise = attack.module if attack.scope == "module" else None
    planted = [Path(catalogue.render(p, context)) for p in attack.planted]
    guard = FileGuard([ROOT, submission, folders["control"], folders["results"]], grader_tmp,
                      context["MARKER"])

    start = time.monotonic()
    try:
        result = _grade(submission, course, exercise)  # (1) finishes, no exception
    finally:
        elapsed = time.monotonic() - start
        left = survivors(context["MARKER"], os.getpid())
        leaked_plants = [p for p in planted if p.exists()]
        for path in leaked_plants:  # never leave a plant behind, even when the test fails
            path.unlink()

    # (1) a full result: every check of what was graded, each with its cases
    assert [c.name for c in result.checks] == _course_checks(course, scope)
    assert all(c.cases for c in result.checks)
    # (6) no process left, (5) no file outside the run's folder, (7) within the deadline
    assert not left, f"processes of the attack survived grading: {left}"
    changes = guard.changes()
    assert not changes, "files outside the run's folder:\n" + "\n".join(changes)
    assert not leaked_plants, f"planted files existed after grading: {leaked_plants}"
    assert elapsed <= attack.deadline, f"grading took {elapsed:.1f} s (> {attack.deadline} s)"
    # the secret never shows
    assert not secret_places(result), f"the course secret shows in {secret_places(result)}"
    if "listener" in attack.needs:
        time.sleep(0.3)
        assert not extra["events"], f"the attack reached the test's sockets: {extra['events']}"
    # (3) every check the attack does not aim at keeps full marks
    attacked = set(_course_checks(course, (attack.module,))) if EVERY in attack.fails \
        else set(attack.fails)
    spoiled = [c for c in result.checks if c.name not in attacked
               and (not c.passed or c.score != c.max_score)]
    assert not spoiled, "untouched checks lost marks:\n" + _summary(result)
    # (4) the control submission, graded again, is unaffected
    after = _grade(folders["control"], course, exercise)
    assert after.score == after.max_score, "control after the attack:\n" + _summary(after)
    assert _statuses(after) == {k: v for k, v in control_before.items() if k in _statuses(after)}
    # (2) the attacked checks: all their points lost, with the expected status
    problems = attacked_problems(attack, result, course)
    if problems:
        raise NotContained(f"{attack.description}\n" + "\n".join(problems))


def test_pyc_attack_would_work_outside_the_sandbox(tmp_path):
    """The shipped bytecode is a real threat: imported from the folder itself, the
    unchecked-hash __pycache__ file wins over the correct .py, and without the .py the
    sourceless .pyc is imported; both are the wrong module (mse_loss gives 0.0)."""
    attack = next(a for a in ATTACKS if a.pyc)
    folder = build_submission(attack, tmp_path / "submission", {})
    probe = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import backward; "
             "print(backward.mse_loss(np.ones(2), np.zeros(2))[0])")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for step in ("with the source", "sourceless"):
        if step == "sourceless":
            (folder / f"{attack.module}.py").unlink()
            shutil.rmtree(folder / "__pycache__")
        out = subprocess.run([sys.executable, "-c", probe, str(folder)], capture_output=True,
                             text=True, timeout=60, env=env)
        assert out.stdout.strip() == "0.0", f"{step}: {out.stdout} {out.stderr}"


# ------------------------------------------------------------------------------ the command line

def test_cli_writes_a_complete_json_when_every_module_blows_a_limit(grader_tmp, course, folders,
                                                                   tmp_path):
    marker = "advxclimark"
    submission = tmp_path / "submission"
    submission.mkdir()
    for module in MODULES:
        solution = (SOLUTIONS / f"{module}.py").read_text()
        code = catalogue.render(LIMIT_BUSTERS[module], {"MARKER": marker,
                                                         "SECRET_ENV": SECRET_ENV})
        (submission / f"{module}.py").write_text(solution + "\n\n" + code)
    data = yaml.safe_load((ROOT / "course.yaml").read_text())
    data["limits"] = dataclasses.asdict(SMALL)
    course_file = tmp_path / "course.yaml"
    course_file.write_text(yaml.safe_dump(data))
    out = folders["results"] / "cli" / "out.json"
    out.parent.mkdir(exist_ok=True)  # grade makes only the file (tests/test_out_paths.py)
    guard = FileGuard([ROOT, submission, folders["control"]], grader_tmp, marker)
    env = {**os.environ, SECRET_ENV: SECRET, "TMPDIR": str(grader_tmp)}

    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(submission), "--json",
                             str(out), "--course", str(course_file), "--student-id", STUDENT],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    guard.uids = _run_uids(proc.pid)  # the command hands out its own run uids
    try:
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        elapsed = time.monotonic() - start
        left = survivors(marker, proc.pid)

    assert proc.returncode == 0, stderr
    report = json.loads(out.read_text())
    names = [t["name"].split(":")[0] for t in report["tests"]]
    # The modules the catalogue has no limit buster for are missing: they score 0 too.
    assert names == _course_checks(course, _all_modules(course))
    assert report["max_score"] == course.max_score and report["score"] == 0
    for test in report["tests"]:
        assert test["score"] == 0 and test["status"] == "failed" and test["output"], test
    outputs = {t["name"].split(":")[0]: t["output"] for t in report["tests"]}
    assert all("timeout" in outputs[f"activations.{f}"] for f in ("sigmoid", "silu_grad"))
    assert "memory limit" in outputs["initializers.he_normal"]
    assert "SIGSEGV" in outputs["clipping.global_norm"]
    assert "exited early" in outputs["clipping.clip_grad_norm"]
    assert "File too large" in outputs["clipping.clip_grad_value"] \
        or "output limit" in outputs["clipping.clip_grad_value"]
    assert "printed more than" in outputs["backward.mse_loss"]
    for name in ("linear_forward", "linear_backward"):  # the second starts with the first
        assert "timeout" in outputs[f"backward.{name}"]
    for name in ("mlp_forward", "mlp_backward"):
        assert "returned more than 64 MiB" in outputs[f"backward.{name}"]
    for where, text in (("json", out.read_text()), ("stdout", stdout), ("stderr", stderr)):
        assert SECRET not in text, f"the secret shows in the command's {where}"
    assert sorted(os.listdir(out.parent)) == ["out.json"]
    assert not left, f"processes survived: {left}"
    changes = guard.changes()
    assert not changes, "\n".join(changes)
    assert elapsed < 45, f"grading took {elapsed:.1f} s"


# ------------------------------------------------------------------------------ after everything

def test_zz_control_after_every_attack(grader_tmp, course, folders, control_before):
    """The full-course control, graded again once every attack has run, is unchanged."""
    result = _grade(folders["control"], course, None)
    assert result.score == result.max_score, _summary(result)
    assert _statuses(result) == control_before
