"""The trusted reference engine: pure numpy versions of every exercise function.

No I/O and no imports from the rest of ``grader``; nothing modifies its inputs.
The grader compares submissions against these functions, and the engine's own
tests compare them against PyTorch autograd in float64.

- ``activations``: the activations of exercise 1 and their ``ACTIVATIONS`` registry.
- ``initializers``: the initializers of exercise 2 and their ``INITIALIZERS`` registry.
- ``clipping``: global norm and clipping by norm and by value (exercise 3).
- ``layers``: MSE loss, linear layer and MLP forward/backward pairs (exercise 4).
- ``diagnostics``: per-layer norms, their ratio and verdict, centred-difference
  gradients and the relative error of a gradient check (exercise 5).
- ``fixes``: the residual MLP, layer norm and batch norm forward/backward pairs (exercise 6).
- ``training``: plain SGD on the MLP with optional clipping by global norm (exercise 7).
"""

from grader.engine import (
    activations,
    clipping,
    diagnostics,
    fixes,
    initializers,
    layers,
    training,
)
from grader.engine.activations import ACTIVATIONS, Activation
from grader.engine.initializers import INITIALIZERS, Initializer

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "Activation",
    "Initializer",
    "activations",
    "clipping",
    "diagnostics",
    "fixes",
    "initializers",
    "layers",
    "training",
]
