"""Hidden inputs never come back in the feedback, through any channel.

Hidden cases are drawn from (secret, student, check), the same at every resubmission, so
one leak builds a lookup table. Each attack below passes relu's public cases (it knows
them by hash) and quotes its hidden input through one channel; the hidden inputs are
recomputed here with the grader's own draw and must show nowhere in the JSON result or
the text, Markdown and HTML reports, while the public cases keep their full feedback.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from grader.batch.render import graded
from grader.batch.summary import Summary, summary_markdown
from grader.checks import CATALOGUE, status
from grader.checks.model import CaseResult, LayerRow
from grader.checks.redact import exception_name, redacted
from grader.course import load_course
from grader.grade import Options, _cases, grade_files
from grader.report.gradescope import to_gradescope
from grader.report.html import submission_html
from grader.report.markdown import feedback_markdown
from grader.report.text import render
from grader.sandbox.run import ErrorInfo, TaskOutcome

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"hidden-leaks-test-secret"
STUDENT = "mallory"
OPTIONS = Options(exercise="activations", secret=SECRET, student_id=STUDENT)


@lru_cache(maxsize=1)
def _course():
    return load_course(ROOT / "course.yaml")


def _hash(z: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(z).tobytes() + str(z.shape).encode()).hexdigest()


def _inputs(hidden: bool, exercise_id: str = "activations",
            function: str = "relu") -> list[np.ndarray]:
    """The first argument of each of the check's (public or hidden) cases' last call."""
    course = _course()
    exercise = course.exercise(exercise_id)
    check = next(c for c in exercise.checks if c.function == function)
    options = replace(OPTIONS, exercise=exercise_id)
    cases = _cases(exercise, check, CATALOGUE[exercise.module][function], course, options,
                   STUDENT)
    return [np.asarray(case.calls[-1].args[0]) for case in cases if case.hidden == hidden]


def token(v: float) -> str:
    """Six significant digits of |v|, as the attacks print them."""
    return f"{abs(v):.5e}"[:7].replace(".", "")


def _forbidden(*which: str) -> list[str]:
    """What of the hidden inputs must not show: six digits of each notable entry, and
    the start of its repr (four or more significant digits)."""
    out = set()
    for z in _inputs(True, *which):
        for v in z.reshape(-1).tolist():
            if abs(v) < 1e-3 or len(set(token(v))) < 3:
                continue
            out.add(token(v))
            out.add(repr(v)[:7])
    assert out, "the hidden draw gave no entry to look for"
    return sorted(out)


PRELUDE = """
import hashlib as _h, os as _os, warnings as _w
import numpy as _np
_PUBLIC = {PUBLIC}
_relu_ok = relu
def _tok(v):
    return f"{{abs(v):.5e}}"[:7].replace(".", "")
def relu(z):
    z = _np.asarray(z)
    if _h.sha256(_np.ascontiguousarray(z).tobytes() + str(z.shape).encode()).hexdigest() \\
            in _PUBLIC:
        return _relu_ok(z)
    t = _tok(float(z.reshape(-1)[0]))
"""

ATTACKS = {
    "exception message": "    raise ValueError(repr(z.tolist()))\n",
    "dict keys": "    return {str(z.tolist()): 1}\n",
    "empty shape": "    return _np.zeros((0, int(t), 0))\n",
    "wrong shape": "    return _np.zeros(tuple(int(c) + 1 for c in t[:3]))\n",
    "exit code": "    _os._exit(int(t[:2]) + 3)\n",
    "non-finite index": ("    out = _relu_ok(z).copy()\n"
                         "    out.reshape(-1)[int(t) % out.size] = _np.nan\n    return out\n"),
    "signal": "    import signal\n    _os.kill(_os.getpid(), (signal.SIGSEGV, signal.SIGABRT, "
              "signal.SIGFPE, signal.SIGBUS)[int(t[0]) % 4])\n",
    "function name": ("    g = {}\n    exec(compile(f'def f{t}():\\n    raise ValueError()\\n',"
                      " _os.path.join(_os.getcwd(), 'activations.py'), 'exec'), g)\n"
                      "    g['f' + t]()\n"),
    "file name": ("    exec(compile('raise ValueError()', _os.path.join(_os.getcwd(), "
                  "'z' + t + '.py'), 'exec'), {})\n"),
    "line number": ("    exec(compile('\\n' * (int(t) - 1) + 'raise ValueError()', "
                    "_os.path.join(_os.getcwd(), 'activations.py'), 'exec'), {})\n"),
    "exception type": "    raise type('E' + t, (Exception,), {})()\n",
    "warning text": "    _w.warn('W' + t + repr(z.tolist()))\n    return _relu_ok(z)\n",
    "printed output": "    print('P' + t, z.tolist(), flush=True)\n    return _relu_ok(z)\n",
}


def _submission(code: str) -> dict[str, bytes]:
    public = "{" + ", ".join(repr(_hash(z)) for z in _inputs(hidden=False)) + "}"
    source = (ROOT / "solutions" / "activations.py").read_text()
    return {"activations.py": (source + PRELUDE.format(PUBLIC=public) + code).encode()}


def _reports(result) -> dict[str, str]:
    data = to_gradescope(result)
    data.pop("execution_time")
    cases = [c.to_dict() for c in result.checks for c in c.cases]
    batch = graded(result, "mallory", "hash", "course")
    files = dict(batch.files)
    record = json.loads(files.pop("record.json") if "record.json" in files
                        else batch.files[-1][1])
    summary = Summary(result.max_score)
    summary.add({**record, "seconds": 0.0})
    return {"json": json.dumps(data), "cases": json.dumps(cases), "text": render(result),
            "markdown": feedback_markdown(result), "html": submission_html(result),
            "batch record": json.dumps(record["checks"]),
            "batch summary": summary_markdown(summary.to_dict(), "class"),
            **{f"batch {name}": data.decode() for name, data in files.items()
               if name.endswith((".md", ".html"))}}


def _fixed_words(case: CaseResult) -> None:
    """A hidden case says nothing its input or the student chose, beyond the status."""
    assert re.fullmatch(r"hidden case \d+", case.label)
    assert case.where == "" or re.fullmatch(r"activations\.py:\d+", case.where)
    message = case.message.replace(f" ({case.where})", "") if case.where else case.message
    assert not re.search(r"\d", message), message
    assert not re.search(r"\d", case.hint), case.hint
    assert not re.search(r"SIG[A-Z]", message), message  # the signal's name: two bits here
    assert not case.layers and not case.curve and not case.note


@pytest.mark.parametrize("channel", sorted(ATTACKS))
def test_hidden_inputs_do_not_leak(channel):
    result = grade_files(_submission(ATTACKS[channel]), "mallory", STUDENT, _course(), OPTIONS)
    relu = next(c for c in result.checks if c.function == "relu")
    public = [c for c in relu.cases if not c.hidden]
    hidden = [c for c in relu.cases if c.hidden]
    assert public and all(c.passed for c in public), [c.message for c in public]
    assert hidden
    for case in hidden:
        _fixed_words(case)
    for name, text in _reports(result).items():
        for bad in _forbidden():
            assert bad not in text, f"{channel}: hidden input digits {bad!r} in the {name} report"
    others = [c for c in result.checks if c.function != "relu" and c.module == "activations"]
    assert all(c.passed for c in others)


def test_public_cases_keep_their_feedback():
    """An error on every input: public cases quote message and where, hidden ones do not."""
    code = "    raise ValueError('boom 42 ' + repr(z.tolist()))\n"
    public = {"activations.py": ((ROOT / "solutions" / "activations.py").read_text()
                                 + "\ndef relu(z):\n" + code).encode()}
    result = grade_files(public, "mallory", STUDENT, _course(), OPTIONS)
    relu = next(c for c in result.checks if c.function == "relu")
    shown = [c for c in relu.cases if not c.hidden]
    assert all(c.status == status.EXCEPTION for c in relu.cases)
    assert all("raised ValueError: boom 42" in c.message for c in shown)
    assert all(re.fullmatch(r"activations\.py:\d+ in relu", c.where) for c in shown)
    for case in (c for c in relu.cases if c.hidden):
        _fixed_words(case)
        assert case.message.startswith("relu raised ValueError on a hidden case (activations.py:")
    line = int(shown[0].where.split(":")[1].split()[0])
    assert all(c.where == f"activations.py:{line}" for c in relu.cases if c.hidden)


def test_public_cases_keep_shape_feedback():
    public = {"activations.py": ((ROOT / "solutions" / "activations.py").read_text()
                                 + "\ndef relu(z):\n    return _np_zeros((0, 7, 0))\n"
                                 + "from numpy import zeros as _np_zeros\n").encode()}
    result = grade_files(public, "mallory", STUDENT, _course(), OPTIONS)
    relu = next(c for c in result.checks if c.function == "relu")
    assert any("(0, 7, 0)" in c.message for c in relu.cases if not c.hidden)
    assert all(c.status == status.WRONG_SHAPE for c in relu.cases)
    for case in (c for c in relu.cases if c.hidden):
        _fixed_words(case)


def test_solutions_full_marks_with_hidden_cases():
    files = {p.name: p.read_bytes() for p in (ROOT / "solutions").glob("*.py")}
    result = grade_files(files, "solutions", STUDENT, _course(),
                         Options(secret=SECRET, student_id=STUDENT, children=2))
    assert result.hidden_cases
    assert result.score == result.max_score, [
        (c.name, c.message) for ch in result.checks for c in ch.failures]


# Unit tests of the one redaction function.

def _outcome(where: str, kind: str = "ValueError") -> TaskOutcome:
    return TaskOutcome("exception", error=ErrorInfo(kind, "secret 1.2345", where))


def test_redacted_keeps_only_builtin_names_and_real_lines():
    case = CaseResult("hidden case 9 (alpha = 0.37)", status.EXCEPTION, "relu raised X: 1.2345",
                      "hint 1.2345", True, (LayerRow(1, np.nan, 1.2345, 0.5, False),),
                      "activations.py:3 in f12345", ((1.0,), (2.0,), (3.0,)), "note 1.2345")
    lines = {"activations.py": 10}
    out = redacted(case, _outcome("activations.py:3 in f12345"), "relu", 2, lines)
    assert (out.label, out.where, out.layers, out.curve, out.note) == (
        "hidden case 2", "activations.py:3", (), (), "")
    assert out.message == "relu raised ValueError on a hidden case (activations.py:3)"
    for where in ("activations.py:11 in relu", "z12345.py:1 in <module>", "other.py:1",
                  "activations.py:0", "<string>:1"):
        assert redacted(case, _outcome(where), "relu", 1, lines).where == ""
    assert exception_name("E12345") == "an exception of the submission's own class"
    assert exception_name("__import__") == "an exception of the submission's own class"
    assert exception_name("ZeroDivisionError") == "ZeroDivisionError"
    odd = replace(case, status="made up 1.2345")
    assert redacted(odd, None, "relu", 1, lines).status == status.WRONG


KEEP = """
import builtins as _b
_b._kept = []
_relu_solution = relu
def relu(z):
    _b._kept.append(repr(_np_asarray(z).tolist()))
    return _relu_solution(z)
def relu_grad(z):
    raise ValueError(" ".join(_b._kept[-3:]))
from numpy import asarray as _np_asarray
"""

LATER_MODULE = """
import builtins as _b
def mse_loss(pred, target):
    raise ValueError(" ".join(getattr(_b, "_kept", [])[-3:]))
"""


def test_no_hidden_input_reaches_a_later_public_case():
    """relu keeps every input it sees; relu_grad's and another module's public cases (whose
    messages are shown in full) quote them: public cases run before any hidden one."""
    files = {p.name: p.read_bytes() for p in (ROOT / "solutions").glob("*.py")
             if p.stem in ("activations", "backward")}
    files["activations.py"] += KEEP.encode()
    files["backward.py"] += LATER_MODULE.encode()
    options = Options(secret=SECRET, student_id=STUDENT)
    result = grade_files(files, "mallory", STUDENT, _course(), options)
    by_name = {c.name: c for c in result.checks}
    grad = [c for c in by_name["activations.relu_grad"].cases if not c.hidden]
    mse = [c for c in by_name["backward.mse_loss"].cases if not c.hidden]
    assert grad and all(c.status == status.EXCEPTION for c in grad + mse)
    assert all("relu_grad raised ValueError: " in c.message for c in grad)
    for name, text in _reports(result).items():
        for bad in _forbidden():
            assert bad not in text, f"hidden input digits {bad!r} in the {name} report"


LAYERS = """
import hashlib as _h
import numpy as _np
_PUBLIC = {PUBLIC}
_mlp_backward_ok = mlp_backward
def mlp_backward(dY_hat, cache, act_grad):
    dWs, dbs, dAs = _mlp_backward_ok(dY_hat, cache, act_grad)
    d = _np.asarray(dY_hat)
    if _h.sha256(_np.ascontiguousarray(d).tobytes() + str(d.shape).encode()).hexdigest() \\
            in _PUBLIC:
        return dWs, dbs, dAs
    dWs = [w.copy() for w in dWs]
    # the first layer's gradient norm becomes |dY_hat[0, 0]|: shown in the layer table
    dWs[0] = dWs[0] / _np.linalg.norm(dWs[0]) * abs(float(d.reshape(-1)[0]))
    return dWs, dbs, dAs
"""


def test_layer_table_shows_no_hidden_norms():
    """mlp_backward's per-layer table shows the student's norms: on a hidden case they
    would be whatever the student chose, e.g. an input's entries."""
    public = "{" + ", ".join(repr(_hash(d)) for d in _inputs(False, "backward", "mlp_backward")) + "}"
    source = (ROOT / "solutions" / "backward.py").read_text()
    files = {"backward.py": (source + LAYERS.format(PUBLIC=public)).encode()}
    options = replace(OPTIONS, exercise="backward")
    result = grade_files(files, "mallory", STUDENT, _course(), options)
    check = next(c for c in result.checks if c.function == "mlp_backward")
    assert all(c.passed for c in check.cases if not c.hidden)
    hidden = [c for c in check.cases if c.hidden]
    assert hidden and not any(c.passed for c in hidden)
    for case in hidden:
        _fixed_words(case)
    for name, text in _reports(result).items():
        for bad in _forbidden("backward", "mlp_backward"):
            assert bad not in text, f"hidden input digits {bad!r} in the {name} report"


def test_hidden_cases_after_a_lost_public_case_are_not_run():
    """Hidden cases run apart from public ones: a check whose public case ended the child
    skips its hidden cases (as in one run), a module that fails to import fails them with
    the same status, and the module's other checks keep full marks."""
    source = (ROOT / "solutions" / "activations.py").read_text()
    exits = {"activations.py": (source + "\nimport os as _os\ndef relu(z):\n"
                                         "    _os._exit(3)\n").encode()}
    result = grade_files(exits, "mallory", STUDENT, _course(), OPTIONS)
    relu = next(c for c in result.checks if c.function == "relu")
    hidden = [c for c in relu.cases if c.hidden]
    assert relu.cases[0].status == status.EXITED and "code 3" in relu.cases[0].message
    assert hidden and all(c.status == status.SKIPPED for c in hidden)
    assert all(c.passed for c in result.checks if c.function != "relu")
    broken = {"activations.py": (source + "\nraise ImportError('nope 12345')\n").encode()}
    result = grade_files(broken, "mallory", STUDENT, _course(), OPTIONS)
    cases = [c for check in result.checks for c in check.cases]
    assert all(c.status == status.IMPORT_ERROR for c in cases)
    assert all("nope 12345" in c.message for c in cases if not c.hidden)
    for case in (c for c in cases if c.hidden):
        _fixed_words(case)
