"""compare_many and norm agree with compare and np.linalg.norm, entry for entry."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.compare import compare, compare_many, norm, within
from grader.course import Tolerance

TOL = Tolerance(rtol=1e-7, atol_scale=1e-9)
# rtol = 0 (the backward pass's tolerance) takes a shorter path through compare_many.
TOLS = [TOL, Tolerance(rtol=0.0, atol_scale=1e-8)]


def _pairs(rng, n):
    refs, students = [], []
    for _ in range(n):
        shape = tuple(int(k) for k in rng.integers(0, 5, size=rng.integers(0, 3)))
        ref = rng.normal(size=shape) * 10.0 ** rng.integers(-30, 30)
        kind = rng.integers(0, 5)
        if kind == 0:
            student = ref.copy()
        elif kind == 1:
            student = ref * (1 + 1e-9)
        elif kind == 2:
            student = ref + rng.normal(size=shape) * 1e-3 * (np.abs(ref).max(initial=0) + 1)
        elif kind == 3:
            ref = np.zeros(shape)
            student = np.zeros(shape) + (1e-300 if rng.random() < 0.5 else 0.0)
        else:
            student = -ref
        refs.append(ref)
        students.append(student)
    return students, refs


@pytest.mark.parametrize("tol", TOLS, ids=["rtol", "no_rtol"])
@pytest.mark.parametrize("seed", range(20))
def test_compare_many_agrees_with_compare(seed, tol):
    students, refs = _pairs(np.random.default_rng(seed), 12)
    ok, rel = compare_many(students, refs, tol)
    for i, (s, r) in enumerate(zip(students, refs)):
        diff = compare(s, r, tol)
        assert ok[i] == diff.ok, i
        assert within(s, r, tol) == diff.ok, i
        assert rel[i] == diff.rel_error or (np.isinf(rel[i]) and np.isinf(diff.rel_error)), i


@pytest.mark.parametrize("tol", TOLS, ids=["rtol", "no_rtol"])
def test_errors_at_the_edge_of_the_bound_agree_with_compare(tol):
    """Errors a few ulps either side of what is allowed, against infinite and NaN
    references too: where the shorter path would be wrong if it were taken."""
    ref = np.array([3.0, -1.5, 0.25, 2.0])
    bound = tol.atol_scale * 3.0 + 1e-300
    students = [ref + np.nextafter(bound, k) * np.sign(ref) for k in (0.0, 1.0)]
    students += [ref, np.array([np.inf, 1, 2, 3]), np.array([np.nan, 1, 2, 3])]
    refs = [ref] * 3 + [np.array([np.inf, 1, 2, 3]), np.array([1.0, np.nan, 2, 3])]
    with np.errstate(invalid="ignore"):  # inf - inf, on purpose
        ok, _ = compare_many(students, refs, tol)
        assert ok.tolist() == [compare(s, r, tol).ok for s, r in zip(students, refs)]
        assert [within(s, r, tol) for s, r in zip(students, refs)] == ok.tolist()


def test_compare_many_fails_a_nan():
    for tol in TOLS:
        ok, _ = compare_many([np.array([1.0, np.nan])], [np.array([1.0, 2.0])], tol)
        assert not ok[0]
        assert not within(np.array([1.0, np.nan]), np.array([1.0, 2.0]), tol)


def test_compare_many_of_nothing():
    ok, rel = compare_many([np.zeros(0)], [np.zeros(0)], TOL)
    assert ok.tolist() == [True] and rel.tolist() == [0.0]


@pytest.mark.parametrize("shape", [(), (3,), (4, 5), (2, 3, 4)])
def test_norm_is_numpys(shape):
    a = np.random.default_rng(1).normal(size=shape) * 1e20
    assert norm(a) == float(np.linalg.norm(a))
    assert norm(a.T) == float(np.linalg.norm(a.T))
