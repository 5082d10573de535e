"""Tests of grader.sandbox.wire: lossless round trips, and strict decoding that never allocates
more than the message holds nor raises anything but WireFormatError."""

from __future__ import annotations

import json
import math
import struct
import time
import tracemalloc

import numpy as np
import pytest

from grader.sandbox import wire
from grader.sandbox.wire import (ALLOWED_DTYPES, DROPPED, MAX_DEPTH, MAX_HEADER_BYTES, Dropped,
                                 Other, Provided, Ref, Rng, WireFormatError, pack, type_name,
                                 unpack)


# ---------------------------------------------------------------------------- helpers


def roundtrip(tree):
    """pack, check the length prefix, unpack the payload."""
    message = pack(tree)
    (length,) = wire.LENGTH.unpack_from(message)
    assert length == len(message) - wire.LENGTH.size
    return unpack(message[wire.LENGTH.size:])


def payload(body, blobs=(), sizes=None) -> bytes:
    """A hand-made payload (no length prefix): header {"blobs": sizes, "body": body} + blobs."""
    sizes = [len(b) for b in blobs] if sizes is None else sizes
    return raw_header(json.dumps({"blobs": sizes, "body": body}).encode(), blobs)


def raw_header(header: bytes, blobs=()) -> bytes:
    return wire.HEADER_LENGTH.pack(len(header)) + header + b"".join(blobs)


def float_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def assert_same(got, want, where="value"):
    """Equal value *and* type, all the way down; floats and arrays compared bit for bit."""
    assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, np.ndarray):
        assert got.dtype.str == want.dtype.str, f"{where}: {got.dtype.str} != {want.dtype.str}"
        assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
        assert got.tobytes() == np.ascontiguousarray(want).tobytes(), f"{where}: data differs"
    elif isinstance(want, np.generic):
        assert got.dtype.str == want.dtype.str and got.tobytes() == want.tobytes(), where
    elif type(want) is float:
        assert float_bits(got) == float_bits(want), f"{where}: {got!r} != {want!r}"
    elif type(want) in (list, tuple):
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif type(want) is dict:
        assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def nested_list(depth: int, leaf=0):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# ---------------------------------------------------------------------------- round trips


def test_nested_tree_keeps_tuples_lists_dicts_and_order():
    tree = {
        "tuple": (1, [2, (3, "three")], ()),
        "list": [None, True, False, [], {}],
        "dict": {"z": 1, "a": {"inner": (None,)}},
        "text": "dout",
    }
    got = roundtrip(tree)
    assert_same(got, tree)
    assert type(got["tuple"][1]) is list and type(got["tuple"][1][1]) is tuple


@pytest.mark.parametrize("value", [0, 1, -1, 2**31, 2**63, -(2**63) - 1, 2**64 + 1,
                                   10**29, -(10**29), 10**30 - 1])
def test_ints_round_trip_exactly_and_stay_ints(value):
    assert_same(roundtrip(value), value)


def test_bools_are_not_turned_into_ints():
    got = roundtrip([True, False, 1, 0])
    assert [type(v) for v in got] == [bool, bool, int, int]


@pytest.mark.parametrize("value", [10**30, -(10**30), 10**400])
def test_ints_beyond_the_limit_become_other(value):
    assert roundtrip(value) == Other("int too large")


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -0.0, 0.0, 5e-324,
                                   1.7976931348623157e308, 0.1, -1e-300])
def test_floats_round_trip_bit_for_bit(value):
    got = roundtrip(value)
    assert type(got) is float
    assert float_bits(got) == float_bits(value)


def test_negative_zero_keeps_its_sign():
    assert math.copysign(1.0, roundtrip(-0.0)) == -1.0


def test_float_specials_inside_arrays_are_bit_exact():
    arr = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 5e-324])
    got = roundtrip(arr)
    assert got.tobytes() == arr.tobytes()


def test_zero_d_array_and_numpy_scalar_stay_distinct():
    got = roundtrip((np.array(1.5), np.float64(1.5), np.array(7, dtype=np.int32), np.int32(7)))
    assert type(got[0]) is np.ndarray and got[0].shape == ()
    assert type(got[1]) is np.float64
    assert type(got[2]) is np.ndarray and got[2].dtype == np.int32 and got[2].shape == ()
    assert type(got[3]) is np.int32
    assert_same(got, (np.array(1.5), np.float64(1.5), np.array(7, dtype=np.int32), np.int32(7)))


@pytest.mark.parametrize("code", sorted(ALLOWED_DTYPES))
def test_every_allowed_dtype_round_trips_as_array_and_scalar(code):
    dtype = np.dtype(code)
    arr = np.array([-3, -2, -1, 0, 1, 2]).astype(dtype).reshape(2, 3)
    got = roundtrip(arr)
    assert_same(got, arr)
    scalar = arr[0, 1]
    assert isinstance(scalar, np.generic)
    assert_same(roundtrip(scalar), scalar)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 0, 2)])
@pytest.mark.parametrize("code", ["<f8", "<i4", "|b1"])
def test_empty_arrays_keep_shape_and_dtype(shape, code):
    arr = np.zeros(shape, dtype=code)
    assert_same(roundtrip(arr), arr)


def test_fortran_ordered_and_strided_arrays_come_back_equal():
    base = np.arange(24.0).reshape(4, 6)
    for arr in (np.asfortranarray(base), base[:, ::2], base.T, base[::-1, 1:4]):
        got = roundtrip(arr)
        assert got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)


def test_decoded_arrays_are_writable_copies():
    got = roundtrip(np.arange(3.0))
    got[0] = 42.0  # a read-only view into the message buffer would raise here
    assert got[0] == 42.0


def test_markers_round_trip():
    tree = (Ref(2, (0, 1)), Ref(0), Provided("relu_grad"), Rng(2**100 + 3), DROPPED)
    got = roundtrip(tree)
    assert got == tree
    assert type(got[4]) is Dropped


def test_tree_at_the_depth_limit_round_trips():
    tree = nested_list(MAX_DEPTH, 1.5)
    assert_same(roundtrip(tree), tree)


def test_tree_deeper_than_the_limit_is_cut_with_other():
    got = roundtrip(nested_list(MAX_DEPTH + 3, 1.5))
    for _ in range(MAX_DEPTH + 1):
        assert type(got) is list
        got = got[0]
    assert got == Other("value nested too deeply")


class _Sub(np.ndarray):
    pass


def _generator():
    yield 1


class _Point(tuple):
    pass


@pytest.mark.parametrize("value, fragment", [
    (np.arange(3.0).view(_Sub), "_Sub"),
    (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "MaskedArray"),
    (np.array([None, 1], dtype=object), "|O"),
    (np.array(["abcd"]), "<U4"),
    (np.zeros(2, dtype=[("a", "<f8")]), "ndarray of dtype"),
    (np.zeros(2, dtype=">f8"), ">f8"),
    (np.zeros(2, dtype=np.complex128), "<c16"),
    (_generator(), "generator"),
    (lambda z: z, "function"),
    ({1, 2}, "set"),
    ({1: "non-string key"}, "non-string keys"),
    (object(), "object"),
], ids=["ndarray-subclass", "masked", "object-array", "unicode-array", "structured",
        "big-endian", "complex", "generator", "function", "set",
        "int-keyed-dict", "object"])
def test_values_that_are_not_plain_data_become_other(value, fragment):
    got = roundtrip(value)
    assert type(got) is Other, f"{type(value).__name__} crossed as {type(got).__name__}"
    assert fragment in got.type_name


def test_float_and_int_subclasses_are_not_trusted():
    class Sneaky(float):
        def hex(self):  # noqa: A003 - what a hostile subclass would override
            raise RuntimeError("user code called")

    got = roundtrip([Sneaky(1.0), np.float64(2.0)])
    assert type(got[0]) is Other and "Sneaky" in got[0].type_name
    assert type(got[1]) is np.float64  # numpy's own scalar type is plain data


def test_the_standard_library_s_dicts_and_numpy_s_str_cross_as_plain_data():
    """A history in a defaultdict(list), a verdict picked out of a numpy string array."""
    import collections
    history = collections.defaultdict(list)
    history["loss"].append(1.5)
    assert roundtrip(history) == {"loss": [1.5]} and type(roundtrip(history)) is dict
    ordered = roundtrip(collections.OrderedDict(a=np.zeros(2)))
    assert type(ordered) is dict and ordered["a"].shape == (2,)
    word = roundtrip(np.array(["healthy", "vanishing"])[1])
    assert word == "vanishing" and type(word) is str
    word = roundtrip(np.where(np.float64(0.5) < 0.01, "vanishing", "healthy"))  # 0-d <U9
    assert word == "healthy" and type(word) is str
    assert type(roundtrip(np.array(["a", "b"]))) is Other  # a string array is no word


def test_container_subclasses_cross_as_their_real_items_and_run_no_code_of_theirs():
    """A namedtuple, a list or dict subclass: read by the base type's own C code."""
    import collections
    ran = []

    class Lying(dict):
        def items(self):  # what a hostile subclass would override
            ran.append("items")
            return iter([("loss", "forged")])

        def __iter__(self):
            ran.append("iter")
            return iter(["forged"])

        def keys(self):
            ran.append("keys")
            return ["forged"]

        def __len__(self):
            ran.append("len")
            return 0

    class Sly(list):
        def __iter__(self):
            ran.append("iter")
            return iter([0])

        def __len__(self):
            ran.append("len")
            return 0

    class Odd(tuple):
        def __iter__(self):
            ran.append("iter")
            return iter(())

        def __getitem__(self, i):
            ran.append("getitem")
            return None

    Grads = collections.namedtuple("Grads", "dx dW")
    got = roundtrip({"history": Lying(loss=[1.0]), "xs": Sly([1.0, 2.0]), "t": Odd((3, 4)),
                     "grads": Grads(np.zeros(2), 1.5), "point": _Point((1, 2))})
    assert got["history"] == {"loss": [1.0]} and type(got["history"]) is dict
    assert got["xs"] == [1.0, 2.0] and type(got["xs"]) is list
    assert got["t"] == (3, 4) and type(got["t"]) is tuple and got["point"] == (1, 2)
    assert type(got["grads"]) is tuple and got["grads"][1] == 1.5
    assert ran == []


def test_a_container_subclass_s_items_keep_every_rule():
    class Sly(list):
        pass
    got = roundtrip(Sly([np.ma.masked_array([1.0]), {1: 2}, "x" * 1000]))
    assert type(got[0]) is Other and type(got[1]) is Other and len(got[2]) == wire.MAX_NAME
    assert type(roundtrip(Sly([0.0] * (wire.MAX_ITEMS + 1)))) is Other


def test_type_name_does_not_call_a_metaclass_name_property():
    calls = []

    class Meta(type):
        @property
        def __name__(cls):
            calls.append("__name__")
            raise RuntimeError("metaclass property called")

    class Hostile(metaclass=Meta):
        pass

    name = type_name(Hostile())
    assert type(name) is str and name.endswith("Hostile")
    assert calls == []
    assert roundtrip(Hostile()) == Other(name)


class _Evil:
    """An object whose every hook records being called."""

    calls: list = []

    def __eq__(self, other):
        _Evil.calls.append("__eq__")
        raise RuntimeError("__eq__ called")

    def __format__(self, spec):
        _Evil.calls.append("__format__")
        raise RuntimeError("__format__ called")

    def __str__(self):
        _Evil.calls.append("__str__")
        raise RuntimeError("__str__ called")

    __hash__ = object.__hash__


def test_type_name_does_not_call_a_hostile_module_attribute():
    class Hostile:
        __module__ = _Evil()

    _Evil.calls.clear()
    name = type_name(Hostile())
    assert type(name) is str and "Hostile" in name
    assert _Evil.calls == []


def test_long_strings_are_capped():
    got = roundtrip("x" * 10_000)
    assert got == "x" * wire.MAX_NAME


# ---------------------------------------------------------------------------- strict decoding


def sample_message() -> bytes:
    """A valid payload with several blobs, used as the base for corruptions."""
    return pack({"a": np.arange(6.0).reshape(2, 3), "b": (np.int32(4), [1, 2.5, None]),
                 "c": np.zeros((0, 3))})[wire.LENGTH.size:]


def test_every_truncation_of_a_valid_message_is_rejected():
    data = sample_message()
    unpack(data)  # the whole message is fine
    for cut in range(len(data)):
        with pytest.raises(WireFormatError):
            unpack(data[:cut])


def test_trailing_bytes_are_rejected():
    with pytest.raises(WireFormatError):
        unpack(sample_message() + b"\0")


@pytest.mark.parametrize("data", [
    b"",
    b"\x01\x00",
    wire.HEADER_LENGTH.pack(1000) + b"{}",
    wire.HEADER_LENGTH.pack(2**32 - 1) + b"{}",
    wire.HEADER_LENGTH.pack(MAX_HEADER_BYTES + 1) + b" " * (MAX_HEADER_BYTES + 1),
], ids=["empty", "short-prefix", "beyond-payload", "u32-max", "over-header-limit"])
def test_header_length_beyond_payload_or_limit_is_rejected(data):
    with pytest.raises(WireFormatError):
        unpack(data)


@pytest.mark.parametrize("header", [
    b"not json",
    b"\xff\xfe\xfd",
    b"{\"blobs\": [], \"body\": ",
    b"[" * 100_000 + b"]" * 100_000,
    b"{\"blobs\": [], \"body\": NaN}",
], ids=["text", "not-utf8", "cut-json", "deep-json", "nan-literal"])
def test_non_json_header_is_rejected(header):
    # NaN is accepted by Python's json module; then the body is a float, which is not a node.
    with pytest.raises(WireFormatError):
        unpack(raw_header(header))


@pytest.mark.parametrize("header", [
    {}, {"blobs": []}, {"body": None}, {"blobs": [], "body": None, "extra": 1}, [], "blobs", 5,
    None,
], ids=["empty", "no-body", "no-blobs", "extra-key", "list", "string", "number", "null"])
def test_wrong_top_level_keys_are_rejected(header):
    with pytest.raises(WireFormatError):
        unpack(raw_header(json.dumps(header).encode()))


@pytest.mark.parametrize("sizes", [5, {"0": 8}, [-1], [True], ["8"], [8.0], [None]],
                         ids=["int", "dict", "negative", "bool", "string", "float", "null"])
def test_blob_sizes_that_are_not_a_list_of_counts_are_rejected(sizes):
    with pytest.raises(WireFormatError):
        unpack(payload(None, [b"\0" * 8], sizes=sizes))


@pytest.mark.parametrize("blob", [b"\0" * 7, b"\0" * 9], ids=["short", "long"])
def test_blob_sizes_not_matching_the_payload_are_rejected(blob):
    with pytest.raises(WireFormatError):
        unpack(payload(None, [blob], sizes=[8]))


def array_node(shape, dtype="<f8", index=0, tag="$a"):
    return {tag: index, "dtype": dtype, "shape": shape}


@pytest.mark.parametrize("shape, nbytes", [
    ([2], 8), ([2], 24), ([3, 2], 40), ([], 0), ([], 16), ([0], 8),
], ids=["short", "long", "2d-short", "0d-empty", "0d-long", "empty-with-data"])
def test_array_whose_shape_does_not_match_its_blob_is_rejected(shape, nbytes):
    with pytest.raises(WireFormatError):
        unpack(payload(array_node(shape), [b"\0" * nbytes]))


def test_huge_declared_shape_is_rejected_before_allocating():
    data = payload(array_node([2**40, 2**40]), [b"\0" * 8])
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(WireFormatError):
            unpack(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 1 << 20, f"decoding a rejected message allocated {peak} bytes"


@pytest.mark.parametrize("shape", [[0, 2**70], [0, 2**62, 2**62]], ids=["over-int64", "too-big"])
def test_zero_size_array_with_huge_dimensions_is_rejected(shape):
    with pytest.raises(WireFormatError):
        unpack(payload(array_node(shape), [b""]))


@pytest.mark.parametrize("node", [
    array_node([1], index=1), array_node([1], index=-1), array_node([1], index=True),
    array_node([1], index="0"), array_node([True]), array_node([-1]), array_node([1.0]),
    array_node("1"), array_node([1] * 33), {"$a": 0, "dtype": "<f8"},
    {**array_node([1]), "extra": 1},
], ids=["index-out-of-range", "negative-index", "bool-index", "string-index", "bool-dim",
        "negative-dim", "float-dim", "string-shape", "too-many-dims", "no-shape", "extra-key"])
def test_malformed_array_nodes_are_rejected(node):
    with pytest.raises(WireFormatError):
        unpack(payload(node, [b"\0" * 8]))


@pytest.mark.parametrize("dtype", ["|O", "<U4", "[('a', '<f8')]", ">f8", "f8", "<c16",
                                   "<M8[s]", "|V8", "", None, 8],
                         ids=["object", "unicode", "structured-str", "big-endian", "no-order",
                              "complex", "datetime", "void", "empty", "null", "int"])
@pytest.mark.parametrize("tag", ["$a", "$s"])
def test_disallowed_dtypes_are_rejected(dtype, tag):
    with pytest.raises(WireFormatError):
        unpack(payload(array_node([1], dtype=dtype, tag=tag), [b"\0" * 8]))


@pytest.mark.parametrize("dtype", [[["a", "<f8"]], {"a": "<f8"}], ids=["list", "object"])
def test_unhashable_dtypes_are_rejected(dtype):
    with pytest.raises(WireFormatError):
        unpack(payload(array_node([1], dtype=dtype), [b"\0" * 8]))


@pytest.mark.parametrize("node", [
    {"$zzz": 1}, {"a": 1}, {}, 5, 1.5, [1], {"$i": 5}, {"$i": "x"}, {"$i": "1" * 41},
    {"$i": "1", "extra": 2}, {"$f": "zz"}, {"$f": 1.5}, {"$t": 5}, {"$l": {"a": 1}},
    {"$d": [[1, 2]]}, {"$d": [["a"]]}, {"$d": {"a": 1}}, {"$other": 5}, {"$fn": 1},
    {"$ref": [0]}, {"$rng": 5}, {"$l": [1]},
], ids=["unknown-tag", "plain-key", "empty-node", "bare-int", "bare-float", "bare-list",
        "int-not-str", "int-garbage", "int-too-long", "int-extra-key", "float-garbage",
        "float-not-str", "tuple-not-list", "list-of-dict", "dict-int-key", "dict-pair-short",
        "dict-not-list", "other-not-str", "fn-not-str", "ref-short", "rng-not-str",
        "bare-int-in-list"])
def test_unknown_or_malformed_nodes_are_rejected(node):
    with pytest.raises(WireFormatError):
        unpack(payload(node))


@pytest.mark.parametrize("node", [
    {"$ref": ["x", []]}, {"$ref": [0, 5]}, {"$ref": [[1], []]}, {"$ref": [0, ["a"]]},
    {"$rng": "abc"}, {"$rng": "9" * 5000},
], ids=["ref-call-text", "ref-path-int", "ref-call-list", "ref-path-text", "rng-text",
        "rng-huge"])
def test_malformed_markers_are_rejected(node):
    with pytest.raises(WireFormatError):
        unpack(payload(node))


def test_too_deep_nesting_is_rejected():
    body = {"$i": "1"}
    for _ in range(MAX_DEPTH + 3):
        body = {"$l": [body]}
    with pytest.raises(WireFormatError):
        unpack(payload(body))


def test_deep_dicts_are_rejected_too():
    body = None
    for _ in range(MAX_DEPTH + 3):
        body = {"$d": [["k", body]]}
    with pytest.raises(WireFormatError):
        unpack(payload(body))


def test_random_corruptions_raise_only_wire_format_errors():
    """Flip, drop and insert bytes in a valid message: decoding either succeeds or raises
    WireFormatError, never anything else."""
    base = sample_message()
    rng = np.random.default_rng(3)
    for _ in range(3000):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(data)))
            action = int(rng.integers(0, 3))
            if action == 0:
                data[i] = int(rng.integers(0, 256))
            elif action == 1:
                del data[i]
            else:
                data.insert(i, int(rng.integers(0, 256)))
        try:
            unpack(bytes(data))
        except WireFormatError:
            pass
