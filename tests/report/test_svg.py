"""The hand-drawn SVG plots, parsed back as XML and checked for structure and geometry."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from grader.checks.model import LayerRow
from grader.report import svg

GRID = np.arange(-80, 81) / 20.0


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "svg"
    return root


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in e.get("class", "").split()]


def rows_from(ref, student, match) -> tuple[LayerRow, ...]:
    return tuple(LayerRow(i + 1, r, s, 0.0 if m else 1.0, m)
                 for i, (r, s, m) in enumerate(zip(ref, student, match)))


def point_x(e: ET.Element) -> float:
    if e.tag == "circle":
        return float(e.get("cx"))
    if e.tag == "rect":
        return float(e.get("x")) + float(e.get("width")) / 2
    xs = [float(p.split(",")[0]) for p in e.get("d").replace("M", "").replace("Z", "")
          .replace("L", "").split()]
    return (min(xs) + max(xs)) / 2


def point_y(e: ET.Element) -> float:
    if e.tag == "circle":
        return float(e.get("cy"))
    return float(e.get("y")) + float(e.get("height")) / 2


def numbers_in(root: ET.Element) -> list[float]:
    """Every coordinate-like attribute value, to check none is absurd."""
    out = []
    for e in root.iter():
        for key in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"):
            if e.get(key) is not None:
                out.append(float(e.get(key)))
        if e.get("points"):
            out += [float(v) for pair in e.get("points").split() for v in pair.split(",")]
    return out


# --- layer_norm_plot ------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 7, 30, 60])
def test_one_point_per_layer_and_the_output_on_the_right(n):
    rng = np.random.default_rng(n)
    norms = 10.0 ** rng.uniform(-5, 5, n)
    root = parse(svg.layer_norm_plot(rows_from(norms, norms * 1.5, [True] * n)))
    students, refs = by_class(root, "student-point"), by_class(root, "ref-point")
    assert [int(e.get("data-layer")) for e in students] == list(range(1, n + 1))
    assert [int(e.get("data-layer")) for e in refs] == list(range(1, n + 1))
    xs = [point_x(e) for e in students]
    assert xs == sorted(xs) and len(set(xs)) == n  # layer 1 leftmost, layer n rightmost
    assert [point_x(e) for e in refs] == pytest.approx(xs)


def test_the_entry_layer_is_banded_and_labelled():
    # Layers 2 and 5 differ: the error enters at 5 (the one nearest the output).
    rows = rows_from([1.0] * 8, [1.0, 3.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0],
                     [True, False, True, True, False, True, True, True])
    root = parse(svg.layer_norm_plot(rows))
    (band,) = by_class(root, "entry-band")
    (label,) = by_class(root, "entry-label")
    assert band.get("data-layer") == label.get("data-layer") == "5"
    assert "error enters here" in label.text
    point = next(e for e in by_class(root, "student-point") if e.get("data-layer") == "5")
    centre = float(band.get("x")) + float(band.get("width")) / 2
    assert centre == pytest.approx(point_x(point), abs=0.11)
    assert {e.get("data-layer") for e in by_class(root, "student-point")
            if e.get("data-match") == "no"} == {"2", "5"}
    assert "The error enters at layer 5" in root.find("desc").text


def test_no_band_when_every_layer_matches():
    root = parse(svg.layer_norm_plot(rows_from([1.0, 2.0], [1.0, 2.0], [True, True])))
    assert not by_class(root, "entry-band") and not by_class(root, "entry-label")
    assert "Every layer matches" in root.find("desc").text


def test_the_log_scale_maps_decades_evenly():
    norms = [1e-3, 1.0, 1e3, 1e6]
    root = parse(svg.layer_norm_plot(rows_from(norms, norms, [True] * 4)))
    ticks = {int(g.get("data-decade")): float(g.find("line").get("y1"))
             for g in by_class(root, "tick-y")}
    decades = sorted(ticks)
    gaps = [ticks[a] - ticks[b] for a, b in zip(decades, decades[1:])]
    assert len(gaps) >= 3 and max(gaps) - min(gaps) < 0.2  # evenly spaced, upwards
    per_decade = (ticks[decades[0]] - ticks[decades[-1]]) / (decades[-1] - decades[0])
    for e in by_class(root, "ref-point"):
        k = math.log10(norms[int(e.get("data-layer")) - 1])
        expected = ticks[decades[0]] - (k - decades[0]) * per_decade
        assert point_y(e) == pytest.approx(expected, abs=0.11)


@pytest.mark.parametrize("lo, hi", [(1e-30, 1e30), (1e-30, 1e-28), (1.0, 1.0), (3e-7, 4e25)])
def test_tick_labels_stay_few_whatever_the_span(lo, hi):
    first, last, step = svg.decade_range([lo, hi])
    assert first <= math.log10(lo) and math.log10(hi) < last
    assert (last - first) / step <= 8 and (last - first) % step == 0


def test_zero_and_infinite_norms_are_clamped_and_marked():
    ref = [1e-30, 1e-10, 1.0, 1e10, 1e30]
    student = [0.0, 1e-10, 1.0, math.inf, 1e30]
    root = parse(svg.layer_norm_plot(rows_from(ref, student, [False, True, True, False, True])))
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    kinds = {e.get("data-layer"): e.get("class").split()[-1]
             for e in by_class(root, "student-point")}
    assert kinds == {"1": "zero", "2": "value", "3": "value", "4": "inf", "5": "value"}
    assert all(math.isfinite(v) and -50 <= v <= max(width, height) + 50 for v in numbers_in(root))
    assert "Off the scale (0 or infinite): layers 1, 4" in root.find("desc").text
    area = by_class(root, "plot-area")[0]
    bottom = float(area.get("y")) + float(area.get("height"))
    zero = next(e for e in by_class(root, "student-point") if e.get("data-layer") == "1")
    assert str(round(bottom, 1)) in zero.get("d")  # drawn on the bottom edge


def test_hidden_reference_shows_the_student_only():
    rows = rows_from([math.nan] * 3, [1.0, 10.0, 100.0], [True, True, False])
    root = parse(svg.layer_norm_plot(rows))
    assert not by_class(root, "ref-point") and not by_class(root, "ref-line")
    assert len(by_class(root, "student-point")) == 3
    assert "reference is hidden" in root.find("desc").text
    assert any(t.text == "reference hidden" for t in root.iter("text"))


def test_accessible_and_not_colour_alone():
    root = parse(svg.layer_norm_plot(rows_from([1.0, 2.0], [1.0, 3.0], [True, False])))
    assert root.get("role") == "img" and root.get("aria-label")
    assert [child.tag for child in root][:2] == ["title", "desc"]
    (student,) = by_class(root, "student-line")
    (ref,) = by_class(root, "ref-line")
    assert student.get("stroke-dasharray") and not ref.get("stroke-dasharray")
    assert student.get("stroke") == svg.STUDENT and ref.get("stroke") == svg.REF
    assert "http" not in svg.layer_norm_plot(rows_from([1.0], [1.0], [True]))


def test_text_is_escaped():
    nasty = '<script>alert("x")</script> & "quotes"'
    text = svg.layer_norm_plot(rows_from([1.0], [2.0], [False]), title=nasty, quantity=nasty)
    root = parse(text)
    assert not list(root.iter("script"))
    assert root.find("title").text == nasty and root.get("aria-label") == nasty


def test_no_data_still_gives_an_svg():
    assert parse(svg.layer_norm_plot(())).find("desc").text == "no layers"
    assert parse(svg.curve_plot([], [], [])).find("desc").text == "no values"


# --- curve_plot -----------------------------------------------------------------------------

def test_a_wrong_kink_is_shaded_at_zero():
    ref = np.where(GRID > 0, 1.0, 0.0)
    mine = np.where(GRID >= 0, 1.0, 0.0)
    root = parse(svg.curve_plot(GRID, ref, mine))
    (band,) = by_class(root, "differ")
    assert band.get("data-from") == band.get("data-to") == "0"
    assert float(band.get("width")) >= 5  # a single point still shows
    (ref_line,) = by_class(root, "ref-line")
    assert len(ref_line.get("points").split()) == 161
    (worst,) = by_class(root, "worst-label")
    assert worst.text == "largest difference at z = 0"
    assert "Yours differs at z = 0." in root.find("desc").text


def test_shaded_runs_follow_the_differences():
    ref = 1.0 / (1.0 + np.exp(-GRID))
    ref = ref * (1.0 - ref)
    mine = np.where(np.abs(GRID) <= 1.0, ref, ref + 0.1)  # wrong outside [-1, 1]
    root = parse(svg.curve_plot(GRID, ref, mine))
    spans = [(b.get("data-from"), b.get("data-to")) for b in by_class(root, "differ")]
    assert spans == [("-4", "-1.05"), ("1.05", "4")]


def test_no_shading_when_the_curves_agree():
    ref = np.tanh(GRID)
    root = parse(svg.curve_plot(GRID, ref, ref.copy()))
    assert not by_class(root, "differ") and not by_class(root, "worst")
    assert "agree everywhere" in root.find("desc").text


def test_wild_values_are_clipped_not_squashed():
    ref = np.where(GRID > 0, 1.0, 0.01)
    mine = ref.copy()
    mine[10] = 1e30
    root = parse(svg.curve_plot(GRID, ref, mine))
    assert by_class(root, "clipped-note")
    (inner,) = by_class(root, "plot-inner")  # the nested <svg> that clips the lines
    assert by_class(inner, "student-line") and by_class(inner, "ref-line")
    assert all(math.isfinite(v) and abs(v) < 2000 for v in numbers_in(root))
    ticks = [float(t.text.replace("\u2212", "-")) for g in by_class(root, "tick-y")
             for t in g.iter("text")]
    assert max(ticks) <= 3  # the reference's range, not 1e30's


def test_non_finite_student_values_break_the_line():
    ref = np.tanh(GRID)
    mine = ref.copy()
    mine[80] = np.nan
    root = parse(svg.curve_plot(GRID, ref, mine))
    assert len(by_class(root, "student-line")) == 2
    assert [b.get("data-from") for b in by_class(root, "differ")] == ["0"]


def test_nice_ticks_are_round():
    assert svg.nice_ticks(-4, 4, 8) == [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    assert svg.nice_ticks(-0.1, 1.1, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert svg.nice_ticks(0, 13, 4) == [0, 5, 10]


# --- histogram ------------------------------------------------------------------------------

def test_histogram_bars_and_counts():
    labels = [f"{10 * i}–{10 * i + 10}%" for i in range(10)]
    counts = [0, 1, 0, 2, 3, 5, 8, 13, 4, 2]
    root = parse(svg.histogram(labels, counts))
    bars = by_class(root, "hist-bar")
    assert [int(b.get("data-count")) for b in bars] == counts
    heights = [float(b.get("height")) for b in bars]
    assert heights[7] == max(heights) and heights[0] == 0
    assert heights[6] / heights[7] == pytest.approx(8 / 13, abs=0.01)
    assert "70–80%: 13" in root.find("desc").text


def test_histogram_escapes_labels_and_survives_an_empty_class():
    root = parse(svg.histogram(["<b>", "&"], [0, 0]))
    assert [t.text for t in root.iter("text") if t.text in ("<b>", "&")] == ["<b>", "&"]
