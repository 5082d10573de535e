"""The explorer's terminal report: formatting only, every fact comes from lab and sweep.

Bars are log-scale block characters (the grader's own strip glyphs), input on the left
and output on the right, so the gradient flows right to left as in the lesson. Colour
repeats what a letter line already says, so nothing rests on colour alone.
"""

from __future__ import annotations

import math
import textwrap
from typing import Callable, Sequence

from grader.explore import measure, scenarios
from grader.explore.lab import Exploration
from grader.explore.sweep import Sweep, stable_band
from grader.report.strip import BLOCKS, HUGE, ZERO, layout, log_range

Style = Callable[..., str]
WIDTH = 72
LABEL = 8  # "  |dA|  "
ROWS_SHOWN = 24  # layers listed in full; deeper nets show both ends
CLASS_MARK = {"dead": "d", "healthy": "h", "large": "L", "exploding": "X", "undefined": "?"}
CLASS_COLOUR = {"dead": "blue", "healthy": "green", "large": "yellow", "exploding": "red",
                "vanishing": "blue", "undefined": "magenta"}


def plain(text: str, **_: object) -> str:
    return text


def g(x: float) -> str:
    """Three significant digits: every number the report prints."""
    return f"{x:.3g}"


def scenario_list() -> str:
    names = scenarios.SCENARIOS
    room = max(map(len, names))
    return "\n".join(["Scenarios: grader explore --scenario NAME (options given beside it "
                      "change it)"]
                     + [f"  {s.name:<{room}}  {s.summary}" for s in names.values()])


# --- one network ---------------------------------------------------------------------------

def render(e: Exploration, style: Style = plain) -> str:
    lines = header(e, style)
    lines += [""] + strips(e, style)
    lines += [""] + verdict(e, style)
    lines += [""] + layer_table(e)
    lines += [""] + chain_table(e)
    lines += [""] + history_lines(e, style)
    return "\n".join(lines)


def header(e: Exploration, style: Style) -> list[str]:
    c = e.config
    lines = [style(f"grader explore · {c.depth} layers x {c.width}, {c.activation}, {c.init} "
                   f"x {c.weight_scale:g}", bold=True),
             "  " + ", ".join(_remedies(c) + [f"batch {c.batch_size}", f"seed {c.seed}"])]
    if e.scenario:
        head = textwrap.wrap(f"scenario {e.scenario.name}: {e.scenario.summary}", WIDTH,
                             subsequent_indent="  ")
        lines += [style(head[0], fg="cyan"), *head[1:]]
        lines += textwrap.wrap(e.scenario.note, WIDTH, initial_indent="  ",
                               subsequent_indent="  ")
    return lines


def _remedies(c) -> list[str]:
    out = ["residual"] if c.residual else []
    if c.norm != "none":
        out.append(f"{c.norm} norm")
    if c.clip is not None:
        out.append(f"clip {c.clip:g}")
    return out + ([] if c.bias else ["no biases"])


def strips(e: Exploration, style: Style) -> list[str]:
    """|dA| and |dW| per layer relative to the output layer, on one shared log scale."""
    s = e.snapshot
    dA, dW = measure.relative(s.grad_norms), measure.relative(s.weight_grad_norms)
    per_column, columns = layout(len(dA), WIDTH - LABEL)
    lo, hi = log_range([*dA, *dW])
    groups = [range(i, min(i + per_column, len(dA))) for i in range(0, len(dA), per_column)]
    shown = [_top(dA, r) for r in groups]  # the layer each column of |dA| stands for
    colours = [CLASS_COLOUR[s.classes[i]] for i in shown]
    grouped = f", {per_column} layers a column" if per_column > 1 else ""
    return [f"Gradient per layer, relative to the output layer (= 1){grouped}",
            "  |dA|: at each layer's input (the backpropagated signal); |dW|: at its weights",
            f"  log scale {BLOCKS[0]} {g(10 ** lo)} … {BLOCKS[-1]} {g(10 ** hi)}; input left, "
            "output right",
            "  |dA|  " + "".join(style(_bar(dA[i], lo, hi) * columns, fg=colour)
                                 for i, colour in zip(shown, colours)),
            "        " + "".join(style(CLASS_MARK[s.classes[i]] * columns, fg=colour)
                                 for i, colour in zip(shown, colours)),
            "  |dW|  " + "".join(_bar(dW[_top(dW, r)], lo, hi) * columns for r in groups),
            "  " + "  ".join(style(CLASS_MARK[name], fg=CLASS_COLOUR[name]) + " " + text
                             for name, text in (("dead", "dead (< 0.01)"),
                                                ("healthy", "healthy"),
                                                ("large", "large (> 10)"),
                                                ("exploding", "exploding (> 100)")))]


def _top(values, group: range) -> int:
    """The layer of a group drawn: its largest value, so a spike is never averaged away."""
    shown = [i for i in group if not math.isnan(values[i])]
    return max(shown, key=lambda i: values[i]) if shown else group[0]


def _bar(value: float, lo: float, hi: float) -> str:
    if math.isnan(value):
        return "?"
    if math.isinf(value):
        return HUGE
    if value <= 0 or hi == lo:
        return ZERO if value <= 0 else BLOCKS[-1]
    level = (math.log10(value) - lo) / (hi - lo)
    return BLOCKS[max(0, min(len(BLOCKS) - 1, round(level * (len(BLOCKS) - 1))))]


def verdict(e: Exploration, style: Style) -> list[str]:
    s, L = e.snapshot, e.config.depth
    word = style(s.diagnosis.upper(), fg=CLASS_COLOUR.get(s.diagnosis, "green"), bold=True)
    lines = [f"ratio |dA_0| / |dA_{L - 1}| = {g(s.ratio)}  →  {word}",
             # dA_{l-1} is the gradient at layer l's input: the table numbers layers 1..L.
             f"  (|dA| of layer 1 over |dA| of layer {L}, the table's last and first rows)",
             f"  vanishing below 0.01, exploding above 100; |dW_1| / |dW_{L}| = "
             f"{g(s.weight_ratio)}"]
    if e.scenario and e.scenario.expected_ratio is not None:
        lines.append(f"theory for this scenario: ratio = {g(e.scenario.expected_ratio)}")
    for note in e.notes:
        lines += textwrap.wrap(note, WIDTH, initial_indent=style("note: ", fg="cyan"),
                               subsequent_indent="  ")
    return lines


def _shown_layers(L: int) -> list[int | None]:
    """Layer indices from the output down; None marks the elided middle of a deep net."""
    order = list(reversed(range(L)))
    if L <= ROWS_SHOWN:
        return order
    half = ROWS_SHOWN // 2
    return order[:half] + [None] + order[-half:]


def _elided(L: int) -> str:
    return f"  {'…':>5}  ({L - ROWS_SHOWN} layers not shown; --json has every layer)"


def layer_table(e: Exploration) -> list[str]:
    s = e.snapshot
    dA, dW = measure.relative(s.grad_norms), measure.relative(s.weight_grad_norms)
    lines = [f"Per layer, output at the top (1.0 is |dA| = {g(s.grad_norms[-1])}, "
             f"|dW| = {g(s.weight_grad_norms[-1])})",
             f"  {'layer':>5}  {'|dA| rel':>9}  {'gradient':<9}  {'|dW| rel':>9}  "
             f"{'learning':<8}  {'saturated':>9}  {'dead':>6}"]
    for i in _shown_layers(len(dA)):
        if i is None:
            lines.append(_elided(len(dA)))
            continue
        sat = s.saturation[i]
        flat, dead = ("-", "-") if sat is None else (_share(sat[0]), _share(sat[1]))
        lines.append(f"  {i + 1:>5}  {g(dA[i]):>9}  {s.classes[i]:<9}  {g(dW[i]):>9}  "
                     f"{s.learning_speed[i]:<8}  {flat:>9}  {dead:>6}")
    lines.append("  learning: fast from 0.1, slow from 0.001, frozen below (|dW| rel); "
                 "saturated:")
    lines.append("  |act'| < 5% of its largest; dead: no gradient for any example "
                 "of the batch")
    return lines


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def chain_table(e: Exploration) -> list[str]:
    c, L = e.snapshot.chain, e.config.depth
    lines = ["Chain rule, output at the top: |dA_{l-1}| <= ||W_l||_2 max|act'(H_l)| |dA_l|",
             f"  {'layer':>5}  {'||W||_2':>9}  {'max|act_|':>9}  {'factor':>9}  "
             f"{'product':>9}  {'measured':>9}".replace("act_", "act'")]
    for i in _shown_layers(L):
        if i is None:
            lines.append(_elided(L))
            continue
        lines.append(f"  {i + 1:>5}  {g(c.spectral_norms[i]):>9}  {g(c.max_act_grads[i]):>9}  "
                     f"{g(c.factors[i]):>9}  {g(c.products[i]):>9}  {g(c.measured[i]):>9}")
    lines.append("  product: the factors from the output down to the layer, which bound")
    lines.append("  |dA| / |dY_hat|; measured: that ratio itself. The output layer is linear.")
    if e.config.residual:
        lines.append("  With skip connections a layer's Jacobian is I + the branch's: the "
                     "product is")
        lines.append("  what the plain chain would do, the measured column what the skips do.")
    if e.config.norm != "none":
        lines.append(f"  The factors leave out {e.config.norm} norm's own Jacobian; the "
                     "measured column has it.")
    return lines


def history_lines(e: Exploration, style: Style) -> list[str]:
    h, c = e.history, e.config
    clip = f", clip max_norm {c.clip:g}" if c.clip is not None else ""
    head = f"Training: {c.steps} SGD steps, lr {c.lr:g}, MSE to a fixed random target{clip}"
    if not h.loss:
        return [head, "  (no steps)"]
    # The room left beside the sparkline is for the two losses, 9 characters at most each.
    spark = sparkline(h.loss, WIDTH - LABEL - 24)
    lines = [head, f"  loss  {spark}  {g(h.loss[0])} → {g(h.loss[-1])}",
             _history_row("step", "loss", "|dA| 1", f"|dA| {c.depth}", "|dW| 1",
                          f"|dW| {c.depth}", "all grads")]
    for t in sample_steps(len(h.loss)):
        row = _history_row(str(t), *(g(v) for v in (
            h.loss[t], h.grad_norms[t][0], h.grad_norms[t][-1], h.weight_grad_norms[t][0],
            h.weight_grad_norms[t][-1], h.total_norm[t])))
        lines.append(row + (" clipped" if h.clipped[t] else ""))
    if h.diverged_at is not None:
        lines.append(style(f"  diverged at step {h.diverged_at}: the loss is not finite", fg="red"))
    return lines


def _history_row(step: str, *cells: str) -> str:
    return f"  {step:>5}" + "".join(f" {cell:>9}" for cell in cells)


def sample_steps(n: int, most: int = 8) -> list[int]:
    """At most ``most`` steps, evenly spread, always the first and the last."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def sparkline(values: Sequence[float], width: int) -> str:
    """Log-scale blocks, one a step (the largest of a group when there are more steps
    than columns); non-finite values show as the off-scale mark."""
    per = max(1, math.ceil(len(values) / width))
    groups = [values[i:i + per] for i in range(0, len(values), per)]
    tops = [max(gr) if all(math.isfinite(v) for v in gr) else math.inf for gr in groups]
    lo, hi = log_range(tops)
    return "".join(_bar(v, lo, hi) for v in tops)


# --- the phase diagram ---------------------------------------------------------------------

LEVELS = ((1e-6, "vanishing"), (1e-4, "vanishing"), (1e-2, "vanishing"), (1.0, "healthy"),
          (1e2, "healthy"), (1e4, "exploding"), (1e6, "exploding"), (math.inf, "exploding"))
HEAT_LEGEND = (f"{BLOCKS[0]} < 1e-6  {BLOCKS[1]} < 1e-4  {BLOCKS[2]} < 0.01 vanishing · "
               f"{BLOCKS[3]} < 1  {BLOCKS[4]} <= 100 healthy · {BLOCKS[5]} <= 1e4  "
               f"{BLOCKS[6]} <= 1e6  {BLOCKS[7]} > 1e6 exploding")


def heat_level(ratio: float) -> int | None:
    """The block of a cell: heights rise with the ratio, and the healthy band (0.01 to 100,
    the diagnosis' own bounds) is exactly the middle two."""
    if math.isnan(ratio):
        return None
    if ratio == 100.0:
        return 4  # "exploding" is strictly above 100
    return next(i for i, (edge, _) in enumerate(LEVELS) if ratio < edge or math.isinf(edge))


def render_sweep(result: Sweep, style: Style = plain) -> str:
    grid = result.grid
    b = grid.base
    lines = [style("grader explore --sweep · gradient ratio |dA_0| / |dA_{L-1}| of the plain "
                   "MLP", bold=True),
             f"  {b.activation}, {b.init} x scale, width {b.width}, batch {b.batch_size}, "
             f"seed {b.seed}, zero biases"]
    for v, variant in enumerate(grid.variants):
        title = f"{grid.over} = {getattr(variant, grid.over)}" if grid.over else ""
        lines += [""] + heat_map(result, v, style, title)
    lines += ["", *textwrap.wrap("legend: " + HEAT_LEGEND, WIDTH, subsequent_indent="  ")]
    return "\n".join(lines)


def heat_map(result: Sweep, variant: int, style: Style, title: str = "") -> list[str]:
    grid = result.grid
    ratios = result.ratios[variant]
    cols = _columns(len(grid.scales), WIDTH - LABEL)
    depths = _depth_rows(grid.max_depth)
    lines = [title] if title else []
    lines.append("  depth (rows, deepest on top) x weight scale (columns, log)")
    for d in depths:
        row = "".join(_cell(ratios[d - 1, j], style) for j in cols)
        lines.append(f"  {d:>5} " + row)
    lines += _scale_axis([grid.scales[j] for j in cols])
    lines += band_lines(result, variant)
    return lines


def _columns(n: int, room: int) -> list[int]:
    step = max(1, math.ceil(n / room))
    return list(range(0, n, step))


def _depth_rows(max_depth: int, most: int = 50) -> list[int]:
    step = max(1, math.ceil(max_depth / most))
    return sorted({max_depth, *range(1, max_depth + 1, step)}, reverse=True)


def _cell(ratio: float, style: Style) -> str:
    level = heat_level(float(ratio))
    if level is None:
        return "?"
    return style(BLOCKS[level], fg=CLASS_COLOUR[LEVELS[level][1]])


def _scale_axis(scales: list[float]) -> list[str]:
    """Carets under the first, the last and the column nearest 1 (the usual critical
    multiplier), with their scales written under them."""
    picks = sorted({0, len(scales) - 1, min(range(len(scales)),
                                            key=lambda j: abs(math.log(scales[j])))})
    carets, labels = [" "] * len(scales), [" "] * (len(scales) + 8)
    for j in picks:
        carets[j] = "^"
        text = g(scales[j])
        start = max(0, min(j - len(text) // 2, len(labels) - len(text)))
        if all(c == " " for c in labels[max(0, start - 1):start + len(text) + 1]):
            labels[start:start + len(text)] = text
    return [" " * LABEL + "".join(carets), " " * LABEL + "".join(labels).rstrip()]


def band_lines(result: Sweep, variant: int) -> list[str]:
    """Where the healthy band lies at a few depths: it narrows as the net deepens."""
    bands = stable_band(result, variant)
    picks = sorted({len(bands), *(d for d in (2, 5, 10, 20, 50, 100) if d <= len(bands))})
    parts = [f"depth {b.depth}: " + (f"{g(b.low)} to {g(b.high)}" if b.low is not None
                                     else "none") for b in (bands[d - 1] for d in picks)]
    return textwrap.wrap("healthy scales at " + "; ".join(parts), WIDTH,
                         initial_indent="  ", subsequent_indent="  ")
