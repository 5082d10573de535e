"""`grader batch --executor dask` on a local cluster of two worker processes: the same
results as the local executor, file for file (timings aside)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_batch import COURSE, ENV, gradebook, make_class

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def _scrub(data):
    """Drop what differs from run to run: how long things took (and the record's digests
    of the files that say so)."""
    if isinstance(data, dict):
        return {k: _scrub(v) for k, v in data.items()
                if k not in ("execution_time", "seconds", "files")}
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


def _outputs(out: Path) -> dict[str, object]:
    found = {}
    for path in sorted((out / "students").rglob("*")):
        if path.suffix == ".json":
            found[str(path.relative_to(out))] = _scrub(json.loads(path.read_text()))
        elif path.suffix == ".md":
            found[str(path.relative_to(out))] = path.read_text()
    return found


@pytest.fixture(scope="module")
def cluster():
    # Worker processes, as on a real cluster: our task must survive pickling.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as local:
        yield local.scheduler_address


def test_dask_executor_gives_the_local_executors_results(tmp_path, cluster):
    classroom = make_class(tmp_path, 6)
    local, remote = tmp_path / "local", tmp_path / "dask"
    run = lambda out, *extra: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "grader", "batch", str(classroom), "--out", str(out),
         "--course", str(COURSE), *extra], capture_output=True, text=True, env=ENV, timeout=600)
    done_local = run(local, "--jobs", "2")
    done_dask = run(remote, "--executor", "dask", "--scheduler", cluster)
    assert done_local.returncode == 0, done_local.stderr
    assert done_dask.returncode == 0, done_dask.stderr
    assert gradebook(remote) == gradebook(local)
    assert _outputs(remote) == _outputs(local)
    assert len(_outputs(local)) == 8 * 3  # 8 submissions x results, record, feedback.md
    assert {p.name for p in (remote / "students" / "s000").iterdir()} == {
        "results.json", "record.json", "feedback.md", "feedback.html"}


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    classroom = make_class(tmp_path, 1)
    done = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(classroom), "--out", str(tmp_path / "o"),
         "--course", str(COURSE), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True, text=True, env={**ENV, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT":
                                             "2s"}, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0]
