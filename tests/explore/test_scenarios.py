"""Every scenario gives the diagnosis course-facts.md gives it, with the quoted figures."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from grader.explore import lab, measure, model, scenarios
from grader.explore.config import ExploreError

from .conftest import FIXES

NAMES = list(scenarios.SCENARIOS)
# course-facts.md: the deep sigmoid vanishes, large init explodes, ReLU + He is healthy,
# the remedies rescue, the linear nets go as lambda.
COURSE = {"deep-sigmoid": "vanishing", "deep-sigmoid-small": "vanishing",
          "large-init": "exploding", "relu-he": "healthy", "deep-sigmoid-residual": "healthy",
          "deep-sigmoid-batchnorm": "healthy", "large-init-batchnorm": "healthy",
          "large-init-clipped": "exploding", "linear-1.5-depth-50": "exploding",
          "linear-0.5-depth-50": "vanishing", "linear-1.5-depth-150": "exploding",
          "linear-0.5-depth-150": "vanishing"}


def snapshot_of(scenario):
    if scenario.config.norm != "none" and not FIXES:
        pytest.skip("grader/engine/fixes.py is not there yet")
    config = lab.check(scenario.config)
    X, T = model.data(config)
    return measure.snapshot(model.build(config), X, T)


def test_the_course_list_is_complete():
    assert set(NAMES) == set(COURSE)


@pytest.mark.parametrize("name", NAMES)
def test_each_scenario_gives_the_course_diagnosis(name):
    scenario = scenarios.get(name)
    assert scenario.expected == COURSE[name]
    assert snapshot_of(scenario).diagnosis == COURSE[name]


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("linear-")])
def test_deep_linear_nets_follow_lambda_to_the_depth(name):
    scenario = scenarios.get(name)
    c = scenario.config
    s = snapshot_of(scenario)
    assert s.ratio == pytest.approx(c.weight_scale ** (c.depth - 1), rel=1e-12)
    assert s.ratio == pytest.approx(scenario.expected_ratio, rel=1e-12)
    assert s.chain.measured[0] == pytest.approx(c.weight_scale ** c.depth, rel=1e-12)
    # The weight gradients do not show it: every |dW_l| scales as lambda^(L-1).
    assert s.weight_ratio == pytest.approx(1.0, rel=1e-9)
    assert set(s.learning_speed) == {"fast"}


@pytest.mark.parametrize("name, figures", [
    ("linear-1.5-depth-50", ["6.38e+08"]), ("linear-0.5-depth-50", ["8.88e-16"]),
    ("linear-1.5-depth-150", ["2.59e+26", "1.73e+26"]), ("linear-0.5-depth-150", ["7.01e-46"]),
    ("deep-sigmoid", ["0.25^19 = 3.64e-12"]), ("deep-sigmoid-small", ["9.54e-07"]),
])
def test_notes_quote_the_course_figures(name, figures):
    for figure in figures:
        assert figure in scenarios.get(name).note


def test_weight_gradients_alone_would_miss_the_exploding_relu_net():
    scenario = scenarios.get("large-init")
    s = snapshot_of(scenario)
    assert measure.diagnose(s.weight_ratio) == "healthy" and s.diagnosis == "exploding"
    note = lab.signal_notes(s, scenario.config)[0]
    assert "would read healthy" in note
    assert "linear" not in note  # the lambda^(L-1) argument is the linear net's alone


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("linear-")])
def test_the_linear_remark_is_made_for_linear_nets(name):
    scenario = scenarios.get(name)
    notes = lab.signal_notes(snapshot_of(scenario), scenario.config)
    assert "In a deep linear net every |dW_l| scales as lambda^(L-1)" in notes[0]


def test_a_network_too_large_for_memory_is_refused_in_one_line_saying_what_fits():
    with pytest.raises(ExploreError, match=r"--width 100000 .* needs about 2,237 GiB .* "
                                           r"try --width \d+ or less"):
        lab.check(replace(scenarios.get("relu-he").config, width=100000, depth=10))
    fits = int(str(_refusal(100000)).split("try --width ")[1].split()[0])
    lab.check(replace(scenarios.get("relu-he").config, width=fits, depth=10))


def _refusal(width: int) -> ExploreError:
    try:
        lab.check(replace(scenarios.get("relu-he").config, width=width, depth=10))
    except ExploreError as exc:
        return exc
    raise AssertionError("not refused")


def test_clipping_keeps_the_ratio_and_rescues_training():
    clipped = scenarios.get("large-init-clipped").config
    quick = replace(clipped, steps=12)
    rescued, wild = lab.explore(quick), lab.explore(replace(quick, clip=None))
    assert rescued.snapshot.ratio == wild.snapshot.ratio
    assert wild.history.diverged_at is not None
    assert rescued.history.diverged_at is None and all(rescued.history.clipped)
    assert all(math.isfinite(v) for v in rescued.history.loss)
    assert rescued.history.loss[-1] < rescued.history.loss[0]


def test_an_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ExploreError, match="deep-sigmoid"):
        scenarios.get("deep-tanh")
