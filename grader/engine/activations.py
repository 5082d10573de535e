"""Activation functions and their derivatives, as in exercise 1.

Every function takes an array ``z`` of any shape (0-d included) and returns a new
float64 ndarray of the same shape. Derivatives are evaluated at the pre-activation
``z`` and follow PyTorch autograd in float64, kinks included. Formulas are written
the way PyTorch's CPU kernels evaluate them, so the two agree to a few ulps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# PyTorch multiplies the two SELU constants once, in float64, and uses the product.
_SELU_NEG_COEF = SELU_ALPHA * SELU_SCALE

# sqrt(2/pi), built from M_SQRT2 and M_2_SQRTPI exactly as PyTorch's GELU kernel does.
_GELU_BETA = 1.41421356237309504880 * 1.12837916709551257390 * 0.5
_GELU_KAPPA = 0.044715
# Beyond |z| = 10 the inner tanh is exactly +-1 in float64 (it already is past ~7.2),
# so clipping there changes no result and keeps z**3 from overflowing.
_GELU_SATURATION = 10.0


def _elementwise(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Give every activation the same contract: float64 in, float64 ndarray out."""

    @functools.wraps(fn)
    def wrapper(z, *args, **kwargs):
        z = np.asarray(z, dtype=np.float64)
        # exp of a very negative number underflowing to 0 is the right answer in the
        # tails, not an error, even when the caller runs under np.errstate(all="raise").
        with np.errstate(under="ignore"):
            out = fn(z, *args, **kwargs)
        # ufuncs turn 0-d arrays into numpy scalars; callers get an ndarray back.
        return np.asarray(out, dtype=np.float64)

    return wrapper


@_elementwise
def sigmoid(z):
    """sigmoid(z) = 1 / (1 + exp(-z)).  z: any shape -> same shape."""
    e = np.exp(-np.abs(z))  # never overflows: the exponent is <= 0
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@_elementwise
def sigmoid_grad(z):
    """sigmoid'(z) = sigmoid(z) (1 - sigmoid(z)).  z: any shape -> same shape."""
    s = sigmoid(z)
    return s * (1.0 - s)


@_elementwise
def tanh(z):
    """tanh(z).  z: any shape -> same shape."""
    return np.tanh(z)


def _one_minus_square(t):
    # 1 - t*t loses every digit as |t| -> 1; (1 - t)(1 + t) stays within about an ulp
    # of the exactly rounded 1 - t^2, which is what PyTorch's fused multiply-add gives.
    return (1.0 - t) * (1.0 + t)


@_elementwise
def tanh_grad(z):
    """tanh'(z) = 1 - tanh(z)^2.  z: any shape -> same shape."""
    return _one_minus_square(np.tanh(z))


@_elementwise
def relu(z):
    """relu(z) = max(z, 0).  z: any shape -> same shape."""
    return np.maximum(z, 0.0)


@_elementwise
def relu_grad(z):
    """relu'(z) = 1 if z > 0 else 0 (so relu'(0) = 0).  z: any shape -> same shape."""
    # The mask converted, not np.where(z > 0, 1.0, 0.0): the same values, ten times faster.
    return (z > 0).astype(np.float64)


@_elementwise
def leaky_relu(z, alpha=0.01):
    """leaky_relu(z) = z if z > 0 else alpha z.  z: any shape -> same shape."""
    return np.where(z > 0, z, alpha * z)


@_elementwise
def leaky_relu_grad(z, alpha=0.01):
    """leaky_relu'(z) = 1 if z > 0 else alpha (so the kink takes alpha).  z: any shape."""
    return np.where(z > 0, 1.0, float(alpha))


def _elu_scaled(z, neg_coef, pos_coef):
    # expm1 keeps accuracy for tiny negative z; the minimum keeps the unused branch of
    # np.where from overflowing for large positive z.
    return np.where(z > 0, z * pos_coef, np.expm1(np.minimum(z, 0.0)) * neg_coef)


def _elu_scaled_grad(z, neg_coef, pos_coef):
    return np.where(z > 0, pos_coef, neg_coef * np.exp(np.minimum(z, 0.0)))


@_elementwise
def elu(z, alpha=1.0):
    """elu(z) = z if z > 0 else alpha (exp(z) - 1).  z: any shape -> same shape."""
    return _elu_scaled(z, alpha, 1.0)


@_elementwise
def elu_grad(z, alpha=1.0):
    """elu'(z) = 1 if z > 0 else alpha exp(z) (so elu'(0) = alpha).  z: any shape."""
    return _elu_scaled_grad(z, alpha, 1.0)


@_elementwise
def selu(z):
    """selu(z) = scale * elu(z, alpha) with the SELU constants.  z: any shape."""
    return _elu_scaled(z, _SELU_NEG_COEF, SELU_SCALE)


@_elementwise
def selu_grad(z):
    """selu'(z) = scale if z > 0 else scale alpha exp(z) (kink: scale alpha).  z: any shape."""
    return _elu_scaled_grad(z, _SELU_NEG_COEF, SELU_SCALE)


def _gelu_tanh_inner(z):
    zc = np.clip(z, -_GELU_SATURATION, _GELU_SATURATION)
    zc_sq = zc * zc
    return np.tanh(_GELU_BETA * (zc + _GELU_KAPPA * (zc_sq * zc))), zc_sq


@_elementwise
def gelu(z):
    """gelu(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).  z: any shape."""
    t, _ = _gelu_tanh_inner(z)
    return 0.5 * z * (1.0 + t)


@_elementwise
def gelu_grad(z):
    """gelu'(z) = 0.5 (1 + t) + 0.5 z (1 - t^2) sqrt(2/pi) (1 + 3*0.044715 z^2), t as in gelu."""
    t, zc_sq = _gelu_tanh_inner(z)
    tanh_derivative = _one_minus_square(t)
    inner_derivative = _GELU_BETA * (1.0 + 3.0 * _GELU_KAPPA * zc_sq)
    # Past saturation tanh_derivative is exactly 0, and the clipped z^2 keeps the
    # product 0 instead of 0 * inf = NaN (which PyTorch itself returns for |z| > 1e154).
    return 0.5 * (1.0 + t) + 0.5 * z * tanh_derivative * inner_derivative


@_elementwise
def silu(z):
    """silu(z) = z sigmoid(z).  z: any shape -> same shape."""
    e = np.exp(-np.abs(z))  # as in sigmoid: the exponent is <= 0
    # For z >= 0 this is PyTorch's own form, z / (1 + exp(-z)), rather than z * sigmoid(z).
    return np.where(z >= 0, z / (1.0 + e), z * e / (1.0 + e))


@_elementwise
def silu_grad(z):
    """silu'(z) = sigmoid(z) (1 + z (1 - sigmoid(z))).  z: any shape -> same shape."""
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


@_elementwise
def linear(z):
    """linear(z) = z, as a new array (never the input itself).  z: any shape -> same shape."""
    return np.array(z, dtype=np.float64, copy=True)


@_elementwise
def linear_grad(z):
    """linear'(z) = 1.  z: any shape -> same shape."""
    return np.ones_like(z, dtype=np.float64)


@dataclass(frozen=True)
class Activation:
    """An activation as a record: ``fn(z, **params)`` and ``grad(z, **params)``."""

    name: str
    fn: Callable[..., np.ndarray]
    grad: Callable[..., np.ndarray]
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


def _record(fn, grad, **params) -> Activation:
    return Activation(fn.__name__, fn, grad, MappingProxyType(dict(params)))


ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(
    {
        a.name: a
        for a in (
            _record(sigmoid, sigmoid_grad),
            _record(tanh, tanh_grad),
            _record(relu, relu_grad),
            _record(leaky_relu, leaky_relu_grad, alpha=0.01),
            _record(elu, elu_grad, alpha=1.0),
            _record(selu, selu_grad),
            _record(gelu, gelu_grad),
            _record(silu, silu_grad),
            _record(linear, linear_grad),
        )
    }
)


def bare(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """An activation or derivative without the wrapper that makes each call safe on its
    own: for float64 ndarrays only, called under ``np.errstate(under="ignore")`` (see
    ``quiet_pass``). The same values; the wrapper's cost is most of a small layer's."""
    return fn.__wrapped__


def quiet_pass(network_pass: Callable, *args, act: Activation, derivative: bool = False):
    """``network_pass(*args, act.fn)`` (``act.grad`` for a backward pass), with the error
    state entered once for the whole pass instead of twice per layer."""
    with np.errstate(under="ignore"):
        return network_pass(*args, bare(act.grad if derivative else act.fn))
