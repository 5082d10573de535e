# A correct submission written independently of the reference solutions (style: loops).
"""Activations and their derivatives, written element by element (style: loops)."""

import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_K = math.sqrt(2.0 / math.pi)
GELU_C = 0.044715


def _as_float_array(z):
    return np.asarray(z, dtype=np.float64)


def _map(fn, z):
    """Apply the scalar function fn to every entry; a 0-d input gives a Python float."""
    z = _as_float_array(z)
    if z.ndim == 0:
        return fn(float(z))
    out = np.empty(z.shape, dtype=np.float64)
    flat_out = out.reshape(-1)
    i = 0
    for v in z.flat:
        flat_out[i] = fn(float(v))
        i += 1
    return out


def _fill(fn, z):
    """Apply fn to every entry, filling a fresh array like z (0-d stays a 0-d array)."""
    z = _as_float_array(z)
    out = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        out[idx] = fn(float(z[idx]))
    return out


# ---------------------------------------------------------------- scalar helpers

def _sigmoid_scalar(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_grad_scalar(x):
    s = _sigmoid_scalar(x)
    return s * (1.0 - s)


def _tanh_grad_scalar(x):
    t = math.tanh(x)
    return 1.0 - t * t


def _elu_scalar(x, alpha):
    if x > 0.0:
        return x
    return alpha * math.expm1(x)


def _elu_grad_scalar(x, alpha):
    if x > 0.0:
        return 1.0
    return alpha * math.exp(x)


def _gelu_scalar(x):
    inner = GELU_K * (x + GELU_C * x * x * x)
    return 0.5 * x * (1.0 + math.tanh(inner))


def _gelu_grad_scalar(x):
    x_sq = x * x
    inner = GELU_K * (x + GELU_C * x_sq * x)
    t = math.tanh(inner)
    left = 0.5 * (1.0 + t)
    sech2 = 1.0 - t * t
    if sech2 == 0.0:
        # far in the tails the second term is exactly zero in float64
        return left
    return left + 0.5 * x * sech2 * GELU_K * (1.0 + 3.0 * GELU_C * x_sq)


def _silu_scalar(x):
    return x * _sigmoid_scalar(x)


def _silu_grad_scalar(x):
    s = _sigmoid_scalar(x)
    return s * (1.0 + x * (1.0 - s))


# ---------------------------------------------------------------- public API

def sigmoid(z):
    return _map(_sigmoid_scalar, z)


def sigmoid_grad(z):
    return _map(_sigmoid_grad_scalar, z)


def tanh(z):
    return _map(math.tanh, z)


def tanh_grad(z):
    return _map(_tanh_grad_scalar, z)


def relu(z):
    z = _as_float_array(z)
    out = z.copy()
    out[z < 0] = 0.0
    return out


def relu_grad(z):
    z = _as_float_array(z)
    out = np.zeros(z.shape, dtype=np.float64)
    out[z > 0] = 1.0
    return out


def leaky_relu(z, alpha=0.01):
    z = _as_float_array(z)
    out = z.copy()
    neg = z < 0
    out[neg] = alpha * z[neg]
    return out


def leaky_relu_grad(z, alpha=0.01):
    z = _as_float_array(z)
    out = np.full(z.shape, float(alpha), dtype=np.float64)
    out[z > 0] = 1.0
    return out


def elu(z, alpha=1.0):
    a = float(alpha)
    return _fill(lambda x: _elu_scalar(x, a), z)


def elu_grad(z, alpha=1.0):
    a = float(alpha)
    return _fill(lambda x: _elu_grad_scalar(x, a), z)


def selu(z):
    return _fill(lambda x: SELU_SCALE * _elu_scalar(x, SELU_ALPHA), z)


def selu_grad(z):
    return _fill(lambda x: SELU_SCALE * _elu_grad_scalar(x, SELU_ALPHA), z)


def gelu(z):
    return _map(_gelu_scalar, z)


def gelu_grad(z):
    return _map(_gelu_grad_scalar, z)


def silu(z):
    return _map(_silu_scalar, z)


def silu_grad(z):
    return _map(_silu_grad_scalar, z)
