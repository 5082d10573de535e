"""The explorer's HTML page: one self-contained file (inline CSS and SVG, no script, no
external address), built from the grader's own report styles and SVG helpers.

Plots put layers from the input (left) to the output (right), as the terminal does;
series differ by dash and marker as well as colour, and every plot has its numbers in a
table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from grader.explore import measure
from grader.explore.lab import Exploration
from grader.explore.render import LEVELS, g, heat_level, sample_steps
from grader.explore.sweep import Sweep, stable_band
from grader.report.html import CSS
from grader.report.svg import (ERROR, REF, STUDENT, coord, frame, draw_line, log_axis, log_y,
                               polylines, draw_text, decade_label, decade_range, esc, nice_ticks)

PLOT_WIDTH = 560
GREEN = "#009E73"  # Okabe-Ito bluish green
GREY = "#777777"
EXTRA_CSS = """
.verdict { font-size: 1.2rem; font-weight: bold; }
.vanishing, .dead { color: #0072B2; } .exploding { color: var(--bad); }
.healthy { color: var(--good); } .large { color: #9a6a00; }
@media (prefers-color-scheme: dark) {
  .vanishing, .dead { color: #56B4E9; } .large { color: #F0E442; } }
.heat-legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle;
  margin: 0 4px 0 12px; border: 1px solid var(--line); }
"""


def document(title: str, body: list[str]) -> str:
    """A whole page: the grader's report stylesheet plus the explorer's few classes."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}{EXTRA_CSS}</style>\n</head>\n<body>\n"
            "<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str
    dashed: bool = False
    marker: str = "circle"  # or "square" or "none"


# --- a log-scale line plot -----------------------------------------------------------------

def log_plot(xs: Sequence[float], series: Sequence[Series], *, title: str, xlabel: str,
             ylabel: str, guides: Sequence[tuple[float, str]] = (), kind: str = "log-plot",
             width: int = PLOT_WIDTH, height: int = 300) -> str:
    """Lines over xs on a log y axis; ``guides`` are dashed horizontal lines with a label.
    Values that are 0, infinite or NaN break the line (they have no place on the axis)."""
    box = (68.0, 52.0, width - 20.0, height - 58.0)
    left, top, right, bottom = box
    shown = [v for s in series for v in s.values] + [v for v, _ in guides]
    lo, hi, step = decade_range(shown)
    x0, x1 = min(xs), max(xs)
    sx = (lambda x: (left + right) / 2) if x0 == x1 else (
        lambda x: left + (x - x0) / (x1 - x0) * (right - left))
    body = [f'<rect class="plot-area" x="{coord(left)}" y="{coord(top)}" width="{coord(right - left)}" '
            f'height="{coord(bottom - top)}" fill="none" stroke="currentColor" '
            'stroke-opacity="0.5"/>']
    body += log_axis(lo, hi, step, box)
    body += _x_ticks(x0, x1, sx, bottom)
    body += _guides(guides, lo, hi, box)
    for s in series:
        body += _series(xs, s, sx, lo, hi, box)
    body += _legend(left, 18, series)
    body.append(draw_text((left + right) / 2, bottom + 36, xlabel))
    body.append(draw_text(14, (top + bottom) / 2, ylabel, "middle",
                      f' transform="rotate(-90 14 {coord((top + bottom) / 2)})"'))
    desc = (f"{', '.join(s.label for s in series)} against {xlabel}, log scale from "
            f"{decade_label(lo)} to {decade_label(hi)}.")
    return frame(width, height, kind, title, desc, body)


def _x_ticks(x0: float, x1: float, sx, bottom: float) -> list[str]:
    ticks = [t for t in nice_ticks(x0, x1, 6) if x0 <= t <= x1 and t == int(t)] or [x0]
    return [f'<g class="tick-x">{draw_line(sx(t), bottom, sx(t), bottom + 5)}'
            f"{draw_text(sx(t), bottom + 18, f'{t:g}')}</g>" for t in ticks]


def _guides(guides, lo, hi, box) -> list[str]:
    left, top, right, bottom = box
    out = []
    for value, label in guides:
        placed = log_y(value, lo, hi, top, bottom)
        if placed is None or placed[1] != "value":
            continue
        y = placed[0]
        out.append(draw_line(left, y, right, y, ' stroke-dasharray="2 3" stroke-opacity="0.7"',
                         GREY))
        out.append(draw_text(right - 4, y - 4, label, "end", ' class="guide" font-size="10"'))
    return out


def _series(xs, s: Series, sx, lo, hi, box) -> list[str]:
    left, top, right, bottom = box
    points = []
    for x, v in zip(xs, s.values):
        placed = log_y(v, lo, hi, top, bottom) if math.isfinite(v) and v > 0 else None
        points.append((sx(x), placed[0]) if placed else None)
    style = (f'stroke="{s.colour}" stroke-width="2.5"'
             + (' stroke-dasharray="6 4"' if s.dashed else ""))
    out = polylines(points, style, "series")
    if s.marker != "none" and len(xs) <= 60:
        out += [_marker(p, s, x, v) for p, x, v in zip(points, xs, s.values) if p]
    else:
        # A point with no finite neighbour makes no line (a run that diverged at step 1
        # has one finite step): it is drawn as a dot, so what exists is shown.
        out += [_marker(p, s, x, v) for i, (p, x, v) in enumerate(zip(points, xs, s.values))
                if p and _lone(points, i)]
    return out


def _lone(points: list, i: int) -> bool:
    return (i == 0 or points[i - 1] is None) and (i + 1 == len(points) or points[i + 1] is None)


def _marker(point, s: Series, x: float, v: float) -> str:
    px, py = point
    tip = f"<title>{esc(s.label)} at {x:g}: {v:.4g}</title>"
    if s.marker == "square":
        return (f'<rect x="{coord(px - 3.5)}" y="{coord(py - 3.5)}" width="7" height="7" '
                f'fill="{s.colour}">{tip}</rect>')
    return f'<circle cx="{coord(px)}" cy="{coord(py)}" r="4" fill="{s.colour}">{tip}</circle>'


def _legend(x: float, y: float, series: Sequence[Series]) -> list[str]:
    out = []
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(draw_line(x, y, x + 22, y, f' stroke-width="2.5"{dash}', s.colour))
        out.append(draw_text(x + 27, y + 4, s.label, "start"))
        x += 27 + 6.4 * len(s.label) + 18
    return out


# --- the exploration page ------------------------------------------------------------------

def exploration_page(e: Exploration) -> str:
    c, s = e.config, e.snapshot
    title = f"grader explore: {c.depth} layers, {c.activation}, {c.init} x {c.weight_scale:g}"
    body = [f"<h1>{esc(title)}</h1>", _config_html(e),
            f'<p class="verdict">ratio |dA<sub>0</sub>| / |dA<sub>{c.depth - 1}</sub>| = '
            f'{esc(g(s.ratio))}: <span class="{esc(s.diagnosis)}">{esc(s.diagnosis)}</span></p>',
            '<p class="muted">Vanishing below 0.01, exploding above 100. The weight gradients '
            f"give |dW<sub>1</sub>| / |dW<sub>{c.depth}</sub>| = {esc(g(s.weight_ratio))}.</p>"]
    body += [f"<p>{esc(note)}</p>" for note in e.notes]
    body += ["<h2>Gradient per layer</h2>", _layers_figure(e), _layer_table(e),
             "<h2>Chain rule</h2>", _chain_figure(e), _chain_table(e),
             "<h2>Training</h2>", _history_figures(e), _history_table(e)]
    return document(title, body)


def _config_html(e: Exploration) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>"
                   for k, v in e.config.to_dict().items())
    scenario = ""
    if e.scenario:
        scenario = (f"<p><strong>Scenario {esc(e.scenario.name)}</strong>: "
                    f"{esc(e.scenario.summary)}. {esc(e.scenario.note)}</p>")
    return (scenario + '<details><summary>Options</summary><div class="wide"><table>'
            + rows + "</table></div></details>")


def _layers_figure(e: Exploration) -> str:
    s = e.snapshot
    xs = list(range(1, e.config.depth + 1))
    plot = log_plot(xs, [Series("|dA| (signal)", measure.relative(s.grad_norms), REF),
                         Series("|dW| (weights)", measure.relative(s.weight_grad_norms),
                                STUDENT, dashed=True, marker="square")],
                    title="Gradient per layer relative to the output layer",
                    xlabel="layer (input left, output right; the gradient flows right to left)",
                    ylabel="relative to the output layer",
                    guides=[(measure.VANISH_BELOW, "vanishing below"),
                            (measure.EXPLODE_ABOVE, "exploding above")], kind="layer-gradients")
    return (f"<figure>{plot}<figcaption>The diagnosis reads |dA|, the gradient at each "
            "layer's input; |dW| is shown beside it because weight gradients can stay level "
            "while the signal vanishes or explodes.</figcaption></figure>")


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str) -> str:
    th = "".join(f'<th class="num">{h}</th>' for h in head)
    tr = "".join("<tr>" + "".join(f'<td class="num">{cell}</td>' for cell in row) + "</tr>"
                 for row in rows)
    return (f'<details><summary>The numbers</summary><div class="wide"><table class="{cls}">'
            f"<thead><tr>{th}</tr></thead><tbody>{tr}</tbody></table></div></details>")


def _share(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def _layer_table(e: Exploration) -> str:
    s = e.snapshot
    rows = []
    for i in reversed(range(e.config.depth)):
        sat = s.saturation[i] or (None, None)
        rows.append([str(i + 1), esc(g(s.grad_norms[i])),
                     f'<span class="{s.classes[i]}">{s.classes[i]}</span>',
                     esc(g(s.weight_grad_norms[i])), s.learning_speed[i], _share(sat[0]),
                     _share(sat[1])])
    return _table(["layer", "|dA|", "gradient", "|dW|", "learning", "saturated", "dead"],
                  rows, "layers")


def _chain_figure(e: Exploration) -> str:
    c = e.snapshot.chain
    xs = list(range(1, e.config.depth + 1))
    plot = log_plot(xs, [Series("product of factors (bound)", c.products, GREY, dashed=True,
                                marker="none"),
                         Series("measured |dA| / |dY_hat|", c.measured, REF)],
                    title="Chain rule: the bound and the measured gradient",
                    xlabel="layer", ylabel="relative to |dY_hat|", kind="chain-rule")
    remedy = (" Here skip connections or a norm change each layer's Jacobian, so the product "
              "shows what the plain chain would do, and the measured line what this net does."
              if e.config.residual or e.config.norm != "none" else "")
    return (f"<figure>{plot}<figcaption>Each layer multiplies the gradient by at most "
            "||W<sub>l</sub>||<sub>2</sub> max|act′(H<sub>l</sub>)|; the product of these "
            f"factors from the output down bounds the plain MLP's gradient.{remedy}"
            "</figcaption></figure>")


def _chain_table(e: Exploration) -> str:
    c = e.snapshot.chain
    rows = [[str(i + 1), *(esc(g(v[i])) for v in (c.spectral_norms, c.max_act_grads,
                                                  c.factors, c.products, c.measured))]
            for i in reversed(range(e.config.depth))]
    return _table(["layer", "||W||<sub>2</sub>", "max|act′|", "factor", "product", "measured"],
                  rows, "chain")


def _history_figures(e: Exploration) -> str:
    h, L = e.history, e.config.depth
    if not h.loss:
        return '<p class="muted">No training steps.</p>'
    steps = list(range(len(h.loss)))
    loss = log_plot(steps, [Series("loss", h.loss, REF, marker="none")], title="Loss",
                    xlabel="step", ylabel="MSE loss", kind="loss")
    norms = log_plot(steps, [Series("|dA| layer 1", [r[0] for r in h.grad_norms], REF,
                                    marker="none"),
                             Series(f"|dA| layer {L}", [r[-1] for r in h.grad_norms], REF,
                                    dashed=True, marker="none"),
                             Series("|dW| layer 1", [r[0] for r in h.weight_grad_norms],
                                    STUDENT, marker="none"),
                             Series(f"|dW| layer {L}", [r[-1] for r in h.weight_grad_norms],
                                    STUDENT, dashed=True, marker="none")],
                     title="First and last layer gradients", xlabel="step",
                     ylabel="gradient norm", kind="history-norms")
    stop = (f" The loss stopped being finite at step {h.diverged_at}." if h.diverged_at
            is not None else "")
    return (f"<figure>{loss}<figcaption>SGD on the MSE against a fixed random target.{stop}"
            f"</figcaption></figure><figure>{norms}<figcaption>Before any clipping."
            "</figcaption></figure>")


def _history_table(e: Exploration) -> str:
    h = e.history
    rows = [[str(t), esc(g(h.loss[t])), esc(g(h.grad_norms[t][0])), esc(g(h.grad_norms[t][-1])),
             esc(g(h.weight_grad_norms[t][0])), esc(g(h.weight_grad_norms[t][-1])),
             esc(g(h.total_norm[t])) + (" clipped" if h.clipped[t] else "")]
            for t in sample_steps(len(h.loss), 12)]
    return _table(["step", "loss", "|dA| first", "|dA| last", "|dW| first", "|dW| last",
                   "all grads"], rows, "history")


# --- the phase diagram page ----------------------------------------------------------------

FILLS = ((REF, 1.0), (REF, 0.65), (REF, 0.3), (GREEN, 0.45), (GREEN, 0.8), (ERROR, 0.3),
         (ERROR, 0.65), (ERROR, 1.0))
LEVEL_TEXT = ("below 1e-6", "1e-6 to 1e-4", "1e-4 to 0.01", "0.01 to 1", "1 to 100",
              "100 to 1e4", "1e4 to 1e6", "above 1e6")


def sweep_page(result: Sweep) -> str:
    grid, b = result.grid, result.grid.base
    title = f"grader explore --sweep: {b.activation}, {b.init}, width {b.width}"
    body = [f"<h1>{esc(title)}</h1>",
            "<p>The gradient ratio |dA<sub>0</sub>| / |dA<sub>L-1</sub>| of the plain MLP for "
            "every depth and weight scale (the initializer's draws times the scale, zero "
            f"biases, batch {b.batch_size}, seed {b.seed}). Healthy (green) is the band "
            "0.01 to 100; it narrows around the critical scale as the net deepens.</p>",
            _heat_legend()]
    for v, variant in enumerate(grid.variants):
        label = f"{grid.over} = {getattr(variant, grid.over)}" if grid.over else b.activation
        body += [f"<h2>{esc(label)}</h2>", f"<figure>{heat_svg(result, v, label)}</figure>",
                 _band_table(result, v)]
    return document(title, body)


def _heat_legend() -> str:
    items = "".join(f'<span style="background:{colour};opacity:{opacity}"></span>'
                    f"{esc(text)} ({LEVELS[i][1]})" for i, ((colour, opacity), text)
                    in enumerate(zip(FILLS, LEVEL_TEXT)))
    return f'<p class="heat-legend">{items}</p>'


def heat_svg(result: Sweep, variant: int, label: str, width: int = PLOT_WIDTH) -> str:
    grid = result.grid
    ratios = result.ratios[variant]
    D, S = ratios.shape
    cell_h = max(3.0, min(12.0, 300.0 / D))
    box = (68.0, 20.0, width - 20.0, 20.0 + cell_h * D)
    left, top, right, bottom = box
    cell_w = (right - left) / S
    body = []
    for d in range(D):
        y = bottom - (d + 1) * cell_h  # depth 1 at the bottom
        body += _heat_row(ratios[d], d + 1, grid.scales, left, y, cell_w, cell_h)
    body += _heat_axes(grid, box, cell_w, cell_h, D)
    desc = (f"Gradient ratio for depth 1 to {D} (bottom to top) and {S} weight scales from "
            f"{grid.scales[0]:g} to {grid.scales[-1]:g} (left to right, log), {label}.")
    return frame(width, int(bottom + 50), "heat-map", f"Phase diagram, {label}", desc, body)


def _heat_row(row, depth, scales, left, y, cell_w, cell_h) -> list[str]:
    """One rectangle per run of equal level: a few hundred elements for the whole map."""
    out, start = [], 0
    levels = [heat_level(float(r)) for r in row]
    for j in range(1, len(levels) + 1):
        if j < len(levels) and levels[j] == levels[start]:
            continue
        level = levels[start]
        colour, opacity = FILLS[level] if level is not None else (GREY, 0.3)
        what = LEVEL_TEXT[level] if level is not None else "not a number"
        out.append(f'<rect class="cell" data-depth="{depth}" data-level="{level}" '
                   'shape-rendering="crispEdges" '
                   f'x="{coord(left + start * cell_w)}" y="{coord(y)}" '
                   f'width="{coord((j - start) * cell_w)}" height="{coord(cell_h)}" fill="{colour}" '
                   f'fill-opacity="{opacity}"><title>depth {depth}, scale {scales[start]:.3g}'
                   f" to {scales[j - 1]:.3g}: ratio {what}</title></rect>")
        start = j
    return out


def _heat_axes(grid, box, cell_w, cell_h, D) -> list[str]:
    left, top, right, bottom = box
    out = [f'<rect x="{coord(left)}" y="{coord(top)}" width="{coord(right - left)}" '
           f'height="{coord(bottom - top)}" fill="none" stroke="currentColor" '
           'stroke-opacity="0.5"/>']
    lo, hi = math.log(grid.scales[0]), math.log(grid.scales[-1])
    for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16):
        if grid.scales[0] <= t <= grid.scales[-1]:
            x = left + cell_w / 2 + (math.log(t) - lo) / (hi - lo) * (right - left - cell_w)
            out.append(draw_line(x, bottom, x, bottom + 5) + draw_text(x, bottom + 18, f"{t:g}"))
    for d in sorted({1, D, *range(10, D + 1, 10)}):
        y = bottom - (d - 0.5) * cell_h
        out.append(draw_text(left - 6, y + 4, str(d), "end"))
    out.append(draw_text((left + right) / 2, bottom + 38, "weight scale (log)"))
    out.append(draw_text(14, (top + bottom) / 2, "depth", "middle",
                     f' transform="rotate(-90 14 {coord((top + bottom) / 2)})"'))
    return out


def _band_table(result: Sweep, variant: int) -> str:
    rows = [[str(b.depth), "none" if b.low is None else esc(g(b.low)),
             "none" if b.high is None else esc(g(b.high))]
            for b in reversed(stable_band(result, variant))]
    return _table(["depth", "lowest healthy scale", "highest healthy scale"], rows, "band")

