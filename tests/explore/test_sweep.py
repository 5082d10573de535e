"""The vectorised phase diagram against the per-configuration engine, cell by cell."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from grader.explore import lab, sweep
from grader.explore.config import Config, ExploreError

BASE = Config(width=6, batch_size=4, seed=5)
GRIDS = {
    "relu-he": sweep.Grid(BASE, max_depth=12, scales=sweep.log_scales(0.3, 3.0, 9)),
    "tanh-xavier": sweep.Grid(replace(BASE, activation="tanh", init="xavier_uniform"),
                              max_depth=9, scales=sweep.log_scales(0.5, 4.0, 7)),
    "over-activation": sweep.Grid(BASE, max_depth=7, scales=(0.5, 1.0, 2.0), over="activation",
                                  values=("sigmoid", "gelu", "linear")),
    "over-init": sweep.Grid(replace(BASE, activation="selu"), max_depth=6, scales=(0.7, 1.4),
                            over="init", values=("lecun_normal", "identity", "he_uniform")),
}


@pytest.fixture(params=list(GRIDS), scope="module")
def swept(request):
    grid = GRIDS[request.param]
    return grid, sweep.sweep(grid)


def test_every_cell_equals_the_per_config_engine(swept):
    grid, result = swept
    np.testing.assert_allclose(result.ratios, sweep.sweep_by_loop(grid), rtol=1e-10, atol=0)


def test_a_sample_of_cells_equals_the_engine_on_the_explorers_own_network(swept):
    grid, result = swept
    rng = np.random.default_rng(0)
    shape = result.ratios.shape
    for v, d, j in zip(*(rng.integers(0, n, 4).tolist() for n in shape)):
        assert sweep.cell_by_engine(grid, v, d + 1, j) == pytest.approx(
            result.ratios[v, d, j], rel=1e-10)
        e = lab.explore(replace(grid.config(v, d + 1, j), steps=0))
        assert e.snapshot.ratio == pytest.approx(result.ratios[v, d, j], rel=1e-10)


def test_depth_one_is_always_one(swept):
    _, result = swept
    np.testing.assert_allclose(result.ratios[:, 0, :], 1.0, rtol=1e-14)


def test_the_healthy_band_narrows_with_depth():
    result = sweep.sweep(sweep.Grid(replace(BASE, width=16), max_depth=40,
                                    scales=sweep.log_scales(0.25, 4.0, 33)))
    bands = sweep.stable_band(result)
    width = lambda b: math.log(b.high / b.low)  # noqa: E731
    assert width(bands[39]) < width(bands[9]) < width(bands[1])
    assert 0.8 < bands[39].low <= bands[39].high < 1.3  # near He's critical scale, 1


def test_the_dict_is_json_with_the_grid_and_no_nan():
    grid = sweep.Grid(replace(BASE, activation="linear", init="identity"), max_depth=5,
                      scales=(1e-3, 1.0, 1e200))
    data = sweep.sweep(grid).to_dict()
    json.dumps(data, allow_nan=False)
    assert data["depths"] == [1, 2, 3, 4, 5] and len(data["scales"]) == 3
    assert data["ratios"][0][4][1] == pytest.approx(1.0)
    assert data["ratios"][0][4][0] == pytest.approx(1e-12)


@pytest.mark.parametrize("spec, fragment", [
    ("1:2", "LOW:HIGH:COUNT"), ("a:b:c", "LOW:HIGH:COUNT"), ("2:1:5", "0 < LOW < HIGH"),
    ("0:1:5", "0 < LOW"), ("0.5:2:1", "COUNT"), ("0.5:2:5:7", "LOW:HIGH:COUNT"),
])
def test_bad_scales_are_refused(spec, fragment):
    with pytest.raises(ExploreError, match="--sweep-scales") as caught:
        sweep.parse_scales(spec)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("spec, fragment", [
    ("depth=1,2", "--sweep-over wants"), ("activation=", "--sweep-over wants"),
    ("activation=relu,swish", "unknown activation 'swish'"),
    ("init=he_normal,glorot", "unknown init 'glorot'"),
])
def test_bad_third_axes_are_refused(spec, fragment):
    with pytest.raises(ExploreError, match=fragment):
        sweep.grid_from(BASE, over=spec)


@pytest.mark.parametrize("changes", [{"residual": True}, {"norm": "layer"}])
def test_the_sweep_maps_the_plain_mlp_only(changes):
    with pytest.raises(ExploreError, match="plain MLP"):
        sweep.grid_from(replace(BASE, **changes))


def test_grid_defaults_and_options():
    grid = sweep.grid_from(BASE)
    assert grid.max_depth == 50 and len(grid.scales) == 64
    assert grid.scales[0] == pytest.approx(0.25) and grid.scales[-1] == pytest.approx(4.0)
    grid = sweep.grid_from(BASE, max_depth=7, scales="0.5:2:3", over="init=he_normal,identity")
    assert (grid.max_depth, grid.over, grid.values) == (7, "init", ("he_normal", "identity"))
    assert grid.scales == pytest.approx((0.5, 1.0, 2.0))
    with pytest.raises(ExploreError, match="--sweep-depth"):
        sweep.grid_from(BASE, max_depth=0)
