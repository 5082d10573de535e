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


def test_a_cut_capture_is_not_counted_as_if_every_line_were_known():
    # What reader.Streams gives when a module printed more than the capture keeps.
    printed = "\n".join(f"line {i}" for i in range(40)) + "\n[stdout cut at 64 KiB]"
    text = render(_result(printed, hidden=False))
    assert "more output was cut (the grader keeps the first 64 KiB)" in text
    assert "32 more lines were kept" in text and "33 more lines" not in text
    assert "[stdout cut at" not in text  # the marker is not shown as a line of theirs
    short = render(_result("one line\n[stderr cut at 64 KiB]", hidden=False))
    assert "... more output was cut" in short


def test_html_says_a_cut_capture_was_cut():
    from grader.report.html import submission_html
    page = submission_html(_result("\n".join(f"l{i}" for i in range(300))
                                   + "\n[stdout cut at 64 KiB]", hidden=False))
    assert "more output was cut" in page and "cut at 64 KiB]" not in page


def _failing(n: int) -> SubmissionResult:
    cases = tuple(CaseResult(f"case {i}", "wrong value", f"wrong at case {i}") for i in range(n))
    check = CheckResult("clipping", "global_norm", "", 0.0, 2.0, cases)
    exercise = ExerciseResult("clipping", "clipping", "Gradient clipping", (check,))
    return SubmissionResult("sub", "alice", "Course", (exercise,), hidden_cases=False)


def test_verbose_check_shows_every_failing_case():
    result = _failing(8)
    brief = render(result)
    assert "wrong at case 0" in brief and "wrong at case 1" not in brief
    assert "(+7 more failing cases of 8)" in brief
    full = render(result, verbose=True)
    assert all(f"wrong at case {i}" in full for i in range(8))
    assert "more failing case" not in full
