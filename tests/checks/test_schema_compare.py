"""Return-value schemas and the scale-relative comparison."""

import numpy as np
import pytest

from grader.checks import status
from grader.checks.compare import compare, fmt
from grader.checks.schema import (Arr, ArrList, Choice, Ignored, Keys, Mismatch, Num, Seq,
                                  conform)
from grader.course import Tolerance
from grader.sandbox.wire import Other


def _status(schema, value):
    with pytest.raises(Mismatch) as err:
        conform(schema, value)
    return err.value.status, err.value.message


def test_exact_arrays_only():
    assert conform(Arr("out", (2,)), np.zeros(2)).shape == (2,)
    assert _status(Arr("out", (2,)), np.zeros((1, 2)))[0] == status.WRONG_SHAPE  # no broadcasting
    assert _status(Arr("out", (2,)), ["0.0", "0.0"])[0] == status.BAD_TYPE
    assert _status(Arr("out", (2,)), [0.0, 0.0, 0.0])[0] == status.WRONG_SHAPE
    assert _status(Arr("out", (2,)), [True, False])[0] == status.BAD_TYPE
    assert _status(Arr("out", (2,)), [np.float32(0.0), 0.0])[0] == status.BAD_DTYPE
    assert _status(Arr("out", (2,)), np.zeros(2, np.float32))[0] == status.BAD_DTYPE
    assert _status(Arr("out", (2,)), Other("numpy.ma.MaskedArray"))[0] == status.BAD_TYPE
    assert _status(Arr("out", (2,)), None)[1] == "out should be a numpy ndarray of shape (2,), got None"


@pytest.mark.parametrize("shape, value", [
    ((), np.float64(1.5)), ((), 1.5), ((), 3), ((), np.array(1.5)),
    ((2,), [1.0, 2.0]), ((2,), (1.0, np.float64(2.0))), ((2,), [1, 2]),
    ((2, 2), [[1.0, 2.0], [3.0, 4.0]]), ((2, 2), [np.zeros(2), np.ones(2)]),
    ((2, 2), (np.zeros(2), [1.0, 2.0])), ((0,), []), ((0, 3), []), ((2, 0), [[], []]),
    ((1, 2), [np.array([1.0, 2.0])]), ((2,), [np.float64(1.0), np.array(2.0)]),
])
def test_what_numpy_converts_exactly_stands_in_for_an_array(shape, value):
    got = conform(Arr("out", shape), value)
    assert type(got) is np.ndarray and got.dtype == np.float64 and got.shape == shape
    assert np.array_equal(got, np.asarray(value, dtype=np.float64).reshape(shape))


@pytest.mark.parametrize("shape, value, code", [
    ((), 2 ** 60, status.BAD_TYPE),                 # not exact in float64
    ((), 1 + 2j, status.BAD_TYPE),
    ((), np.complex128(1.0), status.BAD_DTYPE),
    ((), np.int64(3), status.BAD_DTYPE),
    ((), [1.0], status.WRONG_SHAPE),
    ((2,), 1.0, status.WRONG_SHAPE),                 # no broadcasting of a number
    ((2, 2), [[1.0, 2.0], [3.0]], status.WRONG_SHAPE),  # ragged
    ((2, 2), [[1.0, 2.0]], status.WRONG_SHAPE),
    ((2,), [1.0, None], status.BAD_TYPE),
    ((2,), [1.0, Other("Lying")], status.BAD_TYPE),
    ((2,), [1.0, float("nan")], status.NON_FINITE),
    ((2,), [np.zeros(1), 1.0], status.WRONG_SHAPE),
    ((1, 2), [np.zeros(2, np.int64)], status.BAD_DTYPE),
    ((2,), {"a": 1.0, "b": 2.0}, status.BAD_TYPE),
    ((2,), "12", status.BAD_TYPE),
])
def test_what_numpy_does_not_convert_exactly_is_refused(shape, value, code):
    assert _status(Arr("out", shape), value)[0] == code


def test_a_stand_in_names_the_entry_that_is_wrong():
    assert _status(Arr("dW", (2, 2)), [[1.0, 2.0], [3.0, "x"]])[1] == \
        "dW[1][1] should be a float, got a str"
    assert _status(Arr("dW", (2, 2)), [[1.0, 2.0], [3.0, float("inf")]])[1] == \
        "dW contains inf at index (1, 1)"


def test_shape_messages_say_what_is_off():
    assert "transposed" in _status(Arr("dW", (3, 4)), np.zeros((4, 3)))[1]
    assert "reshape or keepdims" in _status(Arr("db", (4,)), np.zeros((1, 4)))[1]


def test_non_finite_entries_are_located():
    value = np.zeros((2, 2))
    value[1, 0] = np.inf
    code, message = _status(Arr("dW", (2, 2)), value)
    assert code == status.NON_FINITE and "(1, 0)" in message


def test_numbers_accept_python_and_numpy_reals_only():
    assert conform(Num("loss"), 2) == 2.0
    assert conform(Num("loss"), np.float64(1.5)) == 1.5
    assert conform(Num("loss"), np.array(1.5)) == 1.5
    assert _status(Num("loss"), True)[0] == status.BAD_TYPE
    assert _status(Num("loss"), np.zeros(2))[0] == status.BAD_TYPE
    assert _status(Num("loss"), float("nan"))[0] == status.NON_FINITE


def test_numbers_may_be_infinite_where_the_contract_says_so():
    assert conform(Num("ratio", finite=False), float("inf")) == float("inf")
    assert np.isnan(conform(Num("ratio", finite=False), np.float64("nan")))
    assert _status(Num("ratio", finite=False), "inf")[0] == status.BAD_TYPE


def test_dicts_need_their_keys_and_may_hold_more():
    schema = Keys("history", (("loss", Arr("history['loss']", (2,))),
                              ("norms", Arr("history['norms']", (2, 1)))))
    got = conform(schema, {"loss": np.zeros(2), "norms": np.ones((2, 1)), "mine": [1, 2]})
    assert set(got) == {"loss", "norms"} and got["norms"].shape == (2, 1)
    code, message = _status(schema, {"loss": np.zeros(2), "norm": np.ones((2, 1))})
    assert code == status.BAD_TYPE
    assert message == ("history has no key 'norms' (it needs 'loss' and 'norms'; it has "
                       "'loss', 'norm')")
    assert "should be a dict with keys 'loss' and 'norms', got a tuple of 2 items" in \
        _status(schema, (np.zeros(2), np.ones((2, 1))))[1]
    code, message = _status(schema, {"loss": "0.0, 1.0", "norms": np.ones((2, 1))})
    assert code == status.BAD_TYPE and message.startswith("history['loss'] should be")
    lists = conform(schema, {"loss": [0.0, 1.0], "norms": [[1.0], [2.0]]})
    assert lists["norms"].shape == (2, 1) and lists["loss"].dtype == np.float64
    assert _status(schema, {"loss": np.zeros(2), "norms": np.ones((1, 2))})[0] == \
        status.WRONG_SHAPE


def test_a_choice_is_one_of_its_words_and_only_short_words_are_echoed():
    schema = Choice("the verdict", ("vanishing", "healthy"))
    assert conform(schema, "healthy") == "healthy"
    assert "write 'healthy' exactly" in _status(schema, "Healthy ")[1]
    assert "got 'fine'" in _status(schema, "fine")[1]
    assert "another str of 14 characters" in _status(schema, "ratio 1.234567")[1]
    assert _status(schema, b"healthy")[0] == status.BAD_TYPE
    assert _status(schema, 3)[0] == status.BAD_TYPE


def test_sequences_and_lists():
    schema = Seq("ret", (ArrList("grads", ((2,), (1, 1))), Num("total"), Ignored("cache")))
    got = conform(schema, [(np.zeros(2), np.ones((1, 1))), 3.0, Other("x")])
    assert got[1] == 3.0 and got[2] is None
    assert "list of 2 arrays" in _status(schema, ([np.zeros(2)], 3.0, None))[1]
    assert "tuple of 3 items" in _status(schema, (1, 2))[1]


@pytest.mark.parametrize("bad, first", [
    ((np.zeros(2), np.full((1, 1), np.nan), np.zeros(3)), "g[1] contains nan"),
    ((np.zeros(2), np.full((1, 1), np.inf), np.zeros(4)), "g[1] contains inf"),
    ((np.full(2, np.nan), np.ones((1, 1)), np.zeros(3, np.float32)), "g[0] contains nan"),
    ((np.zeros(2), np.ones((1, 1), np.float32), np.full(3, np.nan)), "g[1] has dtype float32"),
    ((np.zeros(2), np.ones((1, 1)), "0.0 0.0 0.0"), "g[2] should be a numpy ndarray"),
    ((np.zeros(2), [[np.inf]], [0.0, 0.0, 0.0]), "g[1] contains inf"),
])
def test_an_array_list_reports_its_first_problem_in_order(bad, first):
    """The list is checked as a whole first; a problem still names the first array
    that has one, as checking them one by one does."""
    schema = ArrList("g", ((2,), (1, 1), (3,)))
    assert _status(schema, bad)[1].startswith(first)
    fine = (np.zeros(2), np.ones((1, 1)), np.arange(3.0))
    assert all(a is b for a, b in zip(conform(schema, fine), fine))


def test_compare_is_relative_to_the_reference_scale():
    tol = Tolerance(rtol=0.0, atol_scale=1e-8)
    ref = np.array([1e-30, -2e-30])
    assert compare(ref * (1 + 1e-12), ref, tol).ok
    assert not compare(ref * (1 + 1e-6), ref, tol).ok
    assert not compare(np.zeros(2), ref, tol).ok
    assert compare(np.zeros(2), np.zeros(2), tol).ok
    assert not compare(np.array([1e-200, 0.0]), np.zeros(2), tol).ok


def test_compare_reports_the_worst_entry():
    diff = compare(np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]),
                   Tolerance(rtol=0.0, atol_scale=1e-9))
    assert not diff.ok and diff.index == (1, 1) and diff.expected == 4.0 and diff.got == 5.0
    assert diff.rel_error == pytest.approx(0.25)


def test_elementwise_rtol_catches_errors_in_small_entries():
    tol = Tolerance(rtol=1e-8, atol_scale=1e-12)
    ref = np.array([1000.0, 1e-8])
    assert not compare(np.array([1000.0, 0.0]), ref, tol).ok


def test_fmt():
    assert fmt(0.0) == "0" and fmt(0.25) == "0.25" and fmt(1e-30) == "1.000e-30"


def test_another_library_s_tensor_is_refused_with_how_to_convert_it():
    code, message = _status(Arr("dx", (2,)), Other("torch.Tensor"))
    assert code == status.BAD_TYPE and "t.detach().numpy()" in message
    assert "t.item()" in _status(Num("loss"), Other("torch.Tensor"))[1]


def test_agree_takes_an_inf_only_as_the_same_inf_and_nan_never():
    from grader.checks.compare import agree
    tol = Tolerance(rtol=1e-10, atol_scale=0.0)
    want = np.array([np.inf, 2.0, -np.inf, 3.0])
    got = np.array([np.inf, 2.0 * (1 + 1e-12), np.inf, np.nan])
    assert agree(got, want, tol).tolist() == [True, True, False, False]
    assert not agree(5.0, np.inf, tol) and not agree(np.inf, 5.0, tol)
