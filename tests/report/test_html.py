"""The HTML reports: self-contained, escaped, and carrying the right plots."""

import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np

from buggy_grading import graded
from grader.batch.summary import Summary
from grader.checks import status
from grader.checks.model import CaseResult, LayerRow
from grader.report.html import class_html, submission_html
from grader.results import CheckResult, ExerciseResult, SubmissionResult

NASTY = '<script>alert("owned")</script>'


class Page(HTMLParser):
    """The parts of a page the tests look at: tags, attributes, text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.texts_in: dict[str, list[str]] = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]

    def handle_data(self, data):
        self.text.append(data)
        for tag in set(self.open):
            self.texts_in.setdefault(tag, []).append(data)

    def having(self, tag: str, cls: str | None = None) -> list[dict]:
        return [a for t, a in self.tags
                if t == tag and (cls is None or cls in (a.get("class") or "").split())]


def svgs(text: str, kind: str) -> list[ET.Element]:
    """Each inline <svg class="plot KIND">, parsed as XML (the plots are well-formed)."""
    out = []
    for start in (m.start() for m in re.finditer(f'<svg class="plot {kind}"', text)):
        depth = 0  # a plot may nest an <svg> of its own
        for tag in re.finditer(r"<svg\b|</svg>", text[start:]):
            depth += 1 if tag.group() == "<svg" else -1
            if depth == 0:
                out.append(ET.fromstring(text[start:start + tag.end()]))
                break
    return out


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in e.get("class", "").split()]


def hand_made(hidden_cases: bool = False, stdout: str = "") -> SubmissionResult:
    rows = tuple(LayerRow(k, math.nan if hidden_cases else 10.0 ** k, 10.0 ** k * (1 + (k < 3)),
                          0.5 * (k < 3), k >= 3) for k in range(1, 5))
    z = tuple(float(v) for v in np.arange(-80, 81) / 20.0)
    ref = tuple(float(v > 0) for v in z)
    mine = tuple(float(v >= 0) for v in z)
    backward = CheckResult("backward", "mlp_backward", "the MLP backward pass", 0.0, 6.0, (
        CaseResult("case <1>", status.WRONG, f"the error enters at layer 2 {NASTY}",
                   f"hint {NASTY}", hidden_cases, rows),
        CaseResult("case 2", status.PASSED)))
    relu = CheckResult("activations", "relu_grad", "", 0.0, 1.0, (
        CaseResult("grid", status.WRONG, "relu_grad is wrong at z = 0", "relu'(0) = 0",
                   curve=(z, ref, mine)),))
    fine = CheckResult("activations", "relu", "ReLU", 1.0, 1.0, (CaseResult("a", "passed"),))
    todo = CheckResult("activations", "elu", "", 0.0, 1.0, (
        CaseResult("a", status.NOT_IMPLEMENTED, "elu is not implemented yet",
                   where="activations.py:12"),))
    return SubmissionResult("folder <x>", f"student {NASTY}", "Course & co", (
        ExerciseResult("activations", "activations", "Activations", (relu, fine, todo),
                       stdout=stdout),
        ExerciseResult("backward", "backward", "Backward <pass>", (backward,),
                       stdout=stdout)), hidden_cases)


# --- one submission, made by hand ----------------------------------------------------------

def test_self_contained_phone_ready_and_script_free():
    text = submission_html(hand_made(stdout=f"debug {NASTY}\nline 2"))
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>")
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in \
        page.having("meta")
    assert not page.having("script") and not page.having("link") and not page.having("img")
    assert "http" not in text.lower() and "//" not in re.sub(r"<style>.*?</style>", "", text,
                                                                 flags=re.S)
    assert not any(key in attrs for _, attrs in page.tags for key in ("src", "href"))
    assert not any(key.startswith("on") for _, attrs in page.tags for key in attrs)


def test_student_text_is_escaped_everywhere():
    text = submission_html(hand_made(stdout=f"debug {NASTY}"))
    page = Page(text)
    assert NASTY not in text and "&lt;script&gt;" in text
    assert not page.having("script")
    assert any(NASTY in chunk for chunk in page.texts_in["pre"])  # printed, shown as text
    assert any(NASTY in chunk for chunk in page.texts_in["p"])  # the message and the hint
    assert any(NASTY in chunk for chunk in page.texts_in["title"])  # the student id


def test_scores_failures_and_passed_checks():
    text = submission_html(hand_made())
    page = Page(text)
    assert "Score 1 / 9" in "".join(page.text)
    assert len(page.having("table", "scores")) == 1 and len(page.having("span", "bar")) == 2
    articles = page.having("article", "check")
    assert len(articles) == 3  # relu_grad, elu (not implemented), mlp_backward
    assert "not implemented yet" in text and "activations.py:12" in text
    details = "".join(page.texts_in["details"])
    assert "Passed checks (1 of 3)" in details and "relu" in details


def test_the_layer_plot_and_the_curve_are_inline():
    text = submission_html(hand_made())
    (layers,) = svgs(text, "layer-norms")
    (band,) = by_class(layers, "entry-band")
    assert band.get("data-layer") == "2"
    assert len(by_class(layers, "student-point")) == 4 == len(by_class(layers, "ref-point"))
    (curve,) = svgs(text, "curve")
    assert [b.get("data-from") for b in by_class(curve, "differ")] == ["0"]
    assert "The numbers per layer" in text


def test_hidden_cases_show_no_reference_and_no_printed_output():
    text = submission_html(hand_made(hidden_cases=True, stdout="secret-looking input"))
    (layers,) = svgs(text, "layer-norms")
    assert not by_class(layers, "ref-point")
    assert "secret-looking input" not in text and "not shown, because hidden cases ran" in text
    assert "public and hidden cases" in text


def test_printed_output_is_capped():
    text = submission_html(hand_made(stdout="\n".join(f"line {i}" for i in range(500))))
    assert "line 199" in text and "line 200" not in text and "300 more lines" in text


def test_a_given_title_replaces_the_default():
    page = Page(submission_html(hand_made(), title="Week 3 <feedback>"))
    assert page.texts_in["title"][0] == "Week 3 <feedback>"  # the rest are the plots'
    assert page.texts_in["h1"] == ["Week 3 <feedback>"]


# --- one submission, graded for real --------------------------------------------------------

def test_a_graded_backward_bug_shows_where_the_error_enters():
    result = graded("mlp_cache_holds_activation")
    text = submission_html(result)
    plots = svgs(text, "layer-norms")
    (check,) = [c for c in result.checks if not c.passed]
    assert len(plots) == sum(bool(c.layers) for c in check.failures[:3]) >= 1
    first = plots[0]
    assert [b.get("data-layer") for b in by_class(first, "entry-band")] == ["1"]
    assert len(by_class(first, "student-point")) == 2
    assert "act_grad is evaluated at the layer" in text


def test_a_graded_kink_bug_draws_its_curve():
    text = submission_html(graded("relu_grad_kink_one"))
    (curve,) = svgs(text, "curve")
    assert [b.get("data-from") for b in by_class(curve, "differ")] == ["0"]
    assert "relu_grad: reference and yours" in curve.find("title").text


def test_a_graded_submission_with_hidden_cases_keeps_them_secret():
    result = graded("mlp_backward_no_act_grad", secret=b"report-tests")
    hidden = [c for check in result.checks for c in check.failures if c.hidden]
    assert hidden and all(math.isnan(r.ref_norm) for c in hidden for r in c.layers)
    assert not any(c.curve for check in result.checks for c in check.cases if c.hidden)
    submission_html(result)  # renders


# --- the class ------------------------------------------------------------------------------

def _summary() -> dict:
    summary = Summary(max_score=10.0)
    for i, score in enumerate([0.0, 4.0, 7.5, 10.0, 10.0]):
        summary.add({"student_id": f"s{i}" if i else NASTY, "score": score, "status": "graded",
                     "seconds": 0.1 * i, "checks": {
                         "backward.mlp_backward": {"status": "passed" if score == 10 else
                                                   "wrong answer",
                                                   "message": f"layer 1 of 2 {NASTY}"},
                         "activations.relu": {"status": "passed", "message": ""}}})
    return summary.to_dict()


def test_class_report():
    data = _summary()
    text = class_html(data, "Course <2025>")
    page = Page(text)
    assert not page.having("script") and "http" not in text.lower()
    assert page.texts_in["h1"] == ["Course <2025>: class summary"]
    (hist,) = svgs(text, "histogram")
    assert [int(b.get("data-count")) for b in by_class(hist, "hist-bar")] == \
        [b["students"] for b in data["histogram"]]
    body = "".join(page.text)
    assert "backward.mlp_backward" in body and "40%" in body and "100%" in body
    assert "layer # of # " + NASTY in body  # the mistake, numbers blanked, escaped
    assert NASTY in body and NASTY not in text  # the hostile student id, as text only


def test_class_report_of_an_empty_class():
    text = class_html(Summary(max_score=10.0).to_dict(), "Course")
    assert "0 students" in text and text.count('class="hist-bar"') == 10
    assert "None." in text
