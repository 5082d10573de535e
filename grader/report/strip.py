"""The per-layer gradient norms as a strip of block characters, for the terminal.

One column per layer (or a few per layer when there are few, or a few layers
per column when there are many), input on the left and output on the right as
in the lesson; bar heights are log10 of the norm, shared by both lines so the
reference and the student's can be compared column by column.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from grader.checks.model import LayerRow

Style = Callable[..., str]
BLOCKS = "▁▂▃▄▅▆▇█"
ZERO = "·"  # a zero norm has no height on a log scale
HUGE = "↑"  # an infinite norm is off the scale
UNKNOWN = "?"
LABEL = 13  # "  reference  "
WIDTH = 66  # text.render indents feedback by 6 columns: 72 in all


def plain(text: str, **_: object) -> str:
    return text  # text.plain's twin: importing it would make the two modules circular


def norm_strip(rows: Sequence[LayerRow], style: Style = plain, width: int = WIDTH) -> list[str]:
    """Lines: a scale legend, the reference, the student's, and a caret under the layer
    where the error enters (none when every layer matches)."""
    rows = sorted(rows, key=lambda r: r.layer)
    if not rows:
        return []
    per_column, columns = layout(len(rows), width - LABEL)
    groups = [rows[i:i + per_column] for i in range(0, len(rows), per_column)]
    hidden = all(math.isnan(r.ref_norm) for r in rows)
    lo, hi = log_range([r.student_norm for r in rows]
                        + ([] if hidden else [r.ref_norm for r in rows]))
    lines = _legend(lo, hi, per_column, width)
    ref = "(hidden on this case)" if hidden else "".join(
        _block([r.ref_norm for r in g], lo, hi) * columns for g in groups)
    lines.append("  reference  " + ref)
    lines.append("  yours      " + "".join(
        _styled(_block([r.student_norm for r in g], lo, hi) * columns, g, style)
        for g in groups))
    entry = max((r.layer for r in rows if not r.match), default=None)
    if entry is not None:
        at = next(i for i, g in enumerate(groups) if any(r.layer == entry for r in g))
        lines += _caret(LABEL + at * columns + (columns - 1) // 2, entry, width, style)
    return lines


def layout(n: int, room: int) -> tuple[int, int]:
    """(layers per column, columns per layer): wide bars for a few layers, grouped
    layers when there are more than columns."""
    if n > room:
        return math.ceil(n / room), 1
    return 1, max(1, min(3, room // n))


def log_range(values: Sequence[float]) -> tuple[float, float]:
    """log10 of the smallest and largest norm, at least a decade apart: on a narrower
    range, a 10 % difference would fill the whole height."""
    logs = [math.log10(v) for v in values if math.isfinite(v) and v > 0]
    if not logs:
        return 0.0, 0.0
    return min(min(logs), max(logs) - 1.0), max(logs)


def _block(values: Sequence[float], lo: float, hi: float) -> str:
    """The bar for a group of layers: its largest norm, so a spike is never averaged away."""
    shown = [v for v in values if not math.isnan(v)]
    if not shown:
        return UNKNOWN
    top = max(shown)
    if math.isinf(top):
        return HUGE
    if top <= 0:
        return ZERO
    level = (math.log10(top) - lo) / (hi - lo)
    return BLOCKS[round(level * (len(BLOCKS) - 1))]


def _styled(text: str, group: Sequence[LayerRow], style: Style) -> str:
    return style(text, fg="red") if any(not r.match for r in group) else text


def _legend(lo: float, hi: float, per_column: int, width: int) -> list[str]:
    """What the bars mean, on one line when it fits, else two."""
    group = f" ({per_column} layers a column)" if per_column > 1 else ""
    head = f"  |dW| per layer, input → output{group}"
    if hi == lo:  # no norm is positive and finite: there is no scale to give
        return [head + f": {ZERO} is 0, {HUGE} is infinite"]
    scale = f"log scale {BLOCKS[0]} {10 ** lo:.3g} … {BLOCKS[-1]} {10 ** hi:.3g}"
    one = f"{head}, {scale}"
    return [one] if len(one) <= width else [head, f"  {scale}"]


def _caret(column: int, layer: int, width: int, style: Style) -> list[str]:
    """A caret under the entry column, its note on whichever side has room (or on a
    line of its own, ending under the caret, when neither side has)."""
    note = f"the error enters here (layer {layer})"
    if column + 2 + len(note) <= width:
        return [" " * column + style("^ " + note, fg="red")]
    if column >= len(note) + 1:
        return [" " * (column - len(note) - 1) + style(note + " ^", fg="red")]
    return [" " * column + style("^", fg="red"),
            " " * max(2, column + 1 - len(note)) + style(note, fg="red")]
