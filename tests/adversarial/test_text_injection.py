"""Hostile text from a submission: it must not stop a batch, reach a terminal or forge a report.

A student controls exception messages and printed output. Before the fix, a lone
surrogate in a message (``raise ValueError("\\ud800")``) crashed the batch worker's
rendering with UnicodeEncodeError (batch exited 1 with no gradebook, on every rerun);
reports carried raw ESC characters (an OSC 8 hyperlink, a screen clear) to whoever
opened them in a terminal; and a message that closed the Markdown code fence put a fake
score, a heading, an image and a link into ``feedback.md`` and the class's ``summary.md``.
Each test below runs the real commands on such a submission beside a correct one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
ENV = {**os.environ, "GRADER_SECRET": "text-injection-secret", "PYTHONPATH": str(REPO)}

# The message's first line is what summary.md quotes; the rest tries to leave the fence.
INJECTION = ("x](http://evil.example/phish) <img src=http://evil.example/t.png> "
             "alice@evil.example www.evil.example ``` "
             "\\n```\\n\\n**Score: 70 / 70**\\n# You passed\\n"
             "<img src=http://evil.example/track.png>\\n[login](http://evil.example)\\n"
             "````````\\n| fake | row |")
HOSTILE = (SOLUTIONS / "activations.py").read_text() + f'''

def sigmoid(z):
    raise ValueError("\\ud800 lone surrogate \\x1b[2J\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07 "
                     "\\u202egnp.exe NUL\\x00 bell\\x07")

def tanh(z):
    raise ValueError("{INJECTION}")

def relu(z):
    print("\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07\\x1b[2J", "\\u202e", "a\\x00b")
    print("z" * (1 << 20))
    raise ValueError("printed")
'''

FENCE = re.compile(r"^ {0,3}(`{3,})\s*$")
SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
HEADINGS = {"# ", "## ", "### "}


def unsafe(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 0x20 and ch not in "\n\t") or 0x7f <= ord(ch) <= 0x9f
            or 0xd800 <= ord(ch) <= 0xdfff or ch in "\u202a\u202b\u202c\u202d\u202e\u2066"
            "\u2067\u2068\u2069\u200e\u200f\u2028\u2029"]


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def outside_fences(markdown: str) -> list[str]:
    """The lines Markdown reads as markup: outside fenced blocks, code spans removed."""
    out, fence = [], None
    for line in markdown.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = len(m.group(1))
        elif fence is not None:
            if m and len(m.group(1)) >= fence:
                fence = None
        else:
            out.append(SPAN.sub("", line))
    assert fence is None, "a fence is left open"
    return out


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, env=ENV,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def batch(tmp_path_factory, activations_course) -> tuple[subprocess.CompletedProcess, Path]:
    root = tmp_path_factory.mktemp("class")
    (root / "class" / "eve").mkdir(parents=True)
    (root / "class" / "eve" / "activations.py").write_text(HOSTILE)
    (root / "class" / "carol").mkdir()
    shutil.copy(SOLUTIONS / "activations.py", root / "class" / "carol")
    out = root / "out"
    return run("batch", str(root / "class"), "--course", str(activations_course),
               "--out", str(out)), out


def test_a_lone_surrogate_does_not_stop_the_batch(batch):
    proc, out = batch
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in proc.stderr
    rows = (out / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 3
    eve = json.loads((out / "students" / "eve" / "results.json").read_text())
    carol = json.loads((out / "students" / "carol" / "results.json").read_text())
    assert carol["score"] == carol["max_score"] == 16
    sigmoid = next(t for t in eve["tests"] if t["name"] == "activations.sigmoid")
    assert sigmoid["score"] == 0 and sigmoid["status"] == "failed"
    assert "exception" in sigmoid["output"] and "ValueError" in sigmoid["output"]
    # sigmoid, tanh and relu fail (and the derivatives that call them); the rest is correct
    assert 0 < eve["score"] < 16


def test_no_report_holds_a_raw_control(batch):
    _, out = batch
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for path in files:
        text = path.read_bytes().decode("utf-8")  # strict: no surrogate was written
        assert unsafe(text) == [], path
        if path.suffix == ".json":
            for s in strings(json.loads(text)):
                assert unsafe(s) == [], path  # \\u001b or \\ud800 as JSON escapes
    feedback = (out / "students" / "eve" / "feedback.md").read_text()
    assert "\\x1b]8;;http://evil\\x07click" in feedback  # shown, not acted on
    assert "\\u202egnp.exe" in feedback


@pytest.mark.parametrize("name", ["students/eve/feedback.md", "summary.md"])
def test_markdown_cannot_be_forged(batch, name):
    _, out = batch
    markdown = (out / name).read_text()
    assert "**Score: 70 / 70**" in markdown or name == "summary.md"  # the text is there...
    for line in outside_fences(markdown):  # ...but never as markup
        assert "You passed" not in line and "Score: 70 / 70" not in line
        assert "<" not in line and "](" not in line and "http" not in line, line
        assert "evil" not in line and "fake" not in line, line
        if line.startswith("#"):
            assert line[:line.index(" ") + 1] in HEADINGS, line


@pytest.mark.parametrize("name", ["students/eve/feedback.md", "summary.md"])
def test_markdown_renders_no_student_markup(batch, name):
    """With GitHub's own renderer, where it is installed (it is not a dependency)."""
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options
    _, out = batch
    html = cmarkgfm.github_flavored_markdown_to_html((out / name).read_text(),
                                                     options=Options.CMARK_OPT_UNSAFE)
    assert "<img" not in html and "<a " not in html
    assert "evil" not in "".join(re.findall(r"<h\d>(.*?)</h\d>", html))
    assert "<td>fake</td>" not in html


def test_html_reports_escape_student_text(batch):
    _, out = batch
    for path in (out / "students" / "eve" / "feedback.html", out / "report.html"):
        html = path.read_text()
        assert "<img src=http://evil" not in html and 'href="http://evil' not in html
    assert "&lt;img src=http://evil" in (out / "students" / "eve" / "feedback.html").read_text()


def test_check_prints_no_escape_to_the_terminal(tmp_path, activations_course):
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "activations.py").write_text(HOSTILE)
    proc = run("check", str(tmp_path / "eve"), "--course", str(activations_course),
               "--no-color", "-v")
    assert proc.returncode in (0, 1), proc.stderr.decode(errors="replace")[-2000:]
    text = proc.stdout.decode("utf-8")  # strict
    assert unsafe(text) == [] and unsafe(proc.stderr.decode("utf-8")) == []
    assert "ValueError" in text and "\\x1b" in text
    assert len(proc.stdout) < 200_000  # the 1 MB line is cut


def test_gradescope_json_is_clean(tmp_path, activations_course):
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "activations.py").write_text(HOSTILE)
    out = tmp_path / "results.json"
    proc = run("grade", str(tmp_path / "eve"), "--course", str(activations_course), "--public-only",
               "--json", str(out))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    data = json.loads(out.read_bytes().decode("utf-8"))
    for s in strings(data):
        assert unsafe(s) == []
    assert "\\x1b]8;;http://evil" in data["output"]  # printed output, shown escaped
    assert 0 < data["score"] < 16


def test_notebook_names_and_tags_are_made_safe_in_notes():
    from grader.submission import assemble
    bad_tag = json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "a", "outputs": [],
                   "metadata": {"tags": ["module:\x1b]8;;http://evil\x07x\u202e"]},
                   "source": "%%bash\n\x1b[2J"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    modules = assemble({"\x1b[2Jeve\u202e.ipynb": b"{not json", "tags.ipynb": bad_tag},
                       ["activations"])
    text = "\n".join([*modules.notes, *modules.missing.values()])
    assert unsafe(text) == []
    assert "\\x1b[2Jeve\\u202e.ipynb" in text and "\\x1b]8;;http://evil" in text


def test_an_unreadable_submissions_reason_is_fenced():
    from grader.batch.render import unreadable
    reason = "[login](http://evil.example).zip: not a zip\n# You passed\n<img src=x>\n```"
    files = dict(unreadable("eve", "eve.zip", "h", "c", reason, 16.0, ["activations"]).files)
    markdown = files["feedback.md"].decode()
    assert outside_fences(markdown) == ["# Not graded", "", ""]
    assert "[login](http://evil.example).zip" in markdown
