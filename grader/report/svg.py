"""Inline SVG plots for the HTML reports, drawn by hand.

Why no plotting library: a report must be one self-contained file that opens
offline, on a phone, long after grading; a plot here is a few kilobytes of
text, costs the grader no dependency and no import time, and stays the same
across library versions. The plots are simple (points, lines, bars, one log
axis), so drawing them directly takes less code than configuring a library.

Every function is pure: data in, an SVG string out, meant to be inlined in an
HTML page (hence no xmlns: the HTML parser puts <svg> in the SVG namespace).
Text uses currentColor, so a plot follows the page's light or dark theme.
Colours are Okabe-Ito, readable with the common colour-vision deficiencies,
and no distinction rests on colour alone: the reference is solid with circles,
the student's values dashed with squares, the error region is named in words.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np

from grader.checks.model import LayerRow

REF = "#0072B2"  # Okabe-Ito blue
STUDENT = "#E69F00"  # Okabe-Ito orange
ERROR = "#D55E00"  # Okabe-Ito vermillion
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"'


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def coord(x: float) -> str:
    """A coordinate: a tenth of a pixel is finer than any screen needs."""
    return f"{x:.1f}"


def frame(width: int, height: int, kind: str, title: str, desc: str, body: list[str]) -> str:
    return (f'<svg class="plot {kind}" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{esc(title)}" {FONT} '
            f'fill="currentColor"><title>{esc(title)}</title><desc>{esc(desc)}</desc>'
            + "".join(body) + "</svg>")


def draw_text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{coord(x)}" y="{coord(y)}" text-anchor="{anchor}"{extra}>{esc(text)}</text>'


def draw_line(x1: float, y1: float, x2: float, y2: float, extra: str = "",
          stroke: str = "currentColor") -> str:
    return (f'<line x1="{coord(x1)}" y1="{coord(y1)}" x2="{coord(x2)}" y2="{coord(y2)}" '
            f'stroke="{stroke}"{extra}/>')


def polylines(points: list[tuple[float, float] | None], style: str, kind: str) -> list[str]:
    """One polyline per run of points; None breaks the line (a value not shown)."""
    runs, run = [], []
    for p in points + [None]:
        if p is None:
            if len(run) > 1:
                runs.append(run)
            run = []
        else:
            run.append(p)
    return [f'<polyline class="{kind}" fill="none" {style} points="'
            + " ".join(f"{coord(x)},{coord(y)}" for x, y in r) + '"/>' for r in runs]


def _legend(x: float, y: float, items: list[tuple[str, str]]) -> list[str]:
    """Swatches left to right; each kind shows its shape and dash, not only its colour."""
    out = []
    for kind, label in items:
        if kind == "ref":
            out += [draw_line(x, y, x + 22, y, ' stroke-width="2.5"', REF),
                    f'<circle cx="{coord(x + 11)}" cy="{coord(y)}" r="4" fill="{REF}"/>']
        elif kind == "student":
            out += [draw_line(x, y, x + 22, y, ' stroke-width="2.5" stroke-dasharray="6 4"',
                          STUDENT),
                    f'<rect x="{coord(x + 7)}" y="{coord(y - 4)}" width="8" height="8" '
                    f'fill="{STUDENT}"/>']
        elif kind == "differs":
            out.append(f'<rect x="{coord(x + 7)}" y="{coord(y - 4)}" width="8" height="8" '
                       f'fill="none" stroke="{STUDENT}" stroke-width="2"/>')
        elif kind == "band":
            out.append(f'<rect x="{coord(x)}" y="{coord(y - 6)}" width="22" height="12" '
                       f'fill="{ERROR}" fill-opacity="0.18" stroke="{ERROR}" '
                       'stroke-dasharray="3 2"/>')
        out.append(draw_text(x + 27, y + 4, label, "start"))
        x += 27 + 6.4 * len(label) + 18
    return out


# --- the log axis ---------------------------------------------------------------------------

def decade_range(values: Sequence[float]) -> tuple[int, int, int]:
    """(lowest decade, highest decade, decades per tick) covering the positive finite values.

    A quarter decade of room on each side keeps points off the frame (where 0 and
    inf are drawn), and the tick step keeps at most eight labels whatever the span.
    """
    shown = [v for v in values if math.isfinite(v) and v > 0]
    if not shown:
        return -1, 1, 1
    lo = math.floor(math.log10(min(shown)) - 0.25)
    hi = math.ceil(math.log10(max(shown)) + 0.25)
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 1000) if (hi - lo) / s <= 8)
    return step * math.floor(lo / step), step * math.ceil(hi / step), step


def decade_label(k: int) -> str:
    return f"{10.0 ** k:g}" if -2 <= k <= 3 else f"1e{k:+d}"


def log_y(value: float, lo: int, hi: int, top: float, bottom: float) -> tuple[float, str] | None:
    """(y, how it is shown): 'value', or 'zero'/'inf' clamped to an edge; None for NaN."""
    if math.isnan(value):
        return None
    if value <= 0:
        return bottom, "zero"
    if math.isinf(value):
        return top, "inf"
    share = (math.log10(value) - lo) / (hi - lo)
    return bottom - share * (bottom - top), "value"


def log_axis(lo: int, hi: int, step: int, box: tuple[float, float, float, float]) -> list[str]:
    left, top, right, bottom = box
    out = []
    for k in range(lo, hi + 1, step):
        y = bottom - (k - lo) / (hi - lo) * (bottom - top)
        out.append(f'<g class="tick-y" data-decade="{k}">'
                   + draw_line(left, y, right, y, ' stroke-opacity="0.2"')
                   + draw_text(left - 6, y + 4, decade_label(k), "end") + "</g>")
    return out


# --- per-layer gradient norms ---------------------------------------------------------------

def layer_norm_plot(rows: Sequence[LayerRow], *, title: str = "Gradient norm per layer",
                    quantity: str = "|dW|", width: int = 640, height: int = 320) -> str:
    """Each layer's gradient norm, reference and student, on a log scale.

    Layers run from the input (left) to the output (right), the way the lesson
    draws them; the gradient flows right to left. The layer where the error
    enters (the highest-numbered layer that differs) is banded and labelled.
    Hidden cases have no reference norms (NaN): then only the student's show.
    """
    rows = sorted(rows, key=lambda r: r.layer)
    if not rows:
        return frame(width, 40, "layer-norms", title, "no layers",
                      [draw_text(width / 2, 24, "no layers")])
    box = (68.0, 52.0, width - 20.0, height - 58.0)
    left, top, right, bottom = box
    ref_shown = [r.ref_norm for r in rows if not math.isnan(r.ref_norm)]
    lo, hi, step = decade_range(ref_shown + [r.student_norm for r in rows])
    slot = (right - left) / len(rows)
    xs = [left + (i + 0.5) * slot for i in range(len(rows))]
    entry = max((r.layer for r in rows if not r.match), default=None)

    body = [f'<rect class="plot-area" x="{coord(left)}" y="{coord(top)}" width="{coord(right - left)}" '
            f'height="{coord(bottom - top)}" fill="none" stroke="currentColor" '
            'stroke-opacity="0.5"/>']
    body += log_axis(lo, hi, step, box)
    body += _layer_labels(rows, xs, bottom, entry)
    if entry is not None:
        body += _entry_band(xs[[r.layer for r in rows].index(entry)], slot, entry, box)
    ref_pts = [log_y(r.ref_norm, lo, hi, top, bottom) for r in rows]
    stu_pts = [log_y(r.student_norm, lo, hi, top, bottom) for r in rows]
    if ref_shown:
        body += polylines([(x, p[0]) if p else None for x, p in zip(xs, ref_pts)],
                           f'stroke="{REF}" stroke-width="2.5"', "ref-line")
    body += polylines([(x, p[0]) if p else None for x, p in zip(xs, stu_pts)],
                       f'stroke="{STUDENT}" stroke-width="2.5" stroke-dasharray="6 4"',
                       "student-line")
    # The reference's circles are larger than the student's squares, so a matching
    # layer shows a square inside a circle rather than hiding the reference.
    size = max(2.5, min(4.5, slot / 4))
    body += [_ref_marker(x, p, r, size * 1.5, quantity)
             for x, p, r in zip(xs, ref_pts, rows) if p]
    body += [_student_marker(x, p, r, size, quantity) for x, p, r in zip(xs, stu_pts, rows) if p]
    body += _legend(left, 18, _layer_legend(bool(ref_shown), rows))
    body.append(draw_text(14, (top + bottom) / 2, f"{quantity}, log scale", "middle",
                      f' transform="rotate(-90 14 {coord((top + bottom) / 2)})"'))
    return frame(width, height, "layer-norms", title,
                  _layer_desc(rows, lo, hi, entry, bool(ref_shown), quantity), body)


def _layer_labels(rows, xs, bottom, entry) -> list[str]:
    """Layer numbers under the axis: all of them when they fit, else every few plus
    the ends and the entry layer; 'input' and 'output' name the two ends."""
    room = 22.0  # pixels between two labels' centres
    every = max(1, math.ceil(room / (xs[1] - xs[0]))) if len(xs) > 1 else 1
    entry_x = next((x for row, x in zip(rows, xs) if row.layer == entry), None)
    out = []
    for i, (row, x) in enumerate(zip(rows, xs)):
        last = i == len(rows) - 1
        wanted = last or (i % every == 0 and xs[-1] - x >= room)
        crowded = entry_x is not None and abs(x - entry_x) < room
        if row.layer != entry and (not wanted or crowded):
            continue
        bold = ' font-weight="bold"' if row.layer == entry else ""
        out.append(draw_text(x, bottom + 16, str(row.layer), "middle",
                         f' class="layer-label" data-layer="{row.layer}"{bold}'))
    out.append(draw_text(xs[0], bottom + 32, "input" if len(rows) > 1 else "input and output",
                     "start" if len(rows) > 1 else "middle"))
    if len(rows) > 1:
        out.append(draw_text(xs[-1], bottom + 32, "output", "end"))
    out.append(draw_text((xs[0] + xs[-1]) / 2, bottom + 48, "layer (the gradient flows right to left)"))
    return out


def _entry_band(x: float, slot: float, layer: int, box) -> list[str]:
    left, top, right, bottom = box
    half = max(slot, 10.0) / 2
    band = (f'<rect class="entry-band" data-layer="{layer}" x="{coord(x - half)}" y="{coord(top)}" '
            f'width="{coord(2 * half)}" height="{coord(bottom - top)}" fill="{ERROR}" '
            f'fill-opacity="0.18" stroke="{ERROR}" stroke-dasharray="3 2"/>')
    # Past the middle the label ends at the band, so it never runs off the right edge.
    anchor, at = ("end", x + half) if x > (left + right) / 2 else ("start", x - half)
    label = draw_text(at, top - 6, f"error enters here (layer {layer})", anchor,
                  f' class="entry-label" data-layer="{layer}" font-weight="bold"')
    return [band, label]


def _ref_marker(x: float, placed, row: LayerRow, size: float, quantity: str) -> str:
    y, _ = placed
    return (f'<circle class="point ref-point" data-layer="{row.layer}" cx="{coord(x)}" '
            f'cy="{coord(y)}" r="{coord(size)}" fill="{REF}"><title>layer {row.layer}, reference '
            f'{esc(quantity)} = {row.ref_norm:.4g}</title></circle>')


def _student_marker(x: float, placed, row: LayerRow, size: float, quantity: str) -> str:
    """A square (filled: matches, hollow: differs); a triangle at the edge for 0 or inf."""
    y, how = placed
    state = "matches" if row.match else "differs"
    tip = (f"layer {row.layer}, yours {esc(quantity)} = {row.student_norm:.4g} ({state}"
           + (", off the scale" if how != "value" else "") + ")")
    fill = STUDENT if row.match else "none"
    common = (f'class="point student-point {how}" data-layer="{row.layer}" '
              f'data-match="{"yes" if row.match else "no"}" fill="{fill}" stroke="{STUDENT}" '
              'stroke-width="2"')
    if how == "value":
        shape = (f'<rect {common} x="{coord(x - size)}" y="{coord(y - size)}" '
                 f'width="{coord(2 * size)}" height="{coord(2 * size)}">')
        return shape + f"<title>{tip}</title></rect>"
    tip_y = y + 2 * size if how == "zero" else y - 2 * size
    path = f"M{coord(x - size)},{coord(y)} L{coord(x + size)},{coord(y)} L{coord(x)},{coord(tip_y)} Z"
    return f'<path {common} d="{path}"><title>{tip}</title></path>'


def _layer_legend(ref_shown: bool, rows) -> list[tuple[str, str]]:
    items = [("ref", "reference" if ref_shown else "reference hidden"), ("student", "yours")]
    if any(not r.match for r in rows):
        items.append(("differs", "hollow: differs"))
    return items


def _layer_desc(rows, lo: int, hi: int, entry, ref_shown: bool, quantity: str) -> str:
    L = len(rows)
    text = (f"{quantity} of each of {L} layers, from layer 1 (input, left) to layer {L} "
            f"(output, right), on a log scale from {decade_label(lo)} to {decade_label(hi)}.")
    if not ref_shown:
        text += " The reference is hidden on this case; only your values are shown."
    if entry is None:
        return text + " Every layer matches the reference."
    text += f" The error enters at layer {entry}"
    text += (f"; layers {entry + 1} to {L} still match." if entry < L
             else "; even the output layer differs.")
    off = [r.layer for r in rows if r.student_norm <= 0 or math.isinf(r.student_norm)]
    if off:
        text += " Off the scale (0 or infinite): layers " + ", ".join(map(str, off)) + "."
    return text


# --- an activation's derivative -------------------------------------------------------------

def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten apart), at most ``count`` + 1,
    spanning [lo, hi]."""
    raw = (hi - lo) / max(count, 1) or 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) + 0.0 for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _scale(d0: float, d1: float, r0: float, r1: float):
    """The linear map from data [d0, d1] to pixels [r0, r1]."""
    ratio = (r1 - r0) / ((d1 - d0) or 1.0)
    return lambda v: r0 + (v - d0) * ratio


def _tick_text(value: float) -> str:
    return f"{value:.6g}".replace("-", "\u2212")  # a true minus sign reads better


def _y_range(ref: np.ndarray, student: np.ndarray) -> tuple[float, float]:
    """The reference's range, widened to the student's values, but never so far that
    a wild value flattens the reference: beyond one reference span they are clipped."""
    finite = ref[np.isfinite(ref)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    span = hi - lo or max(abs(hi), 1.0)
    mine = student[np.isfinite(student)]
    if mine.size:
        lo = max(min(lo, float(mine.min())), lo - span)
        hi = min(max(hi, float(mine.max())), hi + span)
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def differing(ref: np.ndarray, student: np.ndarray, rtol: float = 1e-8,
              atol_scale: float = 1e-12) -> np.ndarray:
    """Entries outside the grader's activation tolerance (non-finite ones always are)."""
    scale = float(np.max(np.abs(ref[np.isfinite(ref)]), initial=0.0))
    with np.errstate(invalid="ignore"):
        ok = np.abs(student - ref) <= rtol * np.abs(ref) + atol_scale * scale
    return ~(ok & np.isfinite(student))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    out, start = [], None
    for i, flag in enumerate(list(mask) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def curve_plot(z: Sequence[float], reference: Sequence[float], student: Sequence[float], *,
               title: str = "The derivative, reference and yours", ylabel: str = "derivative",
               width: int = 640, height: int = 300, rtol: float = 1e-8,
               atol_scale: float = 1e-12) -> str:
    """The reference curve, the student's over it, and the z where they differ shaded.

    ``z`` is sorted (a grid such as [-4, 4]); the three sequences have one value
    per z. Values far outside the reference's range are clipped at the frame.
    """
    z, ref, mine = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (z, reference, student))
    if not z.size:
        return frame(width, 40, "curve", title, "no values", [draw_text(width / 2, 24, "no values")])
    box = (56.0, 40.0, width - 16.0, height - 44.0)
    left, top, right, bottom = box
    x0, x1 = float(z.min()), float(z.max())
    y0, y1 = _y_range(ref, mine)
    sx, sy = _scale(x0, x1, left, right), _scale(y0, y1, bottom, top)
    wrong = differing(ref, mine, rtol, atol_scale)

    body = [f'<rect class="plot-area" x="{coord(left)}" y="{coord(top)}" width="{coord(right - left)}" '
            f'height="{coord(bottom - top)}" fill="none" stroke="currentColor" '
            'stroke-opacity="0.5"/>']
    body += _linear_axes(box, nice_ticks(x0, x1, 8), nice_ticks(y0, y1, 5), sx, sy)
    inside = _differ_bands(z, wrong, sx, box)
    for values, kind, style in ((ref, "ref-line", f'stroke="{REF}" stroke-width="3"'),
                                (mine, "student-line", f'stroke="{STUDENT}" stroke-width="2" '
                                                       'stroke-dasharray="6 4"')):
        # Far-off values only need to leave the frame: bound them so no coordinate is huge.
        points = [(sx(x), min(max(sy(y), top - 500), bottom + 500)) if math.isfinite(y)
                  else None for x, y in zip(z, values)]
        inside += polylines(points, style, kind)
    body.append(_clipped(box, inside))
    clipped = bool(np.any(np.isfinite(mine) & ((mine < y0) | (mine > y1))))
    body += _worst_marker(z, ref, mine, wrong, sx, sy, (y0, y1), box)
    body += _legend(left, 16, [("ref", "reference"), ("student", "yours")]
                    + ([("band", "shaded: yours differs")] if wrong.any() else []))
    if clipped:
        body.append(draw_text(right - 4, top + 14, "some values are off the plot (clipped)", "end",
                          ' class="clipped-note"'))
    body.append(draw_text((left + right) / 2, bottom + 34, "z"))
    body.append(draw_text(14, (top + bottom) / 2, ylabel, "middle",
                      f' transform="rotate(-90 14 {coord((top + bottom) / 2)})"'))
    return frame(width, height, "curve", title, _curve_desc(z, wrong, ylabel), body)


def _clipped(box, parts: list[str]) -> str:
    """A nested <svg> over the plot area: it clips what leaves the frame, and needs no
    id (a clipPath would, and ids clash when a page holds several plots)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    return (f'<svg class="plot-inner" x="{coord(left)}" y="{coord(top)}" width="{coord(w)}" '
            f'height="{coord(h)}" viewBox="{coord(left)} {coord(top)} {coord(w)} {coord(h)}">'
            + "".join(parts) + "</svg>")


def _linear_axes(box, xticks, yticks, sx, sy) -> list[str]:
    left, top, right, bottom = box
    out = []
    for t in xticks:
        out.append('<g class="tick-x">' + draw_line(sx(t), top, sx(t), bottom,
                                                 f' stroke-opacity="{0.5 if t == 0 else 0.15}"')
                   + draw_text(sx(t), bottom + 16, _tick_text(t)) + "</g>")
    for t in yticks:
        out.append('<g class="tick-y">' + draw_line(left, sy(t), right, sy(t),
                                                 f' stroke-opacity="{0.5 if t == 0 else 0.15}"')
                   + draw_text(left - 6, sy(t) + 4, _tick_text(t), "end") + "</g>")
    return out


def _differ_bands(z: np.ndarray, wrong: np.ndarray, sx, box) -> list[str]:
    """One band per run of differing samples, reaching halfway to the neighbours, and at
    least a few pixels wide so a single wrong point (a kink) still shows."""
    left, top, right, bottom = box
    out = []
    for first, last in _runs(wrong):
        a = sx((z[first] + z[max(first - 1, 0)]) / 2)
        b = sx((z[last] + z[min(last + 1, len(z) - 1)]) / 2)
        if b - a < 5:
            a, b = (a + b) / 2 - 2.5, (a + b) / 2 + 2.5
        a, b = max(a, left), min(b, right)
        out.append(f'<rect class="differ" data-from="{z[first]:g}" data-to="{z[last]:g}" '
                   f'x="{coord(a)}" y="{coord(top)}" width="{coord(b - a)}" height="{coord(bottom - top)}" '
                   f'fill="{ERROR}" fill-opacity="0.18"><title>yours differs for z from '
                   f'{z[first]:g} to {z[last]:g}</title></rect>')
    return out


def _worst_marker(z, ref, mine, wrong, sx, sy, yrange, box) -> list[str]:
    """A ring and a label at the largest difference, which a thin band could hide."""
    if not wrong.any():
        return []
    gap = np.where(np.isfinite(mine), np.abs(mine - ref), np.inf)
    i = int(np.argmax(np.where(wrong, gap, -1.0)))
    x = sx(z[i])
    y = sy(min(max(mine[i], yrange[0]), yrange[1])) if math.isfinite(mine[i]) else box[1]
    left, _, right, _ = box
    anchor = "end" if x > (left + right) / 2 else "start"
    shift = -10 if anchor == "end" else 10
    label_y = min(max(y - 10, box[1] + 28), box[3] - 6)
    return [f'<circle class="worst" cx="{coord(x)}" cy="{coord(y)}" r="7" fill="none" '
            f'stroke="{ERROR}" stroke-width="2.5"/>',
            draw_text(x + shift, label_y, f"largest difference at z = {z[i]:g}", anchor,
                  ' class="worst-label" font-weight="bold"')]


def _curve_desc(z: np.ndarray, wrong: np.ndarray, ylabel: str) -> str:
    text = f"The reference {ylabel} and yours for z from {z.min():g} to {z.max():g}."
    runs = _runs(wrong)
    if not runs:
        return text + " They agree everywhere."
    spans = [f"{z[a]:g}" if a == b else f"{z[a]:g} to {z[b]:g}" for a, b in runs[:6]]
    more = f" and {len(runs) - 6} more places" if len(runs) > 6 else ""
    return text + " Yours differs at z = " + ", ".join(spans) + more + "."


# --- a histogram ----------------------------------------------------------------------------

def histogram(labels: Sequence[str], counts: Sequence[int], *, title: str = "Scores",
              xlabel: str = "share of the points", ylabel: str = "students",
              width: int = 640, height: int = 260) -> str:
    """Bars with their counts written on top (so the numbers never need the axis)."""
    box = (48.0, 20.0, width - 12.0, height - 48.0)
    left, top, right, bottom = box
    most = max(max(counts, default=0), 1)
    ticks = [t for t in nice_ticks(0, most, 4) if t == int(t)]
    hi = max(most, ticks[-1] if ticks else most)
    sy = _scale(0, hi, bottom, top)
    slot = (right - left) / max(len(counts), 1)
    body = [draw_line(left, bottom, right, bottom, ' stroke-opacity="0.6"')]
    body += ['<g class="tick-y">' + draw_line(left, sy(t), right, sy(t), ' stroke-opacity="0.15"')
             + draw_text(left - 6, sy(t) + 4, f"{t:g}", "end") + "</g>" for t in ticks]
    for i, (label, count) in enumerate(zip(labels, counts)):
        x = left + i * slot
        body.append(f'<rect class="hist-bar" data-count="{int(count)}" x="{coord(x + slot * 0.12)}" '
                    f'y="{coord(sy(count))}" width="{coord(slot * 0.76)}" '
                    f'height="{coord(bottom - sy(count))}" fill="{REF}"><title>{esc(label)}: '
                    f'{int(count)} {esc(ylabel)}</title></rect>')
        body.append(draw_text(x + slot / 2, sy(count) - 4, str(int(count))))
        body.append(draw_text(x + slot / 2, bottom + 15, label, "middle", ' font-size="10"'))
    body.append(draw_text((left + right) / 2, bottom + 36, xlabel))
    desc = "; ".join(f"{label}: {int(count)}" for label, count in zip(labels, counts))
    return frame(width, height, "histogram", title, f"{ylabel} per {xlabel}: {desc}.", body)
