"""Numerical comparison of a student's arrays with the reference, scaled per array."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grader.course import Tolerance

# Below this, a reference entry counts as an exact zero.
TINY = 1e-300
# The rounding float64 arithmetic makes on terms of size 1, generously: about 4,000 units
# in the last place, what a sum of a few hundred terms in any order may be off by. A result
# that is a difference of terms of size T (layer norm's dx with one feature is exactly 0,
# as T - T) is allowed ROUNDING * T, or code written in another order, or PyTorch, fails
# on its rounding noise; a real mistake is off by a fair part of T.
ROUNDING = 2.0 ** -40


@dataclass(frozen=True)
class Diff:
    """How far a student's array is from the reference.

    rel_error is max|s - r| / max|r|: the error relative to the array's own
    scale, the figure shown in per-layer tables (inf when the reference is all
    zeros and the student's array is not). ``index`` is the entry that
    exceeds its allowance the most.
    """

    ok: bool
    rel_error: float
    index: tuple[int, ...]
    expected: float
    got: float


def _excess(student: np.ndarray, ref: np.ndarray, tol: Tolerance, terms: float = 0.0,
            abs_ref: np.ndarray | None = None,
            err: np.ndarray | None = None) -> np.ndarray:
    """How far each entry's error goes beyond what it is allowed (<= 0 is fine).

    ``terms`` is the size of the terms the reference is computed from, where it can be
    far larger than the reference (a difference of nearly equal terms): the rounding on
    them is allowed too.
    """
    abs_ref = np.abs(ref) if abs_ref is None else abs_ref
    err = np.abs(student - ref) if err is None else err
    scale = float(abs_ref.max(initial=0.0))
    return err - (tol.rtol * abs_ref + (tol.atol_scale * scale + ROUNDING * terms + TINY))


def within(student: np.ndarray, ref: np.ndarray, tol: Tolerance, terms: float = 0.0) -> bool:
    """``compare(student, ref, tol, terms).ok``, without working out where and by how much:
    most answers pass, and only a failure needs the rest."""
    student = np.asarray(student, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.size == 0:
        return True
    # "Every excess <= 0" is compare's "the largest excess <= 0", NaN failing both.
    return bool((_excess(student, ref, tol, terms) <= 0).all())


def mismatches(student: np.ndarray, ref: np.ndarray, tol: Tolerance) -> np.ndarray:
    """A boolean mask of the entries outside the tolerance."""
    return _excess(np.asarray(student, np.float64), np.asarray(ref, np.float64), tol) > 0


def agree(got, want, tol: Tolerance) -> np.ndarray:
    """Entry by entry, whether ``got`` is within the tolerance of ``want``, which may hold
    infinities (a norm that overflowed as PyTorch's does): an inf agrees only with the same
    inf, NaN with nothing, and the scale is that of ``want``'s finite entries."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    finite = np.isfinite(want)
    floor = tol.atol_scale * float(np.abs(want[finite]).max(initial=0.0)) + TINY
    with np.errstate(invalid="ignore"):
        inside = finite & (np.abs(got - want) <= tol.rtol * np.abs(want) + floor)
    return inside | (np.isinf(want) & (got == want))


def compare(student: np.ndarray, ref: np.ndarray, tol: Tolerance, terms: float = 0.0) -> Diff:
    student = np.asarray(student, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.size == 0:
        return Diff(True, 0.0, (), 0.0, 0.0)
    abs_ref = np.abs(ref)
    err = np.abs(student - ref)
    excess = _excess(student, ref, tol, terms, abs_ref, err)
    flat = int(excess.argmax())
    index = tuple(int(i) for i in np.unravel_index(flat, ref.shape)) if ref.ndim else ()
    # Against an all-zero reference any error is infinitely large relative to it
    # (showing the error itself could show a hidden input).
    scale = float(abs_ref.max())
    worst = float(err.max())
    rel = worst / scale if scale > 0 else (float("inf") if worst > 0 else 0.0)
    return Diff(bool(excess.flat[flat] <= 0), rel, index, float(ref.flat[flat]),
                float(student.flat[flat]))


def compare_many(students: list[np.ndarray], refs: list[np.ndarray],
                 tol: Tolerance) -> tuple[np.ndarray, np.ndarray]:
    """(ok, rel_error) for each pair of same-shaped arrays, as ``compare`` would give them,
    in one pass over all their entries (a deep network's gradients are many small arrays)."""
    sizes = np.array([r.size for r in refs], dtype=np.int64)
    ok = np.ones(len(refs), dtype=bool)
    rel = np.zeros(len(refs))
    full = sizes > 0
    if not full.any():
        return ok, rel
    # Fresh copies (flattened, float64), so the steps below can work in place.
    err = np.concatenate(students, axis=None, dtype=np.float64, casting="unsafe")
    abs_r = np.concatenate(refs, axis=None, dtype=np.float64, casting="unsafe")
    starts = (np.cumsum(sizes) - sizes)[full]
    np.subtract(err, abs_r, out=err)
    np.abs(err, out=err)
    np.abs(abs_r, out=abs_r)
    scale = np.maximum.reduceat(abs_r, starts)
    worst = np.maximum.reduceat(err, starts)
    bound = tol.atol_scale * scale + TINY
    if tol.rtol == 0.0 and np.isfinite(scale).all():
        # Every entry of an array is then allowed the same bound (0 * |r| + bound is
        # bound when |r| is finite), and subtracting it keeps the order of the errors,
        # so the largest excess is the largest error's.
        ok[full] = worst - bound <= 0
    else:
        allowed = tol.rtol * abs_r + np.repeat(bound, sizes[full])
        # NaN compares false: an array with a NaN error is not ok, as in compare().
        ok[full] = np.maximum.reduceat(err - allowed, starts) <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel[full] = np.where(scale > 0, worst / np.where(scale > 0, scale, 1.0),
                             np.where(worst > 0, np.inf, 0.0))
    return ok, rel


def norm(a: np.ndarray) -> float:
    """The Frobenius norm, computed exactly as np.linalg.norm does, without its overhead."""
    flat = np.ravel(np.asarray(a, np.float64), order="K")
    return math.sqrt(float(flat.dot(flat)))


def compare_number(student: float, ref: float, rtol: float) -> Diff:
    return compare(np.float64(student), np.float64(ref), Tolerance(rtol=rtol, atol_scale=0.0))


def close(student: np.ndarray, ref: np.ndarray, tol: Tolerance) -> bool:
    """True when shapes agree and every entry is within tolerance (for mistake matching)."""
    student, ref = np.asarray(student), np.asarray(ref)
    return student.shape == ref.shape and within(student, ref, tol)


def fmt_pair(expected: float, got: float) -> str:
    """'X, got Y' with enough digits to tell the two apart (a 1e-6 shows in the 7th)."""
    for digits in (6, 9, 12, 17):
        a, b = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if a != b:
            break
    if digits == 6:
        a, b = fmt(expected), fmt(got)
    return f"{a}, got {b}"


def fmt(x: float) -> str:
    """A number as students should read it: short, exact zeros shown as 0."""
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.6g}"
    return f"{x:.3e}"
