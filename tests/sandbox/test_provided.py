"""The activations the child hands to student code agree with the engine to the bit."""

import sys
from pathlib import Path

import numpy as np
import pytest

from grader.engine.activations import ACTIVATIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "grader" / "sandbox"))
import child  # noqa: E402  (the child runs with grader/sandbox as its path entry)


@pytest.mark.parametrize("name", sorted(child.PROVIDED))
def test_provided_callable_is_bit_identical_to_the_engine(name):
    base = ACTIVATIONS[name.removesuffix("_grad")]
    reference = base.grad if name.endswith("_grad") else base.fn
    rng = np.random.default_rng(5)
    z = np.concatenate([rng.normal(0, 5, 20000), [0.0, -0.0, 1e-300, -1000.0, 1000.0, 40.0]])
    got = np.asarray(child.PROVIDED[name](z))
    assert np.array_equal(got, reference(z))
    assert got.dtype == np.float64
