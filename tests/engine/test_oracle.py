"""The test fixtures themselves: the torch oracle may skip locally but never in CI."""

from __future__ import annotations

import sys

import numpy as np
import pytest


def test_missing_torch_fails_in_ci(monkeypatch, torch_loader):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        torch_loader()


@pytest.mark.parametrize("value", [None, "", "0", "false"])
def test_missing_torch_skips_outside_ci(monkeypatch, torch_loader, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(pytest.skip.Exception):
        torch_loader()


def test_strict_numpy_raises_on_every_floating_point_error(strict_numpy):
    assert set(np.geterr().values()) == {"raise"}
    with pytest.raises(FloatingPointError):
        np.exp(np.array([1000.0]))
