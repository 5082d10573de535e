"""The terminal's per-layer strip: log-scale block bars, output on the right, a caret."""

import math

import pytest

from grader.checks.model import CaseResult, LayerRow
from grader.report import strip
from grader.report.text import case_lines, layer_table

BARS = set(strip.BLOCKS) | {strip.ZERO, strip.HUGE, strip.UNKNOWN}


def rows_from(ref, student, match) -> tuple[LayerRow, ...]:
    return tuple(LayerRow(i + 1, r, s, 0.0 if m else 1.0, m)
                 for i, (r, s, m) in enumerate(zip(ref, student, match)))


def bars(lines: list[str], label: str) -> str:
    line = next(line for line in lines if line.startswith(f"  {label}"))
    return line[strip.LABEL:]


def caret_column(lines: list[str]) -> int:
    return next(line.index("^") for line in lines if "^" in line)


@pytest.mark.parametrize("n", [1, 2, 5, 17, 30, 53, 54, 60, 100, 250])
def test_fits_the_terminal_and_uses_only_block_characters(n):
    norms = [10.0 ** (k - n / 2) for k in range(n)]
    rows = rows_from(norms, norms, [k != n // 2 for k in range(n)])
    lines = strip.norm_strip(rows)
    assert max(len(line) for line in lines) <= strip.WIDTH <= 66  # + text.render's indent: 72
    assert set(bars(lines, "reference")) <= BARS and set(bars(lines, "yours")) <= BARS
    assert len(bars(lines, "reference")) == len(bars(lines, "yours"))


@pytest.mark.parametrize("n, columns", [(1, 3), (5, 3), (20, 2), (30, 1), (53, 1)])
def test_one_bar_per_layer_widened_when_there_are_few(n, columns):
    rows = rows_from([1.0] * n, [1.0] * n, [True] * n)
    assert len(bars(strip.norm_strip(rows), "yours")) == n * columns


def test_many_layers_are_grouped_and_the_legend_says_so():
    rows = rows_from([1.0] * 120, [1.0] * 120, [True] * 120)
    lines = strip.norm_strip(rows)
    assert len(bars(lines, "yours")) == 40
    assert "3 layers a column" in lines[0]


def test_output_on_the_right_on_a_log_scale():
    norms = [1e-20, 1e-10, 1.0, 1e10, 1e20]  # bar levels 0, 1.75, 3.5, 5.25, 7, rounded
    lines = strip.norm_strip(rows_from(norms, norms, [True] * 5))
    assert bars(lines, "reference") == "▁▁▁▃▃▃▅▅▅▆▆▆███"  # 3 columns a layer
    assert "1e-20" in lines[0] and "1e+20" in lines[0]
    assert not any("^" in line for line in lines)  # everything matches: no caret


def test_the_caret_points_at_the_entry_layer():
    n = 30
    match = [True] * n
    match[9] = match[21] = False  # layers 10 and 22 differ: the error enters at 22
    lines = strip.norm_strip(rows_from([1.0] * n, [1.0] * n, match))
    assert caret_column(lines) == strip.LABEL + 21
    assert any("the error enters here (layer 22)" in line for line in lines)


@pytest.mark.parametrize("entry", [1, 8, 16, 22, 30])
def test_the_caret_note_always_fits(entry):
    match = [layer != entry for layer in range(1, 31)]
    lines = strip.norm_strip(rows_from([2.0] * 30, [2.0] * 30, match))
    assert caret_column(lines) == strip.LABEL + entry - 1
    assert max(len(line) for line in lines) <= strip.WIDTH
    assert any(f"(layer {entry})" in line for line in lines)


def test_zero_infinite_and_hidden_norms():
    lines = strip.norm_strip(rows_from([math.nan] * 3, [0.0, 5.0, math.inf], [False] * 3))
    assert bars(lines, "reference") == "(hidden on this case)"
    assert bars(lines, "yours") == strip.ZERO * 3 + strip.BLOCKS[-1] * 3 + strip.HUGE * 3


def test_only_zeros_still_explain_the_symbols():
    lines = strip.norm_strip(rows_from([0.0, 0.0], [0.0, math.inf], [True, False]))
    assert "is 0" in lines[0] and "infinite" in lines[0]


def test_style_marks_the_differing_layers_and_the_caret():
    def style(text, fg=None, **_):
        return f"[{text}]" if fg == "red" else text

    lines = strip.norm_strip(rows_from([1.0, 1.0], [1.0, 3.0], [True, False]), style)
    assert bars(lines, "yours").count("[") == 1  # layer 2 only
    assert any(line.lstrip().startswith("[^") for line in lines)


def test_the_check_report_shows_the_strip_under_the_table():
    rows = rows_from([1.0, 2.0], [1.0, 3.0], [True, False])
    lines = case_lines(CaseResult("a case", "wrong answer", "message", "hint", layers=rows))
    table = layer_table(rows)
    at = lines.index(table[-1]) + 1
    assert lines[at:at + 4] == strip.norm_strip(rows)
    assert lines[-1].startswith("hint: ")
