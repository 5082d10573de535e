"""Per-student feedback as Markdown (what `grader batch` writes beside results.json)."""

from __future__ import annotations

import re

from grader.report.text import check_lines, next_step, printed_lines
from grader.results import SubmissionResult

_TICKS = re.compile("`+")


def _longest_ticks(text: str) -> int:
    return max((len(run) for run in _TICKS.findall(text)), default=0)


def fenced(lines: list[str]) -> list[str]:
    """Lines shown verbatim: a fence longer than any backtick run inside, so no line of
    untrusted text can close it and start a heading, an image, a link or raw HTML."""
    fence = "`" * max(3, _longest_ticks("\n".join(lines)) + 1)
    return [fence, *lines, fence]


def code_span(text: str, table: bool = False) -> str:
    """Untrusted text inline, as a code span, the one inline form in which Markdown reads
    nothing (no link, autolink, image, HTML or emphasis): on one line, since block
    structure is read before spans and a new line could start a heading; delimited by
    more backticks than any run inside, padded with the spaces CommonMark strips. In a
    table row a ``|`` would end the cell, so it is escaped there (GFM unescapes it)."""
    text = " ".join(text.splitlines()) or " "
    if table:
        text = text.replace("|", "\\|")
    ticks = "`" * (_longest_ticks(text) + 1)
    return f"{ticks} {text} {ticks}"


def feedback_markdown(result: SubmissionResult) -> str:
    cases = "public and hidden cases" if result.hidden_cases else "public cases"
    out = [f"# {result.course_title}: feedback for {code_span(result.student_id)}", "",
           f"**Score: {result.score:g} / {result.max_score:g}** (graded on {cases})", ""]
    if result.notes:
        out += ["How your submission was read:", "",
                *fenced([f"- {note}" for note in result.notes]), ""]
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
                out += [f"### `{check.name}`", "", *fenced(check_lines(check, cases=2)), ""]
            elif check.notes:
                out += [f"Note on `{check.name}`:", "",
                        *fenced([f"- {n}" for n in check.notes[:3]]), ""]
        if not result.hidden_cases:
            printed = printed_lines(exercise, most=20)
            if printed:
                out += [*fenced(printed), ""]
    out.append(next_step(result, quote=code_span))
    return "\n".join(out) + "\n"
