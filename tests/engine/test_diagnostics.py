"""The diagnostics of exercise 5: norms, ratio and verdict, centred differences, relative error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.engine.diagnostics import (
    EXPLODE_ABOVE,
    VANISH_BELOW,
    diagnose,
    gradient_ratio,
    layer_norms,
    numerical_gradient,
    relative_error,
)
from grader.engine.layers import mlp_backward, mlp_forward

from .test_layers import act_pair, kink_safe_mlp, read_only

SHAPES = [(3, 4), (5,), (), (2, 1, 3), (1, 1), (0, 3)]


# --- layer_norms -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_layer_norms_are_the_frobenius_norms_in_order(seed):
    rng = np.random.default_rng(seed)
    grads = read_only(*(rng.normal(size=s) * 10.0 ** rng.uniform(-5, 5) for s in SHAPES))
    before = [g.copy() for g in grads]
    norms = layer_norms(grads)
    assert type(norms) is np.ndarray and norms.dtype == np.float64 and norms.shape == (len(SHAPES),)
    expected = [np.linalg.norm(g.ravel()) for g in grads]
    np.testing.assert_allclose(norms, expected, rtol=1e-14, atol=0)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_layer_norms_match_torch(torch):
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=s) for s in [(4, 3), (3,), (3, 2), (2,)]]
    ref = [torch.linalg.norm(torch.tensor(g)).item() for g in grads]
    np.testing.assert_allclose(layer_norms(grads), ref, rtol=1e-14, atol=0)


def test_layer_norms_of_an_empty_list_is_an_empty_array():
    norms = layer_norms([])
    assert norms.shape == (0,) and norms.dtype == np.float64


@pytest.mark.parametrize("magnitude", [1e200, 1e-200, 1e300, 5e-324])
def test_layer_norms_neither_overflow_nor_vanish(magnitude, strict_numpy):
    # Exploding and vanishing gradients are what these norms are for: 1e200 squared is inf.
    grads = [np.full((3, 3), magnitude), np.full(4, -magnitude), np.zeros((2, 2))]
    norms = layer_norms(grads).tolist()  # compared as Python floats: numpy's check underflows
    assert norms == pytest.approx([3 * magnitude, 2 * magnitude, 0.0], rel=1e-14, abs=0)


def test_layer_norms_accept_lists_and_float32():
    norms = layer_norms([[3.0, 4.0], np.float32([[6.0], [8.0]])])
    np.testing.assert_array_equal(norms, [5.0, 10.0])
    assert norms.dtype == np.float64


# --- gradient_ratio and diagnose --------------------------------------------------------------


@pytest.mark.parametrize("norms", [[2.0, 3.0, 8.0], np.array([1e-20, 1.0, 1e5]), (4.0,),
                                   [5.0, 0.5]])
def test_gradient_ratio_is_input_side_over_output_side(norms):
    ratio = gradient_ratio(norms)
    assert type(ratio) is float
    assert ratio == norms[0] / norms[-1]


def test_gradient_ratio_leaves_the_norms_alone():
    norms = read_only([1.0, 2.0, 4.0])[0]
    assert gradient_ratio(norms) == 0.25
    np.testing.assert_array_equal(norms, [1.0, 2.0, 4.0])


@pytest.mark.parametrize(("norms", "expected"), [([1.0, 0.0], math.inf), ([0.0, 0.0], math.nan),
                                                 ([0.0, 1.0], 0.0)])
def test_gradient_ratio_divides_by_zero_without_warnings(norms, expected, strict_numpy):
    ratio = gradient_ratio(norms)
    assert ratio == expected or (math.isnan(expected) and math.isnan(ratio))


@pytest.mark.parametrize("norms", [[], np.ones((2, 2))])
def test_gradient_ratio_refuses_what_is_not_a_list_of_norms(norms):
    with pytest.raises(ValueError):
        gradient_ratio(norms)


def test_default_thresholds_are_the_spec_ones():
    assert (VANISH_BELOW, EXPLODE_ABOVE) == (1e-2, 1e2)


BOUNDARIES = [
    (1e-2, "healthy"),  # the thresholds themselves are healthy
    (np.nextafter(1e-2, 0.0), "vanishing"),
    (np.nextafter(1e-2, 1.0), "healthy"),
    (1e2, "healthy"),
    (np.nextafter(1e2, math.inf), "exploding"),
    (np.nextafter(1e2, 0.0), "healthy"),
    (1.0, "healthy"),
    (0.0, "vanishing"),
    (1e-300, "vanishing"),
    (1e300, "exploding"),
    (math.inf, "exploding"),
]


@pytest.mark.parametrize(("ratio", "verdict"), BOUNDARIES, ids=[f"{r!r}" for r, _ in BOUNDARIES])
@pytest.mark.parametrize("output_norm", [1.0, 0.5, 2.0])  # powers of 2: the ratio is exact
def test_diagnose_at_and_around_the_thresholds(ratio, verdict, output_norm):
    norms = [float(ratio) * output_norm, 7.0, output_norm]
    if math.isfinite(ratio) and ratio > 0:
        assert gradient_ratio(norms) == ratio
    assert diagnose(norms) == verdict


@pytest.mark.parametrize(("norms", "verdict"), [([0.2, 1.0], "vanishing"), ([0.5, 1.0], "healthy"),
                                                ([3.0, 1.0], "healthy"), ([4.5, 1.0], "exploding")])
def test_diagnose_uses_the_thresholds_given(norms, verdict):
    assert diagnose(norms, vanish_below=0.25, explode_above=4.0) == verdict
    assert diagnose(norms, 0.25, 4.0) == verdict


def test_a_nan_ratio_is_neither_below_nor_above():
    assert diagnose([0.0, 0.0]) == "healthy"


@pytest.mark.parametrize(("lam", "verdict"), [(1.5, "exploding"), (0.5, "vanishing"),
                                              (1.0, "healthy")])
def test_linear_net_shows_in_the_backpropagated_signal_not_in_weight_gradients(lam, verdict):
    # W_l = lam I, no biases: dA scales as lam^L from output to input, while every ||dW_l||
    # carries lam^(L-1) and their ratio stays 1 (course facts).
    L, width = 50, 4
    weights = read_only(*[lam * np.eye(width)] * L)
    biases = read_only(*[np.zeros(width)] * L)
    act, act_grad = act_pair("linear")
    Y_hat, cache = mlp_forward(np.ones((2, width)), weights, biases, act)
    dWs, _, dAs = mlp_backward(np.ones_like(Y_hat), cache, act_grad)
    signal = layer_norms(dAs)
    assert gradient_ratio(signal) == pytest.approx(lam ** (L - 1), rel=1e-12)
    assert diagnose(signal) == verdict
    assert gradient_ratio(layer_norms(dWs)) == pytest.approx(1.0, rel=1e-12)
    assert diagnose(layer_norms(dWs)) == "healthy"


# --- numerical_gradient ----------------------------------------------------------------------


def cubic(x):
    return float(np.sum(x ** 3))


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 2)])
def test_numerical_gradient_is_centred(shape):
    # For x^3 the centred difference is 3x^2 + h^2 exactly (a forward one is 3x^2 + 3xh + h^2):
    # the error term pins down both the formula and the h used.
    rng = np.random.default_rng(10)
    x = read_only(rng.uniform(0.5, 2.0, size=shape))[0]
    for h in (1e-5, 1e-3, 1e-2):
        grad = numerical_gradient(cubic, x, h=h)
        assert type(grad) is np.ndarray and grad.shape == x.shape and grad.dtype == np.float64
        np.testing.assert_allclose(grad - 3 * x ** 2, h ** 2, rtol=1e-3 if h > 1e-4 else 0,
                                   atol=1e-8 if h < 1e-4 else 0)


def test_numerical_gradient_default_step_is_1e_minus_5():
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(numerical_gradient(cubic, x), numerical_gradient(cubic, x, 1e-5))


def test_numerical_gradient_evaluates_at_x_plus_and_minus_h_exactly():
    # Every probe differs from x in one entry, by exactly one rounding of x +- h: the
    # entries probed before it are back to their exact old values, not (v - h) + h.
    rng = np.random.default_rng(13)
    x = np.concatenate([[0.1, -3.7, 1e3, 2.0], rng.normal(size=8) * 10 ** rng.uniform(-3, 3, 8)])
    x = x.reshape(3, 4)
    h = 1e-4
    seen = []
    numerical_gradient(lambda p: seen.append(p.copy()) or 0.0, x, h)
    assert len(seen) == 2 * x.size
    for k, idx in enumerate(np.ndindex(x.shape)):
        for point, sign in ((seen[2 * k], 1), (seen[2 * k + 1], -1)):
            expected = x.copy()
            expected[idx] = x[idx] + sign * h
            np.testing.assert_array_equal(point, expected)


def test_numerical_gradient_leaves_x_unchanged_even_while_f_runs():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 3))
    original = x.copy()

    def f(p):
        assert p is not x and not np.shares_memory(p, x)
        np.testing.assert_array_equal(x, original)
        return float(np.sum(np.sin(p)))

    numerical_gradient(f, x)
    np.testing.assert_array_equal(x, original)
    frozen = read_only(x)[0]
    numerical_gradient(f, frozen)  # a read-only x works: it is never written to


def test_numerical_gradient_of_float32_and_lists_is_float64():
    for x in (np.float32([1.0, 2.0]), [1.0, 2.0]):
        grad = numerical_gradient(cubic, x)
        assert grad.dtype == np.float64
        np.testing.assert_allclose(grad, [3.0, 12.0], rtol=1e-9)


@pytest.mark.parametrize(("name", "depth"), [("tanh", 3), ("sigmoid", 2), ("relu", 4),
                                             ("gelu", 1), ("elu", 5)])
def test_numerical_gradient_matches_the_analytic_mlp_gradients(name, depth):
    rng = np.random.default_rng(depth)
    X, weights, biases = kink_safe_mlp(rng, name, depth)
    act, act_grad = act_pair(name)
    Y_hat, cache = mlp_forward(X, weights, biases, act)
    G = rng.normal(size=Y_hat.shape)
    dWs, _, dAs = mlp_backward(G, cache, act_grad)
    numeric_dX = numerical_gradient(
        lambda p: np.sum(mlp_forward(p, weights, biases, act)[0] * G), X)
    assert relative_error(numeric_dX, dAs[0]) < 1e-7
    for l in range(depth):
        def loss(W, l=l):
            return np.sum(mlp_forward(X, weights[:l] + [W] + weights[l + 1:], biases, act)[0] * G)
        assert relative_error(numerical_gradient(loss, weights[l]), dWs[l]) < 1e-7


def test_numerical_gradient_matches_torch_autograd(torch):
    rng = np.random.default_rng(12)
    A, x = rng.normal(size=(4, 4)), rng.normal(size=(2, 4))
    t = torch.tensor(x, requires_grad=True)
    (ref,) = torch.autograd.grad(torch.logsumexp(t @ torch.tensor(A), dim=1).sum(), t)

    def f(p):
        z = p @ A
        m = z.max(axis=1, keepdims=True)
        return float(np.sum(m[:, 0] + np.log(np.exp(z - m).sum(axis=1))))

    assert relative_error(numerical_gradient(f, x), ref.numpy()) < 1e-9


# --- relative_error --------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "expected"), [
    ([1.0, 2.0], [1.0, 2.5], 0.5 / 4.5),
    ([[3.0, -4.0]], [[3.0, 4.0]], 8.0 / 8.0),
    ([0.0], [0.0], 0.0),
    ([1e-13], [0.0], 1e-13 / 1e-12),  # the floor on the denominator
    ([1e-12], [-1e-12], 2e-12 / 2e-12),
    (2.0, 2.0, 0.0),
    ([-5.0, 1.0, 0.0], [-5.0, 1.0, 1e-3], 1e-3 / (5.0 + 5.0)),
])
def test_relative_error_follows_the_spec_formula(a, b, expected):
    a, b = read_only(a, b)
    err = relative_error(a, b)
    assert type(err) is float
    assert err == pytest.approx(expected, rel=1e-15)
    assert relative_error(b, a) == err


def test_relative_error_uses_max_abs_of_each_array_not_of_the_difference():
    # max|a| + max|b|, not max(|a| + |b|): the two largest entries sit in different places.
    a, b = np.array([10.0, 0.0]), np.array([0.0, 10.0])
    assert relative_error(a, b) == 10.0 / 20.0


def test_relative_error_of_empty_arrays_is_zero():
    assert relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_relative_error_refuses_different_shapes():
    with pytest.raises(ValueError):
        relative_error(np.zeros(3), np.zeros((3, 1)))
