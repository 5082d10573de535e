"""Fixtures for the explorer's tests: PyTorch as the oracle, under the engine tests' rule
(a missing torch skips locally and fails in CI)."""

from __future__ import annotations

import importlib.util

import pytest

from engine.conftest import load_torch

from grader.explore.config import Config

FIXES = importlib.util.find_spec("grader.engine.fixes") is not None
needs_fixes = pytest.mark.skipif(not FIXES, reason="grader/engine/fixes.py is not there yet")


@pytest.fixture(scope="session")
def torch():
    torch = load_torch()
    torch.set_num_threads(1)  # tiny tensors: a thread pool only adds spin-waiting
    return torch


def small(**changes) -> Config:
    """A network small enough to check every number, deep enough to have a middle."""
    return Config(**{"depth": 4, "width": 5, "batch_size": 6, "steps": 6, "lr": 0.05,
                     "activation": "tanh", "init": "xavier_normal", "seed": 3, **changes})
