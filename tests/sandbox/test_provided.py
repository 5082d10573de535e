"""The callables the child hands to student code agree with the grader's to the bit."""

import sys
from pathlib import Path

import numpy as np
import pytest

from grader.checks.gradcheck import TEST_FUNCTIONS
from grader.engine.activations import ACTIVATIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "grader" / "sandbox"))
import child  # noqa: E402  (the child runs with grader/sandbox as its path entry)

ACTIVATION_NAMES = sorted(name for name in child.PROVIDED if name not in TEST_FUNCTIONS)


def test_every_provided_callable_has_a_grader_side_definition():
    assert set(child.PROVIDED) == set(ACTIVATION_NAMES) | set(TEST_FUNCTIONS)
    assert all(name.removesuffix("_grad") in ACTIVATIONS for name in ACTIVATION_NAMES)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_provided_callable_is_bit_identical_to_the_engine(name):
    base = ACTIVATIONS[name.removesuffix("_grad")]
    reference = base.grad if name.endswith("_grad") else base.fn
    rng = np.random.default_rng(5)
    z = np.concatenate([rng.normal(0, 5, 20000), [0.0, -0.0, 1e-300, -1000.0, 1000.0, 40.0]])
    got = np.asarray(child.PROVIDED[name](z))
    assert np.array_equal(got, reference(z))
    assert got.dtype == np.float64


def _probes(rng, two_d):
    """Arrays as numerical_gradient hands them to f: any shape, and views too."""
    shapes = [(4, 3), (1, 1), (7, 5), (2, 9)] if two_d else [(), (1,), (6,), (3, 4), (2, 3, 4),
                                                             (300,)]
    for shape in shapes:
        x = rng.normal(size=shape) * rng.uniform(0.2, 3.0)
        yield x
        if x.ndim == 2:
            yield np.asfortranarray(x)  # same values, another memory order
            yield x.T.copy().T
        if x.ndim >= 1 and x.shape[-1] > 1:
            yield np.concatenate([x, x], axis=-1)[..., ::2]  # a strided view


@pytest.mark.parametrize("name", sorted(TEST_FUNCTIONS))
def test_provided_test_function_is_bit_identical_to_the_graders(name):
    ours = TEST_FUNCTIONS[name]
    rng = np.random.default_rng(6)
    for _ in range(20):
        for x in _probes(rng, ours.two_d):
            got = child.PROVIDED[name](x)
            assert type(got) is float
            assert got == ours.fn(x) == ours.fn(np.ascontiguousarray(x)), (name, x.shape)


@pytest.mark.parametrize("name", sorted(TEST_FUNCTIONS))
def test_the_exact_gradient_of_each_test_function_is_right(name):
    # The gradients document the margins of numerical_gradient's tolerance.
    ours = TEST_FUNCTIONS[name]
    x = np.random.default_rng(7).normal(size=(3, 4))
    h, numeric = 1e-6, np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        numeric[i] = (ours.fn(x + e) - ours.fn(x - e)) / (2 * h)
    np.testing.assert_allclose(numeric, ours.grad(x), rtol=1e-7, atol=1e-9)
