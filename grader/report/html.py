"""HTML reports: one self-contained page per submission, and one for the class.

Everything is inline (CSS and SVG), with no script and no external address, so a
page opens offline, as an e-mail attachment or from a course site, and reads on a
phone. Any text a student can influence (messages quote their exceptions, what
their modules printed, ids taken from folder names) goes through esc().
"""

from __future__ import annotations

import math

from grader.checks import status
from grader.checks.compare import fmt
from grader.checks.model import CaseResult, LayerRow
from grader.report.svg import curve_plot, esc, histogram, layer_norm_plot
from grader.report.text import (import_failure, import_line, more_printed, next_step,
                                printed_rows)
from grader.results import CheckResult, ExerciseResult, SubmissionResult

CASES_SHOWN = 3  # failing cases detailed per check, as `grader check -v` does
PRINTED_LINES = 200
PRINTED_WIDTH = 500
# Plots are drawn this wide and scaled to the page: on a phone's 360-odd pixels their
# 12 px text still reads at about 9 px, and on a desktop they grow to at most 600.
PLOT_WIDTH = 480

CSS = """
:root { color-scheme: light dark; --fg: #1b1b1f; --bg: #ffffff; --muted: #4a4f57;
  --card: #f4f5f7; --line: #c9ced6; --bad: #a8271c; --good: #1d6b35; --bar: #0072B2; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececef; --bg: #141619; --muted: #b7bcc4; --card: #1f2226; --line: #3d434b;
    --bad: #ff9d8f; --good: #8fe0a9; --bar: #56B4E9; }
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 880px; margin: 0 auto; padding: 12px 16px 48px; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0.6em 0 0.2em; }
h2 { font-size: 1.25rem; margin: 1.6em 0 0.4em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0 0 0.3em; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.92em; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--card);
  border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wide { overflow-x: auto; }
.muted { color: var(--muted); }
.bar { display: inline-block; width: 100%; min-width: 60px; max-width: 180px; height: 0.7em;
  background: var(--line); border-radius: 4px; overflow: hidden; vertical-align: middle; }
.bar > span { display: block; height: 100%; background: var(--bar); }
.check { background: var(--card); border-left: 4px solid var(--bad); border-radius: 4px;
  padding: 10px 12px; margin: 12px 0; }
.case { margin-top: 10px; }
.case + .case { border-top: 1px dashed var(--line); padding-top: 10px; }
.status, .fail { color: var(--bad); font-weight: bold; }
.pass { color: var(--good); font-weight: bold; }
.message { white-space: pre-line; overflow-wrap: anywhere; margin: 0.3em 0; }
.hint { margin: 0.4em 0; }
.note { margin: 0.2em 0 0.4em 1.4em; overflow-wrap: anywhere; }
figure { margin: 10px 0; }
figcaption { font-size: 0.9em; color: var(--muted); }
svg.plot { display: block; width: 100%; max-width: 600px; height: auto; }
details > summary { cursor: pointer; }
.total { font-size: 1.15rem; }
@media (max-width: 480px) {
  td code { font-size: 0.8em; }
  th, td { padding: 4px 4px; }
  .bar { min-width: 36px; }
}
"""


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def _num(x: float) -> str:
    return f"{x:g}"


def _bar(share: float, label: str) -> str:
    """A bar with its value in words beside it, so the length is never the only cue."""
    width = 0.0 if not math.isfinite(share) else max(0.0, min(1.0, share)) * 100
    return (f'<span class="bar" role="img" aria-label="{esc(label)}">'
            f'<span style="width:{width:.1f}%"></span></span>')


# --- one submission -------------------------------------------------------------------------

def submission_html(result: SubmissionResult, *, title: str | None = None) -> str:
    """The feedback page for one graded submission."""
    title = title or f"{result.course_title}: feedback for {result.student_id}"
    cases = "public and hidden cases" if result.hidden_cases else "public cases only"
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="total"><strong>Score {_num(result.score)} / {_num(result.max_score)}'
            f'</strong> <span class="muted">· graded on {cases} in {result.seconds:.2f} s · '
            f"{esc(result.submission)}</span></p>",
            f"<p>{esc(next_step(result))}</p>"]
    if result.notes:
        body.append("<p>How your submission was read:</p><ul>"
                    + "".join(f"<li>{esc(note)}</li>" for note in result.notes) + "</ul>")
    body.append(_score_table(result))
    body += [_exercise_html(e, result.hidden_cases) for e in result.exercises]
    return _page(title, body)


def _score_table(result: SubmissionResult) -> str:
    rows = []
    for e in result.exercises:
        share = e.score / e.max_score if e.max_score else 0.0
        rows.append(f"<tr><td>{esc(e.title)}</td><td class=\"num\">{_num(e.score)} / "
                    f"{_num(e.max_score)}</td><td>{_bar(share, f'{share:.0%} of the points')}"
                    "</td></tr>")
    return ('<div class="wide"><table class="scores"><thead><tr><th>exercise</th>'
            '<th class="num">points</th><th>share</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _exercise_html(exercise: ExerciseResult, hidden_cases: bool) -> str:
    out = [f'<section class="exercise"><h2>{esc(exercise.title)} '
           f'<span class="muted">({_num(exercise.score)} / {_num(exercise.max_score)})'
           "</span></h2>"]
    checks = exercise.checks
    if checks and all(c.cases and c.cases[0].status == status.MISSING_MODULE for c in checks):
        out.append(f'<p><span class="fail">✗</span> {esc(checks[0].cases[0].message)}</p>')
        return "\n".join(out + ["</section>"])
    broken = import_failure(exercise)
    if broken:
        out.append(f'<p><span class="fail">✗</span> {esc(import_line(exercise, broken))}</p>')
        if broken.hint:
            out.append(f'<p class="hint">hint: {esc(broken.hint)}</p>')
        out += _printed_html(exercise, hidden_cases)
        return "\n".join(out + ["</section>"])
    out += [_failed_check_html(c) for c in checks if not c.passed]
    out.append(_passed_html([c for c in checks if c.passed], len(checks)))
    out += _printed_html(exercise, hidden_cases)
    return "\n".join(out + ["</section>"])


def _failed_check_html(check: CheckResult) -> str:
    head = (f'<h3><span class="fail" aria-hidden="true">✗</span> <code>{esc(check.name)}</code> '
            f'<span class="muted">{_num(check.score)} / {_num(check.max_score)}</span></h3>')
    title = f'<p class="muted">{esc(check.title)}</p>' if check.title else ""
    failures = check.failures
    if all(c.status == status.NOT_IMPLEMENTED for c in failures):
        where = failures[0].where
        at = f" (<code>{esc(where)}</code>)" if where else ""
        return (f'<article class="check failed">{head}{title}<p><span class="status">not '
                f"implemented yet</span>{at}: replace the <code>raise NotImplementedError"
                "(...)</code> line with your code.</p></article>")
    shown = list(failures[:CASES_SHOWN])
    # A drawn curve says more than another message: keep the first one in view.
    shown += [next(c for c in failures if c.curve)] if any(
        c.curve for c in failures[CASES_SHOWN:]) and not any(c.curve for c in shown) else []
    body = [_case_html(case, check.function) for case in shown]
    rest = len(failures) - len(shown)
    if rest:
        body.append(f'<p class="muted">(+{rest} more failing case{"s" * (rest > 1)} of '
                    f"{len(check.cases)})</p>")
    return f'<article class="check failed">{head}{title}' + "".join(body) + "</article>"


def _case_html(case: CaseResult, function: str) -> str:
    hidden = ' <span class="muted">(hidden case)</span>' if case.hidden else ""
    out = [f'<div class="case"><p><span class="status">{esc(case.status)}</span> · '
           f"{esc(case.label)}{hidden}</p>"]
    if case.message:
        out.append(f'<p class="message">{esc(case.message)}</p>')
    if case.where:
        out.append(f'<p class="muted">at <code>{esc(case.where)}</code></p>')
    if case.layers:
        out.append(_layers_html(case.layers))
    if case.curve:
        out.append(_curve_html(case.curve, function))
    if case.hint:
        out.append(f'<p class="hint"><strong>Hint:</strong> {esc(case.hint)}</p>')
    return "".join(out) + "</div>"


def _layers_html(rows: tuple[LayerRow, ...]) -> str:
    hidden = all(math.isnan(r.ref_norm) for r in rows)
    caption = ("Your gradient norm per layer (the reference is hidden on this case)." if hidden
               else "Gradient norm per layer, the reference and yours.")
    plot = layer_norm_plot(rows, title="|dW| per layer: " + ("yours" if hidden
                                                             else "reference and yours"),
                           width=PLOT_WIDTH, height=300)
    return (f"<figure>{plot}<figcaption>{caption} Input on the left, output on the right: "
            "the gradient flows from right to left.</figcaption></figure>"
            f"<details><summary>The numbers per layer</summary>{_layer_table(rows)}</details>")


def _layer_table(rows: tuple[LayerRow, ...]) -> str:
    """The plot's data as a table: the figures a screen reader reads and a student copies."""
    entry = max((r.layer for r in rows if not r.match), default=None)
    body = []
    for r in sorted(rows, key=lambda r: -r.layer):
        ref = "hidden" if math.isnan(r.ref_norm) else fmt(r.ref_norm)
        match = '<span class="pass">yes</span>' if r.match else '<span class="fail">NO</span>'
        note = " ← the error enters here" if r.layer == entry else ""
        body.append(f'<tr><td class="num">{r.layer}</td><td class="num">{esc(ref)}</td>'
                    f'<td class="num">{esc(fmt(r.student_norm))}</td>'
                    f'<td class="num">{esc(fmt(r.rel_error))}</td><td>{match}{note}</td></tr>')
    return ('<div class="wide"><table class="layers"><thead><tr><th class="num">layer</th>'
            '<th class="num">|dW| reference</th><th class="num">|dW| yours</th>'
            '<th class="num">rel. error</th><th>match</th></tr></thead><tbody>'
            + "".join(body) + "</tbody></table></div>")


def _curve_html(curve: tuple, function: str) -> str:
    z, reference, student = curve
    plot = curve_plot(z, reference, student, title=f"{function}: reference and yours",
                      ylabel=function, width=PLOT_WIDTH, height=280)
    return (f"<figure>{plot}<figcaption>The reference <code>{esc(function)}</code> (solid) and "
            "yours (dashed) on a grid over [−4, 4]; shaded where they differ."
            "</figcaption></figure>")


def _passed_html(passed: list[CheckResult], total: int) -> str:
    if not passed:
        return ""
    items = "".join(f'<li><span class="pass" aria-hidden="true">✓</span> '
                    f"<code>{esc(c.function)}</code> <span class=\"muted\">{esc(c.title)} · "
                    f"{_num(c.score)} / {_num(c.max_score)} · {len(c.cases)} cases</span>"
                    + "".join(f'<p class="note"><strong>Note:</strong> {esc(note)}</p>'
                              for note in c.notes[:3])
                    + "</li>" for c in passed)
    # Open when a passed check has a note: the note is there to be read.
    opened = " open" if any(c.notes for c in passed) else ""
    return (f"<details class=\"passed\"{opened}><summary>Passed checks ({len(passed)} of "
            f"{total})</summary><ul>{items}</ul></details>")


def _printed_html(exercise: ExerciseResult, hidden_cases: bool) -> list[str]:
    """What the module printed; withheld when hidden cases ran, since prints could carry
    hidden inputs out (the Gradescope output withholds them for the same reason)."""
    out = []
    for name in ("stdout", "stderr"):
        text = getattr(exercise, name).rstrip("\n")
        if not text:
            continue
        label = f"{exercise.module}.py printed ({name})"
        if hidden_cases:
            out.append(f'<p class="muted">{esc(label)}: not shown, because hidden cases '
                       "ran.</p>")
            continue
        rows, cut = printed_rows(text)
        shown = [row[:PRINTED_WIDTH] for row in rows[:PRINTED_LINES]]
        more = more_printed(len(rows), PRINTED_LINES, cut)
        more = "\n" + more if more else ""
        out.append(f"<details open><summary>{esc(label)}, {len(rows)} "
                   f"line{'s' * (len(rows) != 1)}</summary>"
                   f"<pre class=\"printed\">{esc(chr(10).join(shown) + more)}</pre></details>")
    return out


# --- the class ------------------------------------------------------------------------------

def class_html(summary: dict, title: str) -> str:
    """The class report from the summary dict of grader.batch.summary (Summary.to_dict)."""
    s = summary
    body = [f"<h1>{esc(title)}: class summary</h1>",
            f"<p>{s['students']} student{'s' * (s['students'] != 1)}, mean {_num(s['mean'])} / {_num(s['max_score'])}, "
            f"median {_num(s['median'])}, full marks {s['full_marks']}, unreadable "
            f"{s['unreadable']}.</p>",
            "<h2>Scores</h2>", _score_histogram(s["histogram"]),
            "<h2>Pass rate per check</h2>", _pass_rates(s["pass_rate"]),
            "<h2>Most common mistakes</h2>", _mistakes(s["common_mistakes"]),
            "<h2>Slowest submissions</h2>", _slowest(s["slowest"])]
    return _page(f"{title}: class summary", body)


def _score_histogram(bins: list[dict]) -> str:
    # Short labels ("90–100"): ten "90%–100%" overlap at phone width.
    labels = [f"{b['from'] * 100:.0f}–{b['to'] * 100:.0f}" for b in bins]
    plot = histogram(labels, [b["students"] for b in bins], title="Students per score band",
                     xlabel="share of the points, %", width=PLOT_WIDTH)
    return f"<figure>{plot}<figcaption>Students per share of the points.</figcaption></figure>"


def _table(head: list[str], rows: list[str], numeric: tuple[int, ...] = ()) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    cells = "".join(f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
                    for i, h in enumerate(head))
    return (f'<div class="wide"><table><thead><tr>{cells}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _pass_rates(rates: dict) -> str:
    rows = [f"<tr><td><code>{esc(name)}</code></td><td>{_bar(rate, f'{rate:.0%} passed')}</td>"
            f'<td class="num">{rate:.0%}</td></tr>' for name, rate in rates.items()]
    return _table(["check", "", "passed"], rows, (2,))


def _mistakes(mistakes: list[dict]) -> str:
    rows = [f"<tr><td><code>{esc(m['check'])}</code></td><td>{esc(m['status'])}</td>"
            f"<td class=\"message\">{esc(m['message'])}</td>"
            f"<td class=\"num\">{m['students']}</td></tr>" for m in mistakes]
    return _table(["check", "status", "message (numbers as #)", "students"], rows, (3,))


def _slowest(slowest: list[dict]) -> str:
    rows = [f"<tr><td>{esc(s['student_id'])}</td><td class=\"num\">{s['seconds']:.2f}</td></tr>"
            for s in slowest]
    return _table(["student", "seconds"], rows, (1,))
