"""The formats that cross between the grader and a child process.

From child to grader (replies, which student code can forge) a message is a
JSON header plus raw array bytes, never pickle:

    u64 length | u32 header length | header JSON | blob 0 | blob 1 | ...

(the header padded with spaces so that the blobs start 8-byte aligned).

The header holds a value tree in which arrays are replaced by
``{"$a": i, "dtype": "<f8", "shape": [..]}`` pointing at blob ``i``. The dtype
and shape are checked against the blob's length and an allow-list before a
single byte is turned into an array, so a hostile child can make us allocate
nothing we did not agree to.

A reply's envelope (which calls ran, what they modified, the error) is plain
JSON the child builds itself and the grader checks field by field; only the
student's return values inside it are value trees (``pack_reply``,
``unpack_reply``), so the grader walks in Python only what a student returned.

From grader to child (the job) the direction of trust is the other way: the
child runs the grader's code before any student code exists, so the job is a
pickle, decoded in C several times faster, and the child lets in only the few
classes a job can hold (``pack_job``, ``unpack_job``).

Both sides use this module: the grader to send jobs and read replies, the
child to read jobs and send replies. It imports only the standard library and
numpy, because it runs inside the child.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

LENGTH = struct.Struct("<Q")
HEADER_LENGTH = struct.Struct("<I")

# Plain numeric dtypes only: no objects, no structured records, no strings.
ALLOWED_DTYPES = frozenset(
    "<f8 <f4 <f2 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1".split()
)
NUMPY_SCALARS = frozenset(
    np.dtype(code).type for code in "f8 f4 f2 i8 i4 i2 i1 u8 u4 u2 u1 b1".split()
)
_DTYPES = {code: np.dtype(code) for code in ALLOWED_DTYPES}
MAX_HEADER_BYTES = 1 << 20
MAX_NDIM = 32
MAX_DEPTH = 8
MAX_ITEMS = 10_000
MAX_NAME = 200
MAX_DIM = 1 << 31  # numpy cannot reshape beyond this even when the array is empty


class WireFormatError(ValueError):
    """The bytes are not a well-formed message within the limits."""


@dataclass(frozen=True)
class Ref:
    """An earlier call's return value (or a part of it, by index path), in the child."""

    call: int
    path: tuple[int, ...] = ()


@dataclass(frozen=True)
class Provided:
    """A callable the child supplies by name (e.g. the activation given to mlp_forward)."""

    name: str


@dataclass(frozen=True)
class Rng:
    """A fresh numpy Generator seeded with ``seed``, built in the child."""

    seed: int


@dataclass(frozen=True)
class Other:
    """A value that is not plain data; only its type's name crosses over."""

    type_name: str


@dataclass(frozen=True)
class Dropped:
    """A part of a return value the grader asked not to receive (e.g. a cache)."""


DROPPED = Dropped()


def pack_job(tree: Any) -> bytes:
    """Encode a job (or a part of one) for the child: grader to child only."""
    return pickle.dumps(tree, protocol=5)


# What a pickled job refers to by name: numpy's array and scalar rebuilders and
# the markers (named grader.sandbox.wire in the grader, plain wire in the child).
_JOB_GLOBALS = {
    ("numpy._core.numeric", "_frombuffer"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy", "ndarray"), ("numpy", "dtype"),
}
_MARKERS = ("Ref", "Provided", "Rng")


_found: dict[tuple[str, str], Any] = {}  # (module, name) -> the object, once looked up


class _JobUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _found.get((module, name))
        if found is not None:
            return found
        if name in _MARKERS and module in ("wire", "grader.sandbox.wire"):
            found = globals()[name]
        elif (module, name) in _JOB_GLOBALS:
            found = super().find_class(module, name)
        else:
            raise pickle.UnpicklingError(f"a job may not hold {module}.{name}")
        _found[(module, name)] = found
        return found


def unpack_job(data: bytes) -> Any:
    """Decode what ``pack_job`` encoded; arrays come back writable."""
    return _JobUnpickler(io.BytesIO(data)).load()


def pack(tree: Any) -> bytes:
    """Encode a value tree as one length-prefixed message."""
    blobs: list[bytes] = []
    body = _encode(tree, blobs, 0)
    header = json.dumps({"blobs": [len(b) for b in blobs], "body": body},
                        separators=(",", ":"), allow_nan=False).encode()
    return _framed(header, blobs)


def unpack(payload: bytes, markers: bool = True) -> Any:
    """Decode one message's payload (without its length prefix), strictly.

    ``markers=False`` (replies from a child) rejects Ref, Provided and Rng nodes,
    which only the grader may send. Every malformation raises WireFormatError.
    """
    header, offsets = _header(payload)
    return _decode(header["body"], memoryview(payload), offsets, 0, markers)


@dataclass(frozen=True)
class Value:
    """Marks a student's value inside a reply envelope: it travels as a value tree."""

    value: Any


def pack_reply(envelope: Any) -> bytes:
    """Encode a reply: plain JSON data (str keys, str, int, bool, None, lists) in which
    each ``Value`` is encoded as a value tree."""
    blobs: list[bytes] = []

    def tree(node: Any) -> Any:
        if type(node) is Value:
            return _encode(node.value, blobs, 0)
        raise TypeError(f"a reply envelope cannot hold {type_name(node)}")

    body = json.dumps(envelope, separators=(",", ":"), allow_nan=False, default=tree)
    # The blob sizes are known only once the body is encoded.
    header = f'{{"blobs":{json.dumps([len(b) for b in blobs])},"body":{body}}}'.encode()
    return _framed(header, blobs)


def _framed(header: bytes, blobs: list[bytes]) -> bytes:
    # Spaces after the JSON put the first blob on an 8-byte boundary, so the arrays
    # a reader takes as views of the message are aligned.
    header += b" " * (-(HEADER_LENGTH.size + len(header)) % 8)
    payload = b"".join([HEADER_LENGTH.pack(len(header)), header, *blobs])
    return LENGTH.pack(len(payload)) + payload


class Values:
    """Decodes the value trees of one reply, on demand, strictly (no markers)."""

    def __init__(self, data: memoryview, offsets: list):
        self.data, self.offsets = data, offsets

    def decode(self, node: Any) -> Any:
        return _decode(node, self.data, self.offsets, 0, False)


def unpack_reply(payload: bytes) -> tuple[Any, Values]:
    """A reply's envelope (plain JSON, for the caller to check) and its value decoder.

    Raises WireFormatError for anything malformed in the framing or the JSON.
    """
    header, offsets = _header(payload)
    return header["body"], Values(memoryview(payload), offsets)


def _header(payload: bytes) -> tuple[dict, list]:
    """The checked JSON header of a message and its blobs' (start, stop) offsets."""
    if len(payload) < HEADER_LENGTH.size:
        raise WireFormatError("message shorter than its header")
    (n,) = HEADER_LENGTH.unpack_from(payload)
    if n > MAX_HEADER_BYTES or HEADER_LENGTH.size + n > len(payload):
        raise WireFormatError("message header too long")
    try:
        header = json.loads(payload[HEADER_LENGTH.size:HEADER_LENGTH.size + n])
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireFormatError(f"message header is not JSON: {exc}") from None
    if not isinstance(header, dict) or set(header) != {"blobs", "body"}:
        raise WireFormatError("message header has the wrong keys")
    sizes = header["blobs"]
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
        raise WireFormatError("message blob sizes are malformed")
    offsets, start = [], HEADER_LENGTH.size + n
    for size in sizes:
        offsets.append((start, start + size))
        start += size
    if start != len(payload):
        raise WireFormatError("message length does not match its blobs")
    return header, offsets


def _encode(value: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > MAX_DEPTH:
        return {"$other": "value nested too deeply"}
    # Exact type checks for numbers and arrays: a subclass (of float, ndarray...) could
    # carry hostile methods or another meaning (a mask), so it is reported by name. A
    # container's subclass is copied first (at the end, off the common path).
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value if kind is not str or len(value) <= MAX_NAME else value[:MAX_NAME]
    if kind is int:
        return {"$i": str(value)} if abs(value) < 10 ** 30 else {"$other": "int too large"}
    if kind is float:
        return {"$f": value.hex()}
    if kind is np.ndarray:
        if value.ndim == 0 and value.dtype.kind == "U":  # np.where(r < lo, "vanishing", ..)
            return _encode(value[()], blobs, depth)
        return _encode_array(value, blobs, "$a")
    if kind in NUMPY_SCALARS:
        return _encode_array(np.asarray(value), blobs, "$s")
    if kind in (tuple, list):
        if len(value) > MAX_ITEMS:
            return {"$other": f"{kind.__name__} of {len(value)} items"}
        tag = "$t" if kind is tuple else "$l"
        return {tag: [_encode(v, blobs, depth + 1) for v in value]}
    if kind is dict:
        if len(value) > MAX_ITEMS or not all(type(k) is str for k in value):
            return {"$other": "dict with non-string keys or too many items"}
        return {"$d": [[k[:MAX_NAME], _encode(v, blobs, depth + 1)] for k, v in value.items()]}
    if kind is Ref:
        return {"$ref": [value.call, list(value.path)]}
    if kind is Provided:
        return {"$fn": value.name}
    if kind is Rng:
        return {"$rng": str(value.seed)}
    if kind is Dropped:
        return {"$dropped": 1}
    if kind is Other:
        return {"$other": value.type_name[:MAX_NAME]}
    base = next((base for base in _COPY if issubclass(kind, base)), None)
    if base is not None:
        return _encode(_COPY[base](value), blobs, depth)
    return {"$other": type_name(value)}


# A subclass of a container (a namedtuple, a defaultdict history, numpy's str) crosses as a
# plain copy of its real items, made by the base type's own C code alone (a full slice,
# list.copy, iteration of dict's items view, str.__str__), never by the subclass's methods.
_COPY = {str: str.__str__, tuple: lambda v: tuple.__getitem__(v, slice(None)),
         list: list.copy, dict: lambda v: dict(dict.items(v))}


def _encode_array(arr: np.ndarray, blobs: list[bytes], tag: str) -> Any:
    dtype = arr.dtype
    if dtype.str not in ALLOWED_DTYPES or dtype.fields is not None:
        return {"$other": f"ndarray of dtype {dtype.str}"[:MAX_NAME]}
    blobs.append(np.ascontiguousarray(arr).tobytes())
    return {tag: len(blobs) - 1, "dtype": dtype.str, "shape": list(arr.shape)}


def _decode(node: Any, data: memoryview, offsets: list, depth: int, markers: bool) -> Any:
    if depth > MAX_DEPTH + 1:
        raise WireFormatError("value nested too deeply")
    if node is None or type(node) in (bool, str):
        return node
    if type(node) is not dict or not node:
        raise WireFormatError(f"unexpected JSON value of type {type(node).__name__}")
    tag = next(iter(node))
    value = node[tag]
    if tag in ("$a", "$s"):
        # A reply's arrays may be shared by every submission that sent the same bytes
        # (grader.sandbox.run keeps them): nothing may write into them, so they can be
        # read-only views of the reply itself rather than copies.
        arr = _decode_array(node, data, offsets, copy=markers)
        return arr if tag == "$a" else arr[()]
    if len(node) != 1:
        raise WireFormatError(f"malformed {tag} node")
    if tag == "$i" and type(value) is str and len(value) <= 40:
        try:
            return int(value)
        except ValueError:
            raise WireFormatError("malformed integer") from None
    if tag == "$f" and type(value) is str and len(value) <= 40:
        try:
            return float.fromhex(value)
        except ValueError:
            raise WireFormatError("malformed float") from None
    if tag in ("$t", "$l") and type(value) is list and len(value) <= MAX_ITEMS:
        items = [_decode(v, data, offsets, depth + 1, markers) for v in value]
        return tuple(items) if tag == "$t" else items
    if tag == "$d" and type(value) is list and len(value) <= MAX_ITEMS:
        out = {}
        for pair in value:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise WireFormatError("malformed dict item")
            out[pair[0]] = _decode(pair[1], data, offsets, depth + 1, markers)
        return out
    if tag == "$other" and type(value) is str:
        return Other(value[:MAX_NAME])
    if tag == "$dropped":
        return DROPPED
    if markers and tag == "$ref" and _is_ref(value):
        return Ref(value[0], tuple(value[1]))
    if markers and tag == "$fn" and type(value) is str:
        return Provided(value)
    if markers and tag == "$rng" and type(value) is str and value.isascii() \
            and value.isdigit() and len(value) <= 40:
        return Rng(int(value))
    raise WireFormatError(f"unknown or malformed node {str(tag)[:40]!r}")


def _is_ref(value: Any) -> bool:
    return (type(value) is list and len(value) == 2 and type(value[0]) is int
            and type(value[1]) is list and len(value[1]) <= MAX_DEPTH
            and all(type(i) is int for i in value[1]))


def _decode_array(node: dict, data: memoryview, offsets: list, copy: bool) -> np.ndarray:
    index = node.get("$a", node.get("$s"))
    dtype_str, shape = node.get("dtype"), node.get("shape")
    dtype = _DTYPES.get(dtype_str) if type(dtype_str) is str else None
    if (len(node) != 3 or type(index) is not int or not 0 <= index < len(offsets)
            or dtype is None or type(shape) is not list or len(shape) > MAX_NDIM
            or not all(type(s) is int and 0 <= s <= MAX_DIM for s in shape)
            or ("$s" in node and shape)):
        raise WireFormatError("malformed array node")
    start, stop = offsets[index]
    # Validate the declared size against the bytes we actually hold before
    # building anything: math.prod on Python ints cannot overflow.
    if math.prod(shape) * dtype.itemsize != stop - start:
        raise WireFormatError("array shape does not match its data length")
    arr = np.frombuffer(data[start:stop], dtype=dtype).reshape(shape)
    return arr.copy() if copy or not arr.flags.aligned else arr


def type_name(value: Any) -> str:
    """A value's type name, read without calling anything the value defines."""
    cls = type(value)
    name = type.__dict__["__name__"].__get__(cls)
    module = type.__dict__["__module__"].__get__(cls)
    # A class body may set __module__ to any object; only a real str is used,
    # and only with str operations, so no method of the student's runs here.
    if type(name) is not str:
        name = "object"
    if type(module) is not str or str.__eq__(module, "builtins"):
        return name[:MAX_NAME]
    return str.__add__(str.__add__(module, "."), name)[:MAX_NAME]
