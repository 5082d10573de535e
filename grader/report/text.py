"""Plain and coloured text reports. Only formatting: every fact comes from the results."""

from __future__ import annotations

import math
import re
from typing import Callable

from grader.checks import status
from grader.checks.compare import fmt
from grader.checks.model import CaseResult, LayerRow
from grader.report.strip import norm_strip
from grader.results import CheckResult, SubmissionResult

Style = Callable[..., str]
WIDTH = 72


def plain(text: str, **_: object) -> str:
    return text


def check_lines(check: CheckResult, style: Style = plain, cases: int = 1) -> list[str]:
    """The feedback of one check: its first ``cases`` failures in detail, then a count."""
    if check.passed:
        n = len(check.cases)
        hidden = sum(c.hidden for c in check.cases)
        extra = f", {hidden} hidden" if hidden else ""
        return [f"All {n} cases passed{extra}."] + note_lines(check, style, cases)
    lines: list[str] = []
    failures = check.failures
    for case in failures[:cases]:
        lines += case_lines(case, style)
    rest = len(failures) - min(cases, len(failures))
    if rest:
        lines.append(f"(+{rest} more failing case{'s' * (rest > 1)} of {len(check.cases)})")
    return lines


def note_lines(check: CheckResult, style: Style = plain, most: int = 1) -> list[str]:
    """What passed cases noted: right values that came with a warning, norms that
    overflowed as PyTorch's do. They cost nothing; they say how to do better."""
    notes = check.notes
    lines = [style("note: ", fg="cyan") + note for note in notes[:most]]
    if len(notes) > most:
        lines.append(f"(+{len(notes) - most} more note{'s' * (len(notes) - most > 1)})")
    return lines


def case_lines(case: CaseResult, style: Style = plain) -> list[str]:
    lines = [style(f"{case.status} · {case.label}", bold=True)]
    lines += case.message.splitlines() or [""]
    if case.layers:
        lines += layer_table(case.layers, style)
        lines += norm_strip(case.layers, style)
    if case.hint:
        lines.append(style("hint: ", fg="cyan") + case.hint)
    return lines


def layer_table(rows: tuple[LayerRow, ...], style: Style = plain) -> list[str]:
    """Layers from the output (top) to the input, as the gradient flows."""
    entry = max((r.layer for r in rows if not r.match), default=None)
    lines = [f"  {'layer':>5}  {'|dW| reference':>14}  {'|dW| yours':>12}  {'rel. error':>10}  match"]
    for row in sorted(rows, key=lambda r: -r.layer):
        ref = "hidden" if math.isnan(row.ref_norm) else fmt(row.ref_norm)
        mark = style("yes", fg="green") if row.match else style("NO", fg="red", bold=True)
        note = style("  <- the error enters here", fg="red") if row.layer == entry else ""
        lines.append(f"  {row.layer:>5}  {ref:>14}  {fmt(row.student_norm):>12}  "
                     f"{fmt(row.rel_error):>10}  {mark}{note}")
    return lines


def render(result: SubmissionResult, style: Style = plain, verbose: bool = False) -> str:
    """The whole report for ``grader check``: one line per check, details under failures."""
    out = [style(result.course_title, bold=True) + f"  ·  {result.submission}"
           + ("" if result.hidden_cases else "  ·  public cases")]
    out += [style("note: ", fg="cyan") + note for note in result.notes]
    for exercise in result.exercises:
        out.append("")
        head = f"{exercise.id}: {exercise.title}"
        score = f"{_num(exercise.score)}/{_num(exercise.max_score)}"
        colour = "green" if exercise.score == exercise.max_score else "yellow"
        out.append(style(head.ljust(WIDTH - len(score)) + score, fg=colour, bold=True))
        out += _exercise_body(exercise, style, verbose)
        out += printed_lines(exercise, style, 200 if verbose else 8)
    out.append("")
    if verbose:
        out += sandbox_lines(result)
    total = f"Score {_num(result.score)}/{_num(result.max_score)}"
    out.append(style(total, bold=True) + f"  ·  graded in {result.seconds:.2f} s")
    out.append(next_step(result))
    return "\n".join(out)


def _exercise_body(exercise, style: Style, verbose: bool) -> list[str]:
    checks = exercise.checks
    missing = all(c.cases and c.cases[0].status == status.MISSING_MODULE for c in checks)
    if missing:
        return ["  " + style("✗ ", fg="red") + checks[0].cases[0].message]
    broken = import_failure(exercise)
    if broken:
        hint = [f"      {style('hint: ', fg='cyan')}{broken.hint}"] if broken.hint else []
        return ["  " + style("✗ ", fg="red") + import_line(exercise, broken)] + hint
    not_started = all(_not_implemented(c) for c in checks)
    if not_started and not verbose:
        where = checks[0].failures[0].where or f"{exercise.module}.py"
        which = f"all {len(checks)} functions still raise" if len(checks) > 1 else \
            f"{checks[0].function} still raises"
        return ["  " + style("✗ ", fg="red") + f"not started: {which} NotImplementedError "
                f"(the first at {where})"]
    lines = []
    for check in checks:
        mark = style("✓", fg="green") if check.passed else style("✗", fg="red")
        score = f"{_num(check.score)}/{_num(check.max_score)}"
        lines.append(f"  {mark} {check.function.ljust(WIDTH - 6 - len(score))}{score}")
        if check.passed:
            lines += ["      " + line for line in note_lines(check, style,
                                                            len(check.notes) if verbose else 1)]
        elif verbose or not _not_implemented(check):
            shown = len(check.cases) if verbose else 1  # -v: every failing case
            lines += ["      " + line for line in check_lines(check, style, shown)]
        else:
            lines.append("      " + style("not implemented yet", fg="yellow"))
    return lines


def import_failure(exercise) -> CaseResult | None:
    """The first case of a module that did not import, when that is all that went wrong:
    every case of every check then fails the same way, and one line says it."""
    checks = exercise.checks
    if checks and all(not c.passed and c.failures and all(
            f.status == status.IMPORT_ERROR for f in c.failures) for c in checks):
        return checks[0].failures[0]
    return None


def import_line(exercise, case: CaseResult) -> str:
    n = len(exercise.checks)
    return (f"{exercise.module}.py does not import, so none of its {n} function"
            f"{'s' * (n > 1)} could be graded: {case.message}")


def _not_implemented(check: CheckResult) -> bool:
    return all(c.status == status.NOT_IMPLEMENTED for c in check.failures) and not check.passed


def printed_lines(exercise, style: Style = plain, most: int = 8) -> list[str]:
    """What the student's module printed (already capped by the runner), shortened."""
    lines = []
    for name in ("stdout", "stderr"):
        text = getattr(exercise, name).rstrip("\n")
        if not text:
            continue
        rows, cut = printed_rows(text)
        lines.append("  " + style(f"{exercise.module}.py printed ({name}):", fg="blue"))
        lines += ["    | " + row[:200] for row in rows[:most]]
        more = more_printed(len(rows), most, cut)
        if more:
            lines.append(f"    | {more}" + (" (grader check -v shows more)"
                                            if len(rows) > most and most < 200 else ""))
    return lines


# What reader.Streams appends when it stopped keeping a stream's output.
_CUT = re.compile(r"\[(?:stdout|stderr) cut at (\d+) KiB\]")


def printed_rows(text: str) -> tuple[list[str], str | None]:
    """The printed lines, and the capture's cap ("64 KiB") when it cut them (its marker
    line taken off, so that the count is of the student's own lines)."""
    rows = text.splitlines()
    if rows and (match := _CUT.fullmatch(rows[-1])):
        return rows[:-1], f"{match.group(1)} KiB"
    return rows, None


def more_printed(total: int, shown: int, cut: str | None) -> str:
    """The line under the first ``shown`` of ``total`` printed lines, or ''. A cut
    capture has an unknown number of lines after it: it is not counted as if known."""
    rest = total - shown
    if cut:
        kept = f"{rest} more lines were kept, then " if rest > 0 else ""
        return f"... {kept}more output was cut (the grader keeps the first {cut})"
    return f"... {rest} more lines" if rest > 0 else ""


def sandbox_lines(result: SubmissionResult) -> list[str]:
    """Which protections the student code ran under (for `check -v`)."""
    ran = [e for e in result.exercises if e.active or e.missing]
    if not ran:
        return []
    active = sorted({a for e in ran for a in e.active})
    missing = sorted({m for e in ran for m in e.missing})
    lines = ["sandbox: " + (", ".join(active) or "no protection")]
    if missing:
        lines.append("sandbox missing: " + ", ".join(missing))
    return lines


def next_step(result: SubmissionResult, quote: Callable[[str], str] = str) -> str:
    """One sentence telling the student what to do next; ``quote`` shows the parts a
    submission shapes (a message, a file:line) in the form the report needs."""
    for exercise in result.exercises:
        for check in exercise.checks:
            if check.passed:
                continue
            first = check.failures[0]
            if first.status == status.MISSING_MODULE:
                return f"Next: {quote(first.message)}."
            if import_failure(exercise):
                where = quote(first.where or f"{exercise.module}.py")
                return (f"Next: make {exercise.module}.py import (the error is at {where}), "
                        f"then run `grader check --exercise {exercise.id}`.")
            if first.status == status.NOT_IMPLEMENTED:
                where = quote(first.where or f"{exercise.module}.py")
                return (f"Next: implement {check.function} ({where}), then run "
                        f"`grader check --exercise {exercise.id}`.")
            return (f"Next: fix {check.name} ({first.status}), then run "
                    f"`grader check --exercise {exercise.id}`.")
    return "Everything passes. Well done."


def _num(x: float) -> str:
    return f"{x:g}"
