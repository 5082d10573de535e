"""The Gradescope results format (what `grader grade --json` writes)."""

from __future__ import annotations

from grader.report.text import check_lines, printed_lines
from grader.results import SubmissionResult

# Gradescope keeps about 1 MB of output text per submission; all output fields together
# stay well under it, so what is shown is cut by us, visibly, not by Gradescope.
MAX_OUTPUT_BYTES = 900_000
MAX_TOP_BYTES = 200_000  # the submission's own output (notes, printed output)
MAX_TEST_BYTES = 16_000  # one check's output


def to_gradescope(result: SubmissionResult) -> dict:
    hidden = "public and hidden cases" if result.hidden_cases else "public cases only"
    output = [f"{result.course_title}: graded on {hidden}."]
    output += [f"note: {note}" for note in result.notes]
    if not result.hidden_cases:
        # With hidden cases, printed output could carry hidden inputs back out.
        output += [line for e in result.exercises for line in printed_lines(e, most=50)]
    top = cut("\n".join(output), MAX_TOP_BYTES)
    room = MAX_OUTPUT_BYTES - len(top.encode("utf-8"))
    tests = []
    for check in result.checks:
        name = f"{check.name}: {check.title}" if check.title else check.name
        text = cut("\n".join(check_lines(check, cases=3)), min(MAX_TEST_BYTES, max(room, 0)))
        room -= len(text.encode("utf-8"))
        tests.append({
            "name": name,
            "score": check.score,
            "max_score": check.max_score,
            "status": check.status,
            "output": text,
        })
    return {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": round(result.seconds, 3),
        "output": top,
        "tests": tests,
    }


def cut(text: str, limit: int) -> str:
    """``text`` in at most about ``limit`` UTF-8 bytes, with a line saying what was cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    kept = data[:max(limit - 100, 0)].decode("utf-8", "ignore")
    return f"{kept}\n… cut: {len(data) - len(kept.encode('utf-8'))} more bytes of output " \
           "(Gradescope shows about 1 MB in all)"
