"""What a function must return, and the strict check that a returned value is that.

An array is due as an exact ``numpy.ndarray`` of dtype float64 with exactly the
expected shape (no broadcasting, no subclasses, no other dtypes), or as what numpy
turns into one exactly: a Python float or a numpy float64 scalar where a 0-d array
is due (``np.tanh`` of a 0-d array gives one), and lists or tuples of those, nested
to the expected shape, where an array is due (a history kept as a list). Scalars may
be Python or numpy reals. A dict must hold its required keys (others are ignored), a
word must be one of its choices. Each mismatch becomes one actionable sentence.
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
    # inf and NaN pass the schema where the judge decides on them (a norm that
    # overflowed as PyTorch's does)
    finite: bool = True


@dataclass(frozen=True)
class Num:
    name: str
    # inf and NaN are answers too where the contract says so (x / 0 in gradient_ratio)
    finite: bool = True


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
class Keys:
    """A dict holding at least these keys, each value of its own schema.

    Other keys are allowed and ignored: a student may keep more in a history for their
    own plots, and nothing the grader reads changes with them.
    """

    name: str
    items: tuple[tuple[str, "Schema"], ...]


@dataclass(frozen=True)
class Choice:
    """One of a few fixed strings (a verdict)."""

    name: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Ignored:
    """A part of the return value the grader does not look at (a cache)."""

    name: str


Schema = Union[Arr, Num, Seq, ArrList, Keys, Choice, Ignored]


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
        return _number(schema.name, value, schema.finite)
    if isinstance(schema, Arr):
        return _array(schema.name, schema.shape, value, schema.finite)
    if isinstance(schema, Seq):
        items = _sequence(schema.name, len(schema.items), value, "items")
        return tuple(conform(s, v) for s, v in zip(schema.items, items))
    if isinstance(schema, Keys):
        return _keys(schema, value)
    if isinstance(schema, Choice):
        return _choice(schema, value)
    items = _sequence(schema.name, len(schema.shapes), value, "arrays")
    if _all_fine(schema.shapes, items):
        return items
    return tuple(_array(f"{schema.name}[{i}]", shape, v)
                 for i, (shape, v) in enumerate(zip(schema.shapes, items)))


def _all_fine(shapes: tuple[tuple[int, ...], ...], items: tuple) -> bool:
    """Whether every item passes ``_array``: checked for the whole list at once (a deep
    network's gradients are many small arrays); when one does not, ``_array`` runs item
    by item to report the first problem, as always."""
    if not all(type(v) is np.ndarray and v.shape == shape and v.dtype == np.float64
               for shape, v in zip(shapes, items)):
        return False
    return not items or bool(np.isfinite(np.concatenate(items, axis=None)).all())


def describe(value: Any) -> str:
    """A short phrase naming what a value is, for messages."""
    if value is None:
        return "None"
    if isinstance(value, Other):
        if value.type_name.startswith("ndarray of dtype"):  # e.g. object or longdouble
            return f"an {value.type_name} (only float64 arrays are accepted)"
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


def _number(name: str, value: Any, finite: bool = True) -> float:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "f":
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise Mismatch(status.BAD_TYPE, f"{name} should be a float, got {describe(value)}"
                                        f"{_convert_hint(value)}")
    number = float(value)
    if finite and not np.isfinite(number):
        raise Mismatch(status.NON_FINITE, f"{name} is {number}")
    return number


def _array(name: str, shape: tuple[int, ...], value: Any,
           finite: bool = True) -> np.ndarray:
    if type(value) is not np.ndarray:
        value = _stand_in(name, shape, value)
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
    if finite and not np.isfinite(value).all():
        bad = ~np.isfinite(value)
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {index}" if index else ""
        raise Mismatch(status.NON_FINITE, f"{name} contains {value[bad][0]}{where}", index)
    return value


# Python ints convert to float64 exactly up to here; beyond, numpy would round them.
_EXACT_INT = 2 ** 53


def _stand_in(name: str, shape: tuple[int, ...], value: Any) -> np.ndarray:
    """The float64 array that a number or a nested list stands for, when numpy converts
    it exactly to ``shape``; otherwise the reason it cannot stand for one."""
    kind = type(value)
    if kind is float or kind is np.float64 or (kind is int and abs(value) <= _EXACT_INT):
        if shape == ():
            return np.array(value, dtype=np.float64)
        raise Mismatch(status.WRONG_SHAPE, f"{name} is a single number, expected an array "
                                           f"of shape {shape}")
    if isinstance(value, np.generic) and kind is not np.object_:
        if shape == ():  # a numpy scalar of another dtype: as for an array of it
            raise Mismatch(status.BAD_DTYPE, f"{name} has dtype {value.dtype}, expected "
                                             f"float64 (convert with np.float64(...))")
        raise Mismatch(status.WRONG_SHAPE, f"{name} is a single number, expected an array "
                                           f"of shape {shape}")
    if kind is list or kind is tuple:
        if shape == () or len(value) != shape[0]:
            want = "a single number (a 0-d array)" if shape == () else \
                f"{shape[0]} for shape {shape}"
            raise Mismatch(status.WRONG_SHAPE, f"{name} is {describe(value)}, expected {want}")
        if len(shape) == 1 and all(type(v) is float or type(v) is np.float64 for v in value):
            return np.array(value, dtype=np.float64)  # the common case, in one step
        rows = [_array(f"{name}[{i}]", shape[1:], item, finite=False)
                for i, item in enumerate(value)]
        # np.stack needs at least one row; with none the shape is known anyway.
        return np.stack(rows) if rows else np.zeros(shape)
    want = "a float" if shape == () else f"a numpy ndarray of shape {shape}"
    raise Mismatch(status.BAD_TYPE,
                   f"{name} should be {want}, got {describe(value)}{_convert_hint(value)}")


def _convert_hint(value: Any) -> str:
    """How to turn another library's array into what is due."""
    if isinstance(value, Other) and value.type_name.startswith("torch."):
        return " (convert it: t.detach().numpy(), or t.item() for a number)"
    return ""


def _sequence(name: str, length: int, value: Any, noun: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        kind = "tuple" if noun == "items" else "list"
        raise Mismatch(status.BAD_TYPE,
                       f"{name} should be a {kind} of {length} {noun}, got {describe(value)}")
    return tuple(value)


def _keys(schema: Keys, value: Any) -> dict:
    wanted = [key for key, _ in schema.items]
    listed = " and ".join(repr(k) for k in wanted)
    if not isinstance(value, dict):
        raise Mismatch(status.BAD_TYPE, f"{schema.name} should be a dict with keys {listed}, "
                                        f"got {describe(value)}")
    missing = [key for key in wanted if key not in value]
    if missing:
        raise Mismatch(status.BAD_TYPE, f"{schema.name} has no key {missing[0]!r} (it needs "
                                        f"{listed}; it has {_key_list(value)})")
    return {key: conform(item, value[key]) for key, item in schema.items}


def _key_list(value: dict) -> str:
    keys = sorted(repr(k) for k in value)[:6]
    return ", ".join(keys) if keys else "no keys"


def _choice(schema: Choice, value: Any) -> str:
    listed = ", ".join(repr(c) for c in schema.choices)
    if type(value) is not str:
        raise Mismatch(status.BAD_TYPE, f"{schema.name} should be one of {listed}, got "
                                        f"{describe(value)}")
    if value not in schema.choices:
        # Only a short word is echoed: a longer string could spell out a hidden input.
        shown = repr(value) if len(value) <= 20 and value.replace(" ", "").isalpha() \
            else f"another str of {len(value)} characters"
        near = [c for c in schema.choices if c == value.strip().lower()]
        fix = f" (write {near[0]!r} exactly)" if near else ""
        raise Mismatch(status.WRONG, f"{schema.name} should be one of {listed}, got "
                                     f"{shown}{fix}")
    return value
