"""The Gradescope results format (what `grader grade --json` writes)."""

from __future__ import annotations

from grader.report.text import check_lines, printed_lines
from grader.results import SubmissionResult


def to_gradescope(result: SubmissionResult) -> dict:
    tests = []
    for check in result.checks:
        name = f"{check.name}: {check.title}" if check.title else check.name
        tests.append({
            "name": name,
            "score": check.score,
            "max_score": check.max_score,
            "status": check.status,
            "output": "\n".join(check_lines(check, cases=3)),
        })
    hidden = "public and hidden cases" if result.hidden_cases else "public cases only"
    output = [f"{result.course_title}: graded on {hidden}."]
    output += [f"note: {note}" for note in result.notes]
    if not result.hidden_cases:
        # With hidden cases, printed output could carry hidden inputs back out.
        output += [line for e in result.exercises for line in printed_lines(e, most=50)]
    return {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": round(result.seconds, 3),
        "output": "\n".join(output),
        "tests": tests,
    }
