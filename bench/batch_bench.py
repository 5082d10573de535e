"""Batch grading speed: submissions per second, latency, peak memory, and the naive baseline.

    python bench/batch_bench.py [-n 40] [--jobs 2] [--timeouts]

Generates a synthetic class (correct, buggy, crashing and, with --timeouts,
infinite-looping submissions) from solutions/ and the one-mistake patches in
tests/buggy/bugs.yaml, grades it with `grader batch`'s library call, then grades
a few of the same submissions the naive way (one fresh `python -m grader grade`
per submission) and prints both, with their ratio, measured in the same run.
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

SECRET = b"bench"


def make_class(root: Path, n: int, timeouts: bool) -> dict[str, str]:
    """n submission folders; returns student id -> kind."""
    bugs = yaml.safe_load((REPO / "tests" / "buggy" / "bugs.yaml").read_text())
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


def naive(classroom: Path, count: int) -> float:
    """Seconds per submission for one fresh interpreter per submission."""
    env = {**os.environ, "GRADER_SECRET": SECRET.decode()}
    folders = sorted(p for p in classroom.iterdir() if p.is_dir())[:count]
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        for folder in folders:
            subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--json",
                            f"{out}/{folder.name}.json", "--course", str(REPO / "course.yaml")],
                           check=True, capture_output=True, env=env)
    return (time.monotonic() - start) / len(folders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="submissions in the class")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeouts", action="store_true", help="include infinite loops")
    parser.add_argument("--naive", type=int, default=6, help="submissions for the baseline")
    args = parser.parse_args()
    course_file = REPO / "course.yaml"
    course = load_course(course_file, {m: set(c) for m, c in CATALOGUE.items()})
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        classroom, results = Path(tmp) / "class", Path(tmp) / "results"
        kinds = make_class(classroom, args.n, args.timeouts)
        start = time.monotonic()
        progress, summary = run_batch(classroom, results, course, course_file.read_bytes(),
                                      SECRET, args.jobs)
        wall = time.monotonic() - start
        latencies = sorted(json.loads((results / "students" / sid / "record.json")
                                      .read_text())["seconds"] for sid in kinds)
        per_naive = naive(classroom, min(args.naive, args.n))
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    rate = args.n / wall
    mix = {k: list(kinds.values()).count(k) for k in sorted(set(kinds.values()))}
    print(f"class: {args.n} submissions {mix}, jobs {args.jobs}")
    print(f"grader batch: {rate:.2f} submissions/s ({wall:.1f} s), latency p50 "
          f"{statistics.median(latencies):.2f} s, p99 {latencies[int(0.99 * (len(latencies) - 1))]:.2f} s, "
          f"peak RSS {peak:.0f} MiB (largest single process)")
    print(f"naive (fresh interpreter per submission, sequential): {1 / per_naive:.2f} "
          f"submissions/s ({per_naive:.2f} s each)")
    print(f"ratio batch / naive: {rate * per_naive:.1f}x; mean score {summary['mean']:g}/"
          f"{summary['max_score']:g}")


if __name__ == "__main__":
    main()
