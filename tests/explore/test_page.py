"""The HTML page: one self-contained file that parses, with the plots and their numbers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from grader.explore import lab, page, scenarios, sweep
from grader.explore.config import Config

from .conftest import small


class Tags(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def plots(text: str) -> dict[str, ET.Element]:
    """Each top-level <svg class="plot KIND">, parsed as XML (nested <svg>s included)."""
    out = {}
    for match in re.finditer(r'<svg class="plot ([\w-]+)"', text):
        depth = 0
        for tag in re.finditer(r"<svg\b|</svg>", text[match.start():]):
            depth += 1 if tag.group() == "<svg" else -1
            if depth == 0:
                out[match.group(1)] = ET.fromstring(text[match.start():match.start() + tag.end()])
                break
    return out


def assert_self_contained(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"(?i)\b(?:https?:|ftp:)?//", text.replace("<!DOCTYPE html>", ""))
    assert "<script" not in text.lower() and "<link" not in text.lower()
    tags = Tags(text).tags
    assert all("src" not in attrs and "href" not in attrs for _, attrs in tags)


@pytest.mark.parametrize("config", [small(), small(depth=1, steps=0),
                                    replace(scenarios.get("large-init").config, steps=5)],
                         ids=["small", "one-layer-no-steps", "diverging"])
def test_exploration_page_is_self_contained_and_has_its_plots(config):
    e = lab.explore(config)
    text = page.exploration_page(e)
    assert_self_contained(text)
    found = plots(text)
    assert {"layer-gradients", "chain-rule"} <= set(found)
    if config.steps:
        assert {"loss", "history-norms"} <= set(found)
    for root in found.values():
        assert root.find("title") is not None and root.find("desc") is not None
    assert e.snapshot.diagnosis in text and f"{e.snapshot.ratio:.3g}" in text


def test_a_run_that_diverged_at_once_still_draws_its_finite_step():
    # The README's --depth 30 --residual ReLU net: the loss is not finite from step 1.
    config = Config(depth=30, activation="relu", init="he_normal", residual=True, steps=5)
    e = lab.explore(config)
    assert e.history.diverged_at == 1
    found = plots(page.exploration_page(e))
    for kind in ("loss", "history-norms"):
        dots = [c for c in found[kind].iter() if c.tag.endswith("circle")]
        assert dots, f"the {kind} chart is empty"


def test_the_layer_table_has_every_layer():
    e = lab.explore(small(depth=30, steps=2))
    text = page.exploration_page(e)
    table = text[text.index('<table class="layers">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 31  # the head and 30 layers


def test_sweep_page_draws_every_cell_once():
    grid = sweep.Grid(Config(width=6, batch_size=4), max_depth=10,
                      scales=sweep.log_scales(0.25, 4.0, 24), over="activation",
                      values=("relu", "tanh"))
    text = page.sweep_page(sweep.sweep(grid))
    assert_self_contained(text)
    maps = [m for m in re.finditer(r'<svg class="plot heat-map"', text)]
    assert len(maps) == 2
    root = plots(text)["heat-map"]
    cells = [e for e in root.iter() if e.get("class") == "cell"]
    for depth in range(1, 11):
        row = [c for c in cells if c.get("data-depth") == str(depth)]
        assert sum(float(c.get("width")) for c in row) == pytest.approx(
            float(row[-1].get("x")) + float(row[-1].get("width")) - float(row[0].get("x")),
            abs=0.5)
    assert "narrows" in text and "band" in text


def test_user_text_is_escaped():
    e = lab.explore(small(steps=1))
    nasty = replace(scenarios.get("relu-he"), note='<script>alert("x")</script>')
    text = page.exploration_page(replace(e, scenario=nasty))
    assert "<script>" not in text and "&lt;script&gt;" in text
