# A correct submission written independently of the reference solutions (style: library).
"""Activation functions and their derivatives, written in the style of a from-scratch numpy library."""
import math

import numpy as np

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_GELU_K = math.sqrt(2 / math.pi)
_GELU_C = 0.044715
# beyond this |z| the tanh inside GELU is exactly +-1 in float64
_GELU_CLIP = 50.0


def sigmoid(z):
    # 1 / (1 + exp(-z)) = exp(-log(1 + exp(-z))) = exp(-softplus(-z))
    return np.exp(-np.logaddexp(0, -z))


def sigmoid_grad(z):
    # s(z) * (1 - s(z)) = s(z) * s(-z), which keeps the tail of 1 - s(z)
    return sigmoid(z) * sigmoid(-z)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z):
    return z * (z > 0)


def relu_grad(z):
    return (z > 0) * 1.0


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def leaky_relu_grad(z, alpha=0.01):
    return (z > 0) * 1.0 + (z <= 0) * alpha


def elu(z, alpha=1.0):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_grad(z, alpha=1.0):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))


def selu(z):
    return _SELU_SCALE * elu(z, _SELU_ALPHA)


def selu_grad(z):
    return _SELU_SCALE * elu_grad(z, _SELU_ALPHA)


def _gelu_tanh(z):
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    return zc, np.tanh(_GELU_K * (zc + _GELU_C * zc ** 3))


def gelu(z):
    _, t = _gelu_tanh(z)
    return 0.5 * z * (1.0 + t)


def gelu_grad(z):
    zc, t = _gelu_tanh(z)
    # the second term vanishes exactly where the input was clipped (t = +-1)
    return 0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * _GELU_K * (1.0 + 3 * _GELU_C * zc ** 2)


def silu(z):
    return z * sigmoid(z)


def silu_grad(z):
    s = sigmoid(z)
    return s * (1.0 + z * sigmoid(-z))
