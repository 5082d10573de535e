"""The reply memo is bounded by bytes: a student who returns a new 48 MiB array for every
public case can neither keep gigabytes alive for the rest of a batch, nor push one
grading past a bounded peak (a submission's replies together are capped)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from grader.memo import IdentityMemo, ReplyMemo

ROOT = Path(__file__).resolve().parents[2]

HOARD = """
import gc, json, resource
from pathlib import Path
from grader.checks import CATALOGUE
from grader.course import load_course
from grader.grade import Options, grade_files
from grader.sandbox import run

def rss_mib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20

import os
course = load_course(Path("course.yaml"), CATALOGUE)
source = Path("solutions/activations.py").read_text() + "\\nimport numpy as _np\\n"
for name in ("sigmoid", "tanh", "relu", "elu"):  # 6 public cases each: 24 x 48 MiB
    source += f"\\n\\ndef {name}(*args, **kwargs):\\n    return _np.random.rand(6 << 20)\\n"
before = rss_mib()
statuses = []
for student in ("s1", "s2", "s3"):
    result = grade_files({"activations.py": source.encode()}, student, student, course,
                         Options(exercise="activations"))
    statuses.append({c.name: [(k.status, k.message) for k in c.cases] for c in result.checks})
del result
gc.collect()
memo = run._replies
print(json.dumps({
    "kept": rss_mib() - before,
    "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
    "memo_bytes": getattr(memo, "bytes", None),
    "memo_cap": getattr(run, "REPLIES_BYTES", None),
    "statuses": statuses[-1],
}))
"""


def test_big_replies_are_not_hoarded_and_the_peak_is_bounded():
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(HOARD)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    import json
    figures = json.loads(out.stdout.splitlines()[-1])
    # Before: 3.2 GB peak and 3.1 GiB kept after three such students.
    assert figures["kept"] < 100, figures["kept"]
    assert figures["peak"] < 700, figures["peak"]
    assert figures["memo_bytes"] is not None and figures["memo_bytes"] <= figures["memo_cap"]
    sigmoid = figures["statuses"]["activations.sigmoid"]
    assert sigmoid[0][0] == "wrong shape"
    stopped = [m for cases in figures["statuses"].values() for s, m in cases
               if s == "output limit"]
    assert any("returned more than 128 MiB of data in all" in m for m in stopped), figures


class Value:
    """A stand-in outcome: weakly referable, like TaskOutcome."""


def test_a_reply_memo_keeps_no_big_reply_and_stays_under_its_byte_cap():
    memo = ReplyMemo(item_bytes=1000, total_bytes=5000, per_key=3)
    keys = [(object(),) for _ in range(4)]
    big = b"x" * 1001
    memo.add(keys[0], big, "big")
    assert memo.find(keys[0], big) is None and memo.bytes == 0
    for n in range(20):  # 20 replies of 900 bytes (+ overhead): only the latest few stay
        memo.add(keys[n % 4], bytes([n]) * 900, n)
        assert memo.bytes <= 5000
    assert memo.find(keys[3], bytes([19]) * 900) == 19
    assert memo.find(keys[0], bytes([0]) * 900) is None  # the oldest went first
    assert len(memo) == 5000 // (900 + ReplyMemo.OVERHEAD)


def test_a_reply_memo_keeps_the_most_recently_used_replies_of_a_key():
    memo = ReplyMemo(item_bytes=100, total_bytes=10_000, per_key=2)
    key = (object(),)
    memo.add(key, b"a", 1)
    memo.add(key, b"b", 2)
    assert memo.find(key, b"a") == 1  # "a" is now the most recently used
    memo.add(key, b"c", 3)
    assert memo.find(key, b"b") is None
    assert (memo.find(key, b"a"), memo.find(key, b"c")) == (1, 3)
    assert memo.find((object(),), b"a") is None  # another key, even with the same bytes


def test_a_weak_identity_memo_lives_no_longer_than_its_object():
    memo = IdentityMemo(weak=1)
    case, outcome = object(), Value()
    assert memo.get((case, outcome), lambda: "judged") == "judged"
    assert memo.get((case, outcome), lambda: "again") == "judged"
    assert len(memo) == 1
    del outcome
    assert len(memo) == 0  # the judgment of a reply goes with the reply
