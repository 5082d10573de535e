"""The activations of exercise 1 against centred differences and PyTorch autograd (float64)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from grader.engine import activations as A
from grader.engine.activations import ACTIVATIONS, SELU_ALPHA, SELU_SCALE

SPEC_NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu"]

# Every registry entry with its defaults, plus the non-default slopes students meet.
CASES = [(name, dict(act.params)) for name, act in ACTIVATIONS.items()] + [
    ("leaky_relu", {"alpha": 0.2}),
    ("leaky_relu", {"alpha": 1.5}),
    ("elu", {"alpha": 0.5}),
    ("elu", {"alpha": 2.0}),
]
CASE_IDS = [name + "".join(f"-{k}={v}" for k, v in p.items()) for name, p in CASES]
cases = pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)

SMALL = np.concatenate([[0.0, -0.0], np.logspace(-300, -3, 40), -np.logspace(-300, -3, 40)])
LARGE_MAGNITUDES = [20, 36, 40, 50, 100, 700, 710, 1000, 1e10, 1e100, 1e154, 1e155, 1e300]
LARGE = np.array(LARGE_MAGNITUDES + [-m for m in LARGE_MAGNITUDES], dtype=np.float64)


def fn_and_grad(name, params):
    act = ACTIVATIONS[name]
    return (lambda z: act.fn(z, **params)), (lambda z: act.grad(z, **params))


def torch_value_and_grad(torch, torch_fn, z, params):
    t = torch.tensor(np.asarray(z, dtype=np.float64), requires_grad=True)
    y = torch_fn(t, **params)
    (g,) = torch.autograd.grad(y.sum(), t)
    return y.detach().numpy(), g.numpy()


# --- the registry and the contract -----------------------------------------------------


def test_registry_holds_the_spec_activations_and_linear():
    assert set(ACTIVATIONS) == set(SPEC_NAMES) | {"linear"}
    for name, act in ACTIVATIONS.items():
        assert act.name == name
        assert act.fn is getattr(A, name)
        assert act.grad is getattr(A, name + "_grad")


SPEC_SIGNATURES = {
    "leaky_relu": "(z, alpha=0.01)",
    "elu": "(z, alpha=1.0)",
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_signatures_follow_the_spec(name):
    expected = SPEC_SIGNATURES.get(name, "(z)")
    assert str(inspect.signature(getattr(A, name))) == expected
    assert str(inspect.signature(getattr(A, name + "_grad"))) == expected


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_registry_params_are_the_default_arguments(name):
    act = ACTIVATIONS[name]
    for f in (act.fn, act.grad):
        defaults = {
            p.name: p.default
            for p in inspect.signature(f).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        assert defaults == dict(act.params)


def test_selu_constants_have_the_spec_digits():
    assert SELU_ALPHA == float("1.6732632423543772848170429916717")
    assert SELU_SCALE == float("1.0507009873554804934193349852946")


# --- values the course states ----------------------------------------------------------


def test_sigmoid_saturates_exactly_without_warnings(strict_numpy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert A.sigmoid(-1000.0) == 0.0
        assert A.sigmoid(1000.0) == 1.0
    assert A.sigmoid_grad(0.0) == 0.25
    assert A.tanh_grad(0.0) == 1.0


@pytest.mark.parametrize("alpha", [0.01, 0.2, 1.0, 2.0])
def test_kinks_take_the_pytorch_values(alpha):
    for z in (0.0, -0.0):
        assert A.relu_grad(z) == 0.0
        assert A.leaky_relu_grad(z, alpha=alpha) == alpha
        assert A.elu_grad(z, alpha=alpha) == alpha
        assert A.selu_grad(z) == SELU_SCALE * SELU_ALPHA


def test_default_slopes():
    assert A.leaky_relu_grad(-1.0) == 0.01
    assert A.elu(-50.0) == -1.0


# --- against centred differences -------------------------------------------------------


@cases
def test_grad_matches_centred_differences(name, params):
    f, grad = fn_and_grad(name, params)
    z = np.random.default_rng(0).uniform(-6.0, 6.0, size=2000)
    z = z[np.abs(z) > 1e-3]  # every kink is at 0
    h = 1e-6
    fd = (f(z + h) - f(z - h)) / (2 * h)
    # Rounding in f(z +- h) costs about eps |f| / h ~ 1e-9 here; a wrong formula costs far more.
    assert np.abs(fd - grad(z)).max() <= 1e-6 * (1.0 + np.abs(fd).max())


# --- against PyTorch autograd ------------------------------------------------------------


@cases
def test_matches_torch_on_random_inputs(name, params, torch, torch_activations, assert_close):
    f, grad = fn_and_grad(name, params)
    z = np.concatenate([np.random.default_rng(1).normal(0.0, 4.0, size=3000), [0.0, -0.0]])
    y_ref, g_ref = torch_value_and_grad(torch, torch_activations[name], z, params)
    # The floor covers the ulp-level noise where the result is a difference of nearly equal
    # numbers (1 - tanh^2 near saturation, 1 + tanh in GELU's left tail).
    assert_close(f(z), y_ref, floor=1e-14 * np.abs(y_ref).max(), what=f"{name} forward")
    assert_close(grad(z), g_ref, floor=1e-14 * np.abs(g_ref).max(), what=f"{name} grad")


@cases
def test_matches_torch_on_tiny_inputs_and_kinks(name, params, torch, torch_activations,
                                                assert_close):
    f, grad = fn_and_grad(name, params)
    y_ref, g_ref = torch_value_and_grad(torch, torch_activations[name], SMALL, params)
    # No cancellation near 0, so purely relative: expm1 (not exp - 1) is required here,
    # and the derivative at exactly 0 and -0 must be PyTorch's.
    assert_close(f(SMALL), y_ref, what=f"{name} forward")
    assert_close(grad(SMALL), g_ref, what=f"{name} grad")
    np.testing.assert_array_equal(grad(np.array([0.0, -0.0])), g_ref[:2])


@cases
def test_matches_torch_on_large_inputs(name, params, torch, torch_activations, assert_close):
    f, grad = fn_and_grad(name, params)
    fn_t = torch_activations[name]
    y_ref, g_ref = torch_value_and_grad(torch, fn_t, LARGE, params)
    assert np.isfinite(y_ref).all()
    # PyTorch's GELU derivative is 0 * inf = NaN once z^2 overflows (|z| > 1e154); there
    # every derivative has long reached its limit, so compare with PyTorch at 1e5 instead.
    torch_nan = np.isnan(g_ref)
    if torch_nan.any():
        _, g_far = torch_value_and_grad(torch, fn_t, np.sign(LARGE) * 1e5, params)
        g_ref = np.where(torch_nan, g_far, g_ref)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        ours_y, ours_g = f(LARGE), grad(LARGE)
    assert_close(ours_y, y_ref, floor=1e-15, what=f"{name} forward")
    assert_close(ours_g, g_ref, floor=1e-15, what=f"{name} grad")


# --- numerical safety and the array contract ---------------------------------------------

EXTREMES = np.array([1e300, -1e300, 1e200, -1e200, 1e155, -1e155, 1000.0, -1000.0, 745.0,
                     -745.0, 710.0, -710.0, 50.0, -50.0, 0.0, -0.0, 1e-300, -1e-300, 5e-324])


@cases
def test_extremes_raise_no_floating_point_error_and_give_no_nan(name, params, strict_numpy):
    f, grad = fn_and_grad(name, params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for g in (f, grad):
            out = g(EXTREMES)
            assert np.isfinite(out).all(), f"{name}: {out}"
            for z in EXTREMES:
                assert np.isfinite(g(z))


@cases
@pytest.mark.parametrize("shape", [(), (1,), (2, 3, 4), (0,), (3, 0)])
def test_shape_dtype_and_type(name, params, shape):
    z = np.random.default_rng(2).normal(0.0, 3.0, size=shape)
    for g in fn_and_grad(name, params):
        out = g(z)
        assert type(out) is np.ndarray  # a 0-d input gives a 0-d array, not a scalar
        assert out.shape == shape
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, g(z.ravel()).reshape(shape))


@cases
@pytest.mark.parametrize("z", [0.5, -2, np.float32(1.5), np.array([1, -2, 3]),
                               np.array([[0.25, -1.5]], dtype=np.float32)], ids=repr)
def test_other_input_types_give_float64_arrays(name, params, z):
    for g in fn_and_grad(name, params):
        out = g(z)
        assert type(out) is np.ndarray and out.dtype == np.float64
        assert out.shape == np.shape(z)
        np.testing.assert_array_equal(out, g(np.asarray(z, dtype=np.float64)))


@cases
def test_inputs_are_left_alone(name, params):
    z = np.random.default_rng(3).normal(0.0, 3.0, size=(4, 5))
    z[0, :3] = [0.0, 1e300, -1e300]
    before = z.copy()
    z.flags.writeable = False  # any in-place write raises
    for g in fn_and_grad(name, params):
        out = g(z)
        assert not np.shares_memory(out, z)
        out[...] = 7.0  # the result is the caller's to change
    np.testing.assert_array_equal(z, before)
