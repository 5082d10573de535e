"""Notes: what a passed case says about right values that came with a warning or an overflow.

Every report shows them under the passed check, once each, public cases' first, escaped
where the format needs it; a failing check's feedback stays about its failures.
"""

from __future__ import annotations

from grader.checks import status
from grader.checks.model import CaseResult
from grader.report.gradescope import to_gradescope
from grader.report.html import submission_html
from grader.report.markdown import feedback_markdown
from grader.report.text import check_lines, render
from grader.results import CheckResult, ExerciseResult, SubmissionResult

NASTY = '<script>alert("owned")</script>'
PUBLIC = f"elu_grad warned (RuntimeWarning: {NASTY}) on large |z|; no marks are lost."
HIDDEN = "elu_grad warned on a hidden case; no marks are lost."


def _result() -> SubmissionResult:
    warned = CheckResult("activations", "elu_grad", "", 1.0, 1.0, (
        CaseResult("hidden case 1", status.PASSED, hidden=True, note=HIDDEN),
        CaseResult("large |z|", status.PASSED, note=PUBLIC),
        CaseResult("hidden case 2", status.PASSED, hidden=True, note=HIDDEN),
        CaseResult("kink", status.PASSED)))
    failing = CheckResult("activations", "relu", "", 0.0, 1.0, (
        CaseResult("kink", status.WRONG, "relu is wrong at z = 0"),
        CaseResult("large |z|", status.PASSED, note="relu warned; no marks are lost.")))
    plain = CheckResult("activations", "tanh", "", 1.0, 1.0, (CaseResult("a", "passed"),))
    return SubmissionResult("sub", "s1", "Course", (ExerciseResult(
        "activations", "activations", "Activations", (warned, failing, plain)),), True)


def test_a_check_keeps_each_note_once_public_ones_first():
    warned = _result().checks[0]
    assert warned.passed and warned.notes == (PUBLIC, HIDDEN)
    assert _result().checks[2].notes == ()


def test_the_terminal_shows_a_passed_check_s_note_under_it():
    text = render(_result())
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "✓ elu_grad" in line)
    assert lines[at + 1].strip() == f"note: {PUBLIC}"
    assert "(+1 more note)" in lines[at + 2]
    assert HIDDEN in render(_result(), verbose=True)


def test_a_failing_check_s_feedback_is_about_its_failures():
    failing = _result().checks[1]
    assert not any("note" in line for line in check_lines(failing, cases=3))


def test_gradescope_output_and_markdown_carry_the_notes():
    tests = {t["name"]: t for t in to_gradescope(_result())["tests"]}
    output = tests["activations.elu_grad"]["output"]
    assert output.startswith("All 4 cases passed, 2 hidden.") and f"note: {PUBLIC}" in output
    assert "note" not in tests["activations.tanh"]["output"]
    markdown = feedback_markdown(_result())
    assert "Note on `activations.elu_grad`:" in markdown and f"- {PUBLIC}" in markdown


def test_html_shows_the_notes_escaped_and_opens_the_passed_list():
    text = submission_html(_result())
    assert NASTY not in text and "&lt;script&gt;" in text
    assert '<details class="passed" open>' in text
    assert text.count('class="note"') == 2
