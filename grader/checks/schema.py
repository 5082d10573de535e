"""What a function must return, and the strict check that a returned value is that.

Only exact ``numpy.ndarray`` of dtype float64 with exactly the expected shape
counts as an array: no broadcasting, no subclasses, no other dtypes. Scalars
may be Python or numpy reals. Each mismatch becomes one actionable sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from grader.checks import status
from grader.sandbox.wire import Dropped, Other


@dataclass(frozen=True)
class Arr:
    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Num:
    name: str


@dataclass(frozen=True)
class Seq:
    """A fixed-length tuple (a list is accepted too) of the given items."""

    name: str
    items: tuple["Schema", ...]


@dataclass(frozen=True)
class ArrList:
    """A list (or tuple) of arrays, one per entry of ``shapes``."""

    name: str
    shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Ignored:
    """A part of the return value the grader does not look at (a cache)."""

    name: str


Schema = Union[Arr, Num, Seq, ArrList, Ignored]


class Mismatch(Exception):
    def __init__(self, status_: str, message: str, index: tuple[int, ...] | None = None):
        super().__init__(message)
        self.status = status_
        self.message = message
        self.index = index  # the offending entry of a non-finite array


def conform(schema: Schema, value: Any) -> Any:
    """Return ``value`` normalised (floats, tuples of arrays) or raise Mismatch."""
    if isinstance(schema, Ignored):
        return None
    if isinstance(schema, Num):
        return _number(schema.name, value)
    if isinstance(schema, Arr):
        return _array(schema.name, schema.shape, value)
    if isinstance(schema, Seq):
        items = _sequence(schema.name, len(schema.items), value, "items")
        return tuple(conform(s, v) for s, v in zip(schema.items, items))
    items = _sequence(schema.name, len(schema.shapes), value, "arrays")
    return tuple(_array(f"{schema.name}[{i}]", shape, v)
                 for i, (shape, v) in enumerate(zip(schema.shapes, items)))


def describe(value: Any) -> str:
    """A short phrase naming what a value is, for messages."""
    if value is None:
        return "None"
    if isinstance(value, Other):
        return f"an object of type {value.type_name}"
    if isinstance(value, Dropped):
        return "a value"
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {value.shape} and dtype {value.dtype}"
    # No values: on a hidden case a returned number may be a hidden input.
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, (int, float, np.number)):
        return f"a number ({type(value).__name__})"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)[:6]}"
    return f"a {type(value).__name__}"


def _number(name: str, value: Any) -> float:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "f":
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise Mismatch(status.BAD_TYPE, f"{name} should be a float, got {describe(value)}")
    number = float(value)
    if not np.isfinite(number):
        raise Mismatch(status.NON_FINITE, f"{name} is {number}")
    return number


def _array(name: str, shape: tuple[int, ...], value: Any) -> np.ndarray:
    if type(value) is not np.ndarray:
        hint = ""
        if isinstance(value, (float, int, np.number)) and shape == ():
            hint = " (wrap it: np.asarray(value) keeps 0-d inputs 0-d)"
        raise Mismatch(status.BAD_TYPE,
                       f"{name} should be a numpy ndarray of shape {shape}, got "
                       f"{describe(value)}{hint}")
    if value.shape != shape:
        hint = ""
        if value.shape == shape[::-1] and len(shape) == 2:
            hint = " (it is transposed)"
        elif value.size == int(np.prod(shape)):
            hint = " (same number of entries: check your reshape or keepdims)"
        raise Mismatch(status.WRONG_SHAPE,
                       f"{name} has shape {value.shape}, expected {shape}{hint}")
    if value.dtype != np.float64:
        raise Mismatch(status.BAD_DTYPE,
                       f"{name} has dtype {value.dtype}, expected float64 "
                       f"(convert with .astype(np.float64))")
    bad = ~np.isfinite(value)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {index}" if index else ""
        raise Mismatch(status.NON_FINITE, f"{name} contains {value[bad][0]}{where}", index)
    return value


def _sequence(name: str, length: int, value: Any, noun: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        kind = "tuple" if noun == "items" else "list"
        raise Mismatch(status.BAD_TYPE,
                       f"{name} should be a {kind} of {length} {noun}, got {describe(value)}")
    return tuple(value)
