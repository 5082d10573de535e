"""Gradient clipping of exercise 3 against torch.nn.utils (float64) and exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.engine.clipping import clip_grad_norm, clip_grad_value, global_norm

NORM_TYPES = [2.0, 1.0, 3.0, math.inf]
SHAPES = [(3, 4), (4,), (), (2, 1, 5)]


def random_grads(seed, scale=1.0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=s) for s in shapes]


def torch_clip(torch, grads, max_norm, norm_type):
    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    return [p.grad.numpy() for p in params], float(total)


def assert_new_arrays(out, grads):
    assert len(out) == len(grads)
    for o, g in zip(out, grads):
        assert type(o) is np.ndarray and o.dtype == np.float64 and o.shape == np.shape(g)
        assert not np.shares_memory(o, g)


def frozen_copy(grads):
    """Read-only copies (any in-place write raises) plus the values to compare with later."""
    frozen = [np.array(g, dtype=np.float64) for g in grads]
    for g in frozen:
        g.flags.writeable = False
    return frozen, [g.copy() for g in frozen]


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 2.5, 1e3])  # clipped, ..., not clipped
@pytest.mark.parametrize("seed", [0, 1])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, seed, torch):
    grads, before = frozen_copy(random_grads(seed))
    ref, ref_total = torch_clip(torch, grads, max_norm, norm_type)
    out, total = clip_grad_norm(grads, max_norm, norm_type)
    assert type(total) is float
    assert total == pytest.approx(ref_total, rel=1e-13)
    assert global_norm(grads, norm_type) == total
    for o, r in zip(out, ref):
        np.testing.assert_allclose(o, r, rtol=1e-13, atol=0)
    assert_new_arrays(out, grads)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_global_norm_is_the_norm_of_all_entries(norm_type):
    grads = random_grads(2)
    flat = np.concatenate([g.ravel() for g in grads])
    assert global_norm(grads, norm_type) == pytest.approx(np.linalg.norm(flat, norm_type),
                                                          rel=1e-14)
    as_given = int(norm_type) if norm_type != math.inf else "inf"  # ints and strings work too
    assert global_norm(grads, as_given) == global_norm(grads, norm_type)


def test_unclipped_gradients_come_back_as_equal_new_arrays():
    grads = random_grads(3, scale=1e-3)
    out, total = clip_grad_norm(grads, max_norm=1.0)
    assert total < 1.0
    for o, g in zip(out, grads):
        np.testing.assert_array_equal(o, g)
    assert_new_arrays(out, grads)


def test_clipping_keeps_the_direction_and_lands_on_max_norm():
    grads = random_grads(4, scale=10.0)
    out, total = clip_grad_norm(grads, max_norm=1.0)
    # The 1e-6 in the denominator leaves the clipped norm just under max_norm.
    assert global_norm(out) == pytest.approx(1.0 * total / (total + 1e-6), rel=1e-14)
    for o, g in zip(out, grads):
        np.testing.assert_allclose(o, g * (1.0 / (total + 1e-6)), rtol=1e-14)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("magnitude", [1e200, 1e-200, 1e300, 1e-300, 5e-324])
def test_huge_and_tiny_entries_neither_overflow_nor_vanish(norm_type, magnitude, strict_numpy):
    # PyTorch squares without rescaling: its total_norm is inf at 1e200 (and clipping then
    # zeroes every gradient) and 0 at 1e-200. The spec asks for the true norm.
    grads = [np.full((2, 2), magnitude), np.full(5, -magnitude), np.zeros(3)]
    n = 9
    expected = magnitude * (n ** (1 / norm_type) if norm_type != math.inf else 1.0)
    assert global_norm(grads, norm_type) == pytest.approx(expected, rel=1e-14)
    out, total = clip_grad_norm(grads, max_norm=1.0, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-14)
    clipped = global_norm(out, norm_type)
    assert clipped == pytest.approx(min(1.0, expected), rel=1e-12)


def test_mixed_magnitudes_keep_the_largest(strict_numpy):
    grads = [np.array([3e200, 4e200]), np.array([1e-300, 0.0])]
    assert global_norm(grads) == pytest.approx(5e200, rel=1e-15)


@pytest.mark.parametrize("grads", [[], [np.zeros(0)], [np.zeros((2, 3)), np.zeros(())]],
                         ids=["empty-list", "empty-array", "zeros"])
@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_empty_and_zero_gradients(grads, norm_type, strict_numpy):
    assert global_norm(grads, norm_type) == 0.0
    out, total = clip_grad_norm(grads, max_norm=1.0, norm_type=norm_type)
    assert total == 0.0 and type(total) is float
    assert_new_arrays(out, grads)
    assert all((o == 0).all() for o in out)
    assert_new_arrays(clip_grad_value(grads, 1.0), grads)


def test_non_finite_gradients_give_non_finite_norms_as_in_torch(torch):
    grads = [np.array([1.0, np.inf]), np.array([2.0])]
    ref, ref_total = torch_clip(torch, grads, 1.0, 2.0)
    out, total = clip_grad_norm(grads, 1.0)
    assert total == ref_total == math.inf
    for o, r in zip(out, ref):
        np.testing.assert_array_equal(o, r)  # 0 * inf = NaN, 0 * 2 = 0, as in torch
    assert math.isnan(global_norm([np.array([np.nan, 1.0])]))


@pytest.mark.parametrize("norm_type", [0, -1.0, -math.inf])
def test_norm_type_must_be_positive(norm_type):
    with pytest.raises(ValueError):
        global_norm(random_grads(0), norm_type)


@pytest.mark.parametrize("clip_value", [0.0, 0.5, 1.0, 10.0])
def test_clip_grad_value_matches_torch(clip_value, torch):
    grads, before = frozen_copy(random_grads(5, scale=2.0))
    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    out = clip_grad_value(grads, clip_value)
    for o, p, g in zip(out, params, grads):
        np.testing.assert_array_equal(o, p.grad.numpy())
        np.testing.assert_array_equal(o, np.clip(g, -clip_value, clip_value))
        assert np.abs(o).max(initial=0.0) <= clip_value
    assert_new_arrays(out, grads)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_clip_grad_value_keeps_shapes_and_returns_new_arrays_when_nothing_changes():
    grads = [np.array(0.25), np.array([[0.5, -0.5]]), np.arange(3, dtype=np.float32)]
    out = clip_grad_value(grads, 100.0)
    assert_new_arrays(out, grads)
    for o, g in zip(out, grads):
        np.testing.assert_array_equal(o, g)


def test_float32_and_0d_inputs_give_float64_arrays():
    grads = [np.float32([1.0, 2.0]).reshape(2), np.array(3.0)]
    out, total = clip_grad_norm(grads, max_norm=1.0)
    assert_new_arrays(out, grads)
    assert total == pytest.approx(math.sqrt(14.0), rel=1e-15)
