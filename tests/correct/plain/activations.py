# A correct submission written independently of the reference solutions (style: plain).
"""Activations and their derivatives (style: plain)."""
import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_K = np.sqrt(2 / np.pi)
GELU_C = 0.044715


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1 - np.tanh(z) ** 2


def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    return np.where(z > 0, 1.0, 0.0)


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def leaky_relu_grad(z, alpha=0.01):
    return np.where(z > 0, 1.0, alpha)


def elu(z, alpha=1.0):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_grad(z, alpha=1.0):
    return np.where(z > 0, 1.0, alpha * np.exp(z))


def selu(z):
    return SELU_SCALE * elu(z, SELU_ALPHA)


def selu_grad(z):
    return SELU_SCALE * elu_grad(z, SELU_ALPHA)


def gelu(z):
    u = np.clip(z, -20, 20)  # tanh is exactly +-1 beyond this, and u**3 cannot overflow
    return 0.5 * z * (1 + np.tanh(GELU_K * (u + GELU_C * u ** 3)))


def gelu_grad(z):
    t = np.tanh(GELU_K * (z + GELU_C * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t ** 2) * GELU_K * (1 + 3 * GELU_C * z ** 2)


def silu(z):
    return z * sigmoid(z)


def silu_grad(z):
    s = sigmoid(z)
    return s * (1 + z * (1 - s))
