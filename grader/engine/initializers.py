"""Weight initializers of exercise 2, with the distribution each one draws from.

Every initializer returns a float64 array of shape (fan_in, fan_out) and draws only
from the ``np.random.Generator`` passed in. The records in ``INITIALIZERS`` expose
each distribution's standard deviation (and, for the uniform ones, its bound ``a``)
because submissions are graded by their statistics, not by a particular draw.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

_SQRT3 = math.sqrt(3.0)


def _shape(fan_in, fan_out, rng) -> tuple[int, int]:
    # Checked up front so that a bad call fails loudly instead of drawing a
    # degenerate array or silently falling back to the global np.random state.
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    shape = (operator.index(fan_in), operator.index(fan_out))
    if min(shape) < 1:
        raise ValueError(f"fan_in and fan_out must be positive, got {shape}")
    return shape


def xavier_uniform_bound(fan_in, fan_out, gain=1.0) -> float:
    """a = gain sqrt(6 / (fan_in + fan_out))."""
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def xavier_normal_std(fan_in, fan_out, gain=1.0) -> float:
    """s = gain sqrt(2 / (fan_in + fan_out))."""
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def he_uniform_bound(fan_in, fan_out, negative_slope=0.0) -> float:
    """a = sqrt(6 / ((1 + negative_slope^2) fan_in))."""
    return math.sqrt(6.0 / ((1.0 + negative_slope**2) * fan_in))


def he_normal_std(fan_in, fan_out, negative_slope=0.0) -> float:
    """s = sqrt(2 / ((1 + negative_slope^2) fan_in))."""
    return math.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in))


def lecun_normal_std(fan_in, fan_out) -> float:
    """s = sqrt(1 / fan_in)."""
    return math.sqrt(1.0 / fan_in)


def random_normal_std(fan_in, fan_out, std=1.0) -> float:
    """s = std."""
    return float(std)


def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    """W ~ U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)).  Returns (fan_in, fan_out)."""
    shape = _shape(fan_in, fan_out, rng)
    a = xavier_uniform_bound(*shape, gain=gain)
    return rng.uniform(-a, a, size=shape)


def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    """W ~ N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)).  Returns (fan_in, fan_out)."""
    shape = _shape(fan_in, fan_out, rng)
    return rng.normal(0.0, xavier_normal_std(*shape, gain=gain), size=shape)


def he_uniform(fan_in, fan_out, rng, negative_slope=0.0):
    """W ~ U(-a, a), a = sqrt(6 / ((1 + negative_slope^2) fan_in)).  Returns (fan_in, fan_out)."""
    shape = _shape(fan_in, fan_out, rng)
    a = he_uniform_bound(*shape, negative_slope=negative_slope)
    return rng.uniform(-a, a, size=shape)


def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
    """W ~ N(0, s^2), s = sqrt(2 / ((1 + negative_slope^2) fan_in)).  Returns (fan_in, fan_out)."""
    shape = _shape(fan_in, fan_out, rng)
    s = he_normal_std(*shape, negative_slope=negative_slope)
    return rng.normal(0.0, s, size=shape)


def lecun_normal(fan_in, fan_out, rng):
    """W ~ N(0, s^2), s = sqrt(1 / fan_in).  Returns (fan_in, fan_out)."""
    shape = _shape(fan_in, fan_out, rng)
    return rng.normal(0.0, lecun_normal_std(*shape), size=shape)


def random_normal(fan_in, fan_out, rng, std=1.0):
    """W ~ N(0, std^2).  Returns (fan_in, fan_out)."""
    shape = _shape(fan_in, fan_out, rng)
    return rng.normal(0.0, random_normal_std(*shape, std=std), size=shape)


def _uniform_std(bound: Callable[..., float]) -> Callable[..., float]:
    # U(-a, a) has variance a^2 / 3.
    def std(fan_in, fan_out, **params) -> float:
        return bound(fan_in, fan_out, **params) / _SQRT3

    return std


@dataclass(frozen=True)
class Initializer:
    """An initializer as a record.

    ``std(fan_in, fan_out, **params)`` is the standard deviation of the distribution
    ``fn`` draws from; ``bound(fan_in, fan_out, **params)`` is ``a`` of U(-a, a) for
    the uniform ones and None for the normal ones; ``params`` holds the defaults of
    ``fn``'s keyword parameters.
    """

    name: str
    fn: Callable[..., np.ndarray]
    distribution: Literal["uniform", "normal"]
    std: Callable[..., float]
    bound: Callable[..., float] | None = None
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


# Positional-only, so that an initializer parameter may itself be called ``std``.
def _uniform(fn, bound_fn, /, **params) -> Initializer:
    std_fn = _uniform_std(bound_fn)
    return Initializer(fn.__name__, fn, "uniform", std_fn, bound_fn, MappingProxyType(params))


def _normal(fn, std_fn, /, **params) -> Initializer:
    return Initializer(fn.__name__, fn, "normal", std_fn, None, MappingProxyType(params))


INITIALIZERS: Mapping[str, Initializer] = MappingProxyType(
    {
        init.name: init
        for init in (
            _uniform(xavier_uniform, xavier_uniform_bound, gain=1.0),
            _normal(xavier_normal, xavier_normal_std, gain=1.0),
            _uniform(he_uniform, he_uniform_bound, negative_slope=0.0),
            _normal(he_normal, he_normal_std, negative_slope=0.0),
            _normal(lecun_normal, lecun_normal_std),
            _normal(random_normal, random_normal_std, std=1.0),
        )
    }
)
