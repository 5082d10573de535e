"""The engine's remedies (grader/engine/fixes.py, exercise 6), reached through one door.

The explorer's normalised networks call ``batchnorm_*``/``layernorm_*`` from there. The
module is imported on first use, not at import time, so that everything else in the
explorer works on an engine without it, and a network that needs it fails with one
clear ExploreError instead of an ImportError.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from grader.explore.config import ExploreError

MODULE = "grader.engine.fixes"


def available() -> bool:
    return importlib.util.find_spec(MODULE) is not None


def fixes() -> ModuleType:
    """grader.engine.fixes, or an ExploreError saying what is missing."""
    if not available():
        raise ExploreError("--norm needs the engine's remedies (grader/engine/fixes.py), "
                           "which this installation does not have yet")
    return importlib.import_module(MODULE)


def norm_pair(norm: str):
    """(forward, backward) of the engine's batch or layer norm, as (x, gamma, beta) ->
    (out, cache) and (dout, cache) -> (dx, dgamma, dbeta)."""
    module = fixes()
    return getattr(module, f"{norm}norm_forward"), getattr(module, f"{norm}norm_backward")
