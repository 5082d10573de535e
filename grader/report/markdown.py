"""Per-student feedback as Markdown (what `grader batch` writes beside results.json)."""

from __future__ import annotations

from grader.report.text import check_lines, next_step, printed_lines
from grader.results import SubmissionResult


def feedback_markdown(result: SubmissionResult) -> str:
    cases = "public and hidden cases" if result.hidden_cases else "public cases"
    out = [f"# {result.course_title}: feedback for {result.student_id}", "",
           f"**Score: {result.score:g} / {result.max_score:g}** (graded on {cases})", ""]
    if result.notes:
        out += ["How your submission was read:", "", *(f"- {note}" for note in result.notes), ""]
    for exercise in result.exercises:
        out += [f"## {exercise.title} ({exercise.score:g} / {exercise.max_score:g})", "",
                "| function | points | result |", "|---|---|---|"]
        for check in exercise.checks:
            verdict = "passed" if check.passed else check.failures[0].status
            out.append(f"| `{check.function}` | {check.score:g} / {check.max_score:g} "
                       f"| {verdict} |")
        out.append("")
        for check in exercise.checks:
            if not check.passed:
                out += [f"### `{check.name}`", "", "```", *check_lines(check, cases=2), "```", ""]
            elif check.notes:
                out += [f"Note on `{check.name}`:", "", *(f"- {n}" for n in check.notes[:3]),
                        ""]
        if not result.hidden_cases:
            printed = printed_lines(exercise, most=20)
            if printed:
                out += ["```", *printed, "```", ""]
    out.append(next_step(result))
    return "\n".join(out) + "\n"
