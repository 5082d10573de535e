"""What a student's module printed reaches them, except where hidden inputs could leak."""

from grader.report.gradescope import to_gradescope
from grader.report.text import printed_lines, render
from grader.checks.model import CaseResult
from grader.results import CheckResult, ExerciseResult, SubmissionResult


def _result(stdout: str, hidden: bool) -> SubmissionResult:
    check = CheckResult("clipping", "global_norm", "", 2.0, 2.0, (CaseResult("a case", "passed"),))
    exercise = ExerciseResult("clipping", "clipping", "Gradient clipping", (check,),
                              stdout=stdout)
    return SubmissionResult("sub", "alice", "Course", (exercise,), hidden_cases=hidden)


def test_check_shows_printed_output_shortened():
    text = render(_result("\n".join(f"line {i}" for i in range(30)), hidden=False))
    assert "clipping.py printed (stdout):" in text
    assert "    | line 0" in text and "line 8" not in text
    assert "22 more lines" in text


def test_printed_output_is_cut_per_line():
    lines = printed_lines(_result("x" * 5000, hidden=False).exercises[0])
    assert max(len(line) for line in lines) < 250


def test_gradescope_output_keeps_prints_only_without_hidden_cases():
    assert "secret-looking input" in to_gradescope(
        _result("secret-looking input", hidden=False))["output"]
    assert "secret-looking input" not in to_gradescope(
        _result("secret-looking input", hidden=True))["output"]
