"""Batch grading speed: submissions per second, latency, peak memory, and the naive baseline.

    python bench/batch_bench.py [-n 400] [--jobs 2] [--timeouts] [--full-course]

Generates a synthetic class (correct, buggy, crashing and, with --timeouts,
infinite-looping submissions) from solutions/ and the one-mistake patches in
tests/buggy/bugs.yaml, grades it with `grader batch`'s library call, then grades
it again with nothing reused between submissions (the runner and the judge keep
replies to public cases that many students send byte for byte; a class whose
answers all differ gets none of that), then grades a few of the same
submissions the naive way (one fresh `python -m grader grade` per submission)
and prints all three, with their ratios, measured in the same run, and the
wall time of `grader check` on one submission.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.batch.run import run_batch  # noqa: E402
from grader.checks import CATALOGUE  # noqa: E402
from grader.course import load_course  # noqa: E402
from grader.sandbox import run as run_module  # noqa: E402
from grader.sandbox.run import REPLIES_KEPT  # noqa: E402

SECRET = b"bench"


FIRST_FOUR = ("activations", "initializers", "clipping", "backward")


def course_of(modules: tuple[str, ...] | None, folder: Path) -> Path:
    """course.yaml, or a copy keeping only the exercises of ``modules`` (issue 4's target
    is stated for the course of exercises 1-4)."""
    if modules is None:
        return REPO / "course.yaml"
    data = yaml.safe_load((REPO / "course.yaml").read_text())
    data["exercises"] = [e for e in data["exercises"] if e["module"] in modules]
    path = folder / "course.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_class(root: Path, n: int, timeouts: bool,
               modules: tuple[str, ...] | None = None) -> dict[str, str]:
    """n submission folders; returns student id -> kind."""
    bugs = [bug for bug in yaml.safe_load((REPO / "tests" / "buggy" / "bugs.yaml").read_text())
            if modules is None or bug["module"] in modules]
    solutions = {p.name: p.read_text() for p in (REPO / "solutions").glob("*.py")}
    kinds = {}
    for i in range(n):
        sid = f"s{i:05d}"
        files = dict(solutions)
        kind = ("correct", "correct", "buggy", "buggy", "buggy", "crashing",
                "correct", "buggy", "correct", "timeout" if timeouts else "correct")[i % 10]
        if kind == "buggy":
            bug = bugs[i % len(bugs)]
            name = f"{bug['module']}.py"
            for old, new in bug["replace"]:
                files[name] = files[name].replace(old, new)
        elif kind == "crashing":
            files["clipping.py"] = "import os\nos._exit(3)\n" + files["clipping.py"]
        elif kind == "timeout":
            files["activations.py"] += "\n\ndef relu(z):\n    while True:\n        pass\n"
        folder = root / sid
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
        kinds[sid] = kind
    return kinds


def naive(classroom: Path, count: int, course_file: Path) -> float:
    """Seconds per submission for one fresh interpreter per submission."""
    env = {**os.environ, "GRADER_SECRET": SECRET.decode()}
    folders = sorted(p for p in classroom.iterdir() if p.is_dir())[:count]
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        for folder in folders:
            subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--json",
                            f"{out}/{folder.name}.json", "--course", str(course_file)],
                           check=True, capture_output=True, env=env)
    return (time.monotonic() - start) / len(folders)


def grade_class(classroom: Path, results: Path, course, course_file: Path, jobs: int,
                reuse: bool) -> tuple[float, list[float]]:
    """(wall seconds, per-submission latencies) of one `grader batch` run."""
    # Forked workers inherit this: with no reply kept, every reply is a new outcome, so
    # no verdict is reused either.
    run_module.REPLIES_KEPT = REPLIES_KEPT if reuse else 0
    start = time.monotonic()
    run_batch(classroom, results, course, course_file.read_bytes(), SECRET, jobs)
    wall = time.monotonic() - start
    latencies = sorted(json.loads(p.read_text())["seconds"]
                       for p in (results / "students").glob("*/record.json"))
    return wall, latencies


def cpu_split(classroom: Path, course, count: int) -> dict[str, float]:
    """CPU milliseconds per submission, by process, grading ``count`` submissions one
    after another in this process: where a submission's cost goes."""
    from grader.grade import Options, grade_files, read_submission
    from grader.sandbox import spawn

    run_module.REPLIES_KEPT = REPLIES_KEPT  # as a batch grades (grade_class may have set 0)
    folders = sorted(p for p in classroom.iterdir() if p.is_dir())[:count]
    submissions = [(f.name, read_submission(f, course).files) for f in folders]
    name, files = submissions[0]
    grade_files(files, name, "warm-up", course, Options(secret=SECRET))
    zygote = spawn._zygote.proc.pid if spawn._zygote else None
    start = (time.process_time(), run_module.child_cpu_seconds(), _process_cpu(zygote))
    for name, files in submissions:
        grade_files(files, name, name, course, Options(secret=SECRET))
    end = (time.process_time(), run_module.child_cpu_seconds(), _process_cpu(zygote))
    grader, children, forks = ((b - a) * 1000 / len(submissions) for a, b in zip(start, end))
    return {"grader process": grader, "sandboxed children": children, "zygote": forks}


def _process_cpu(pid: int | None) -> float:
    """CPU seconds a live process has used (user + system), from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_wall(course_file: Path, runs: int = 7) -> float:
    """Median wall time of `grader check solutions/` as a student runs it."""
    # As installed: bytecode cached (some environments turn the cache off for everything).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import grader.cli, grader.checks.backward"], env=env,
                   check=True)
    times = []
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "grader", "check", str(REPO / "solutions"),
                        "--course", str(course_file)], capture_output=True, check=True, cwd=REPO,
                       env=env)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="submissions in the class")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeouts", action="store_true", help="include infinite loops")
    parser.add_argument("--naive", type=int, default=6, help="submissions for the baseline")
    parser.add_argument("--full-course", action="store_true",
                        help="grade every exercise of course.yaml (default: exercises 1-4)")
    args = parser.parse_args()
    modules = None if args.full_course else FIRST_FOUR
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        course_file = course_of(modules, Path(tmp))
        course = load_course(course_file, {m: set(c) for m, c in CATALOGUE.items()})
        classroom = Path(tmp) / "class"
        kinds = make_class(classroom, args.n, args.timeouts, modules)
        wall, latencies = grade_class(classroom, Path(tmp) / "r1", course, course_file,
                                      args.jobs, reuse=True)
        # Now, before the baselines below start processes of their own: the batch process
        # (this one) and its workers, whichever grew largest.
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        wall_fresh, _ = grade_class(classroom, Path(tmp) / "r2", course, course_file,
                                    args.jobs, reuse=False)
        per_naive = naive(classroom, min(args.naive, args.n), course_file)
        split = cpu_split(classroom, course, min(40, args.n))
        check = check_wall(course_file)
    rate, rate_fresh = args.n / wall, args.n / wall_fresh
    mix = {k: list(kinds.values()).count(k) for k in sorted(set(kinds.values()))}
    graded = "exercises " + ("1-4" if modules else "1-7")
    print(f"class: {args.n} submissions {mix}, {graded}, jobs {args.jobs}, "
          f"{os.cpu_count()} cores")
    print(f"grader batch: {rate:.1f} submissions/s ({wall:.1f} s), latency p50 "
          f"{statistics.median(latencies):.3f} s, p99 "
          f"{latencies[int(0.99 * (len(latencies) - 1))]:.3f} s, peak RSS {peak:.0f} MiB "
          "(largest single process)")
    print(f"grader batch, no reply reused: {rate_fresh:.1f} submissions/s ({wall_fresh:.1f} s) "
          "(every public-case reply decoded and judged afresh, as for a class whose answers "
          "all differ)")
    print(f"naive (fresh interpreter per submission, sequential): {1 / per_naive:.2f} "
          f"submissions/s ({per_naive:.2f} s each)")
    print(f"ratio batch / naive: {rate * per_naive:.1f}x ({rate_fresh * per_naive:.1f}x with "
          "nothing reused)")
    print("CPU per submission, one at a time (ms): " + ", ".join(
        f"{name} {ms:.1f}" for name, ms in split.items()) + f"; total {sum(split.values()):.1f}")
    print(f"grader check solutions/ (wall, median of 7): {check:.2f} s")


if __name__ == "__main__":
    main()
