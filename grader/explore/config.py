"""What the explorer is asked to build: one network, its data and its training, as data.

A ``Config`` holds every option of ``grader explore`` with its default; ``validate``
checks one against the engine's registries and returns it, or raises ``ExploreError``
naming the option and the fix. Nothing here imports numpy, so the CLI can build and
check a configuration before the engine is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from grader.errors import GraderError

NORMS = ("none", "batch", "layer")
# Not an engine initializer: the deep linear network of the lesson needs W = I exactly,
# which no random draw gives; --weight-scale then makes it lambda * I.
IDENTITY = "identity"


class ExploreError(GraderError):
    """An option the explorer cannot run with; the message names the option and the fix."""


@dataclass(frozen=True)
class Config:
    """One network to explore. Every layer is width x width (input, hidden and output),
    so that every hidden layer can take a skip connection and W = lambda * I is defined."""

    depth: int = 10
    width: int = 64
    activation: str = "relu"
    init: str = "he_normal"
    weight_scale: float = 1.0
    bias: bool = True
    residual: bool = False
    norm: str = "none"
    clip: float | None = None
    lr: float = 0.01
    steps: int = 50
    batch_size: int = 32
    seed: int = 0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def with_options(base: Config, options: dict) -> Config:
    """``base`` with the options that were given (None means not given) put in."""
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ExploreError(f"unknown option {unknown[0]!r}")
    return replace(base, **{k: v for k, v in options.items() if v is not None})


def validate(config: Config, activations, initializers) -> Config:
    """``config`` unchanged when every option is usable, else an ExploreError.

    ``activations`` and ``initializers`` are the engine's registries (names suffice),
    passed in so that this module stays free of numpy.
    """
    _at_least("depth", config.depth, 1)
    _at_least("width", config.width, 1)
    _at_least("batch-size", config.batch_size, 1)
    _at_least("steps", config.steps, 0)
    _one_of("activation", config.activation, list(activations))
    _one_of("init", config.init, [*initializers, IDENTITY])
    _one_of("norm", config.norm, list(NORMS))
    _positive("weight-scale", config.weight_scale)
    _finite("lr", config.lr)
    if config.lr < 0:
        raise ExploreError(f"--lr must be 0 or more, got {config.lr:g}")
    if config.clip is not None:
        _positive("clip", config.clip)
    if config.norm == "batch" and config.batch_size < 2:
        # With one example the batch variance is 0: every unit normalises to beta and
        # the layer passes no gradient at all, which would read as a false diagnosis.
        raise ExploreError("--norm batch needs --batch-size 2 or more (batch statistics of "
                           f"{config.batch_size} example are meaningless)")
    if config.norm == "layer" and config.width < 2:
        # The same degeneracy across the features of one row.
        raise ExploreError("--norm layer needs --width 2 or more (one feature normalises to "
                           "beta whatever its input)")
    _fits(config)
    return config


MAX_BYTES = 2 << 30  # what one exploration may hold: a lab, not a training run


def needed_bytes(config: Config) -> int:
    """About what the network holds in float64: per layer its weights three times (the
    matrix, its gradient, the update's temporaries) and the batch's activations six times
    (the forward caches and the backward signals)."""
    width, batch = config.width, config.batch_size
    return 8 * config.depth * (3 * width * width + 6 * batch * width)


def _fits(config: Config) -> None:
    """One line saying what fits, instead of a MemoryError from numpy half way in."""
    need = needed_bytes(config)
    if need <= MAX_BYTES:
        return
    width = config.width
    while width > 1 and needed_bytes(replace(config, width=width)) > MAX_BYTES:
        width = int(width / 1.1)
    raise ExploreError(f"--width {config.width} with --depth {config.depth} and --batch-size "
                       f"{config.batch_size} needs about {need / (1 << 30):,.0f} GiB "
                       f"(the explorer allows {MAX_BYTES >> 30} GiB): try --width {width} "
                       "or less, or fewer layers")


def _at_least(option: str, value: int, low: int) -> None:
    if not isinstance(value, int) or value < low:
        raise ExploreError(f"--{option} must be an integer of at least {low}, got {value!r}")


def _one_of(option: str, value: str, names: list[str]) -> None:
    if value not in names:
        raise ExploreError(f"unknown --{option} {value!r}: choose one of {', '.join(names)}")


def _finite(option: str, value: float) -> None:
    if not math.isfinite(value):
        raise ExploreError(f"--{option} must be a finite number, got {value!r}")


def _positive(option: str, value: float) -> None:
    _finite(option, value)
    if value <= 0:
        raise ExploreError(f"--{option} must be greater than 0, got {value:g}")
