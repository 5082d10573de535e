"""Fixtures for the engine tests: PyTorch as the independent oracle.

Locally a missing torch skips the comparisons; in CI (the ``CI`` environment
variable set) it fails them, so the oracle can never silently drop out.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

_FALSE_WORDS = {"", "0", "false", "no"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in _FALSE_WORDS


def load_torch():
    """Import torch; skip when it is missing locally, fail when it is missing in CI."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        if _in_ci():
            pytest.fail(f"CI is set but torch cannot be imported ({exc}); the engine tests need it")
        pytest.skip(f"torch cannot be imported ({exc}); set CI to make this a failure")


@pytest.fixture(scope="session")
def torch():
    torch = load_torch()
    # The tensors here are tiny: a thread pool only adds spin-waiting, which on a busy
    # two-core machine made single comparisons take seconds.
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def torch_loader():
    """The loader itself, so that its skip-or-fail rule can be tested."""
    return load_torch


@pytest.fixture
def strict_numpy():
    """Any floating-point warning (overflow, invalid, divide, underflow) is an error."""
    with np.errstate(all="raise"):
        yield


def _torch_activations(torch):
    F = torch.nn.functional
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda t, alpha: F.leaky_relu(t, negative_slope=alpha),
        "elu": lambda t, alpha: F.elu(t, alpha=alpha),
        "selu": F.selu,
        "gelu": lambda t: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "linear": lambda t: t,
    }


@pytest.fixture(scope="session")
def torch_activations(torch):
    """PyTorch's version of every activation in the registry: ``name -> fn(t, **params)``."""
    return _torch_activations(torch)


def _assert_close(ours, ref, rtol=1e-10, floor=0.0, what="") -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    with np.errstate(all="ignore"):  # the check itself may meet 1e300 and 1e-300
        bad = ~(np.abs(ours - ref) <= rtol * np.abs(ref) + floor)
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} of {ref.size} entries differ beyond rtol={rtol}, "
        f"floor={floor:.3g}; first at {np.argwhere(bad)[0].tolist()}: "
        f"{ours[bad][0]!r} vs {ref[bad][0]!r}"
    )


def _assert_scale_close(ours, ref, rtol=1e-10, what="") -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    assert np.isfinite(ours).all(), f"{what}: non-finite entries"
    err = np.max(np.abs(ours - ref), initial=0.0)
    scale = np.max(np.abs(ref), initial=0.0)
    assert err <= rtol * scale, f"{what}: max|diff| {err:.3g} > {rtol:g} * max|ref| {scale:.3g}"


@pytest.fixture(scope="session")
def assert_close():
    """Elementwise: |ours - ref| <= rtol |ref| + floor everywhere (NaN never passes)."""
    return _assert_close


@pytest.fixture(scope="session")
def assert_scale_close():
    """Per array: max |ours - ref| <= rtol max |ref| (all-zero ref means exact)."""
    return _assert_scale_close
