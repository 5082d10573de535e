# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""Activations and their derivatives, computed with PyTorch float64 (derivatives by autograd)."""
import numpy as np
import torch
import torch.nn.functional as F

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _t(z):
    # a private float64 copy: never shares memory with the caller's array
    return torch.from_numpy(np.array(z, dtype=np.float64, copy=True))


def _fwd(fn, z):
    with torch.no_grad():
        return fn(_t(z)).detach().numpy()


def _grad(fn, z):
    with torch.enable_grad():  # works even when called under torch.no_grad()
        zt = _t(z).requires_grad_(True)
        y = fn(zt)
        (g,) = torch.autograd.grad(y, zt, grad_outputs=torch.ones_like(y))
    return g.detach().numpy()


def _leaky(alpha):
    return lambda t: F.leaky_relu(t, negative_slope=alpha)


def _elu(alpha):
    return lambda t: F.elu(t, alpha=alpha)


def _gelu(t):
    return F.gelu(t, approximate="tanh")


def sigmoid(z):
    return _fwd(torch.sigmoid, z)


def sigmoid_grad(z):
    return _grad(torch.sigmoid, z)


def tanh(z):
    return _fwd(torch.tanh, z)


def tanh_grad(z):
    return _grad(torch.tanh, z)


def relu(z):
    return _fwd(torch.relu, z)


def relu_grad(z):
    return _grad(torch.relu, z)


def leaky_relu(z, alpha=0.01):
    return _fwd(_leaky(alpha), z)


def leaky_relu_grad(z, alpha=0.01):
    return _grad(_leaky(alpha), z)


def elu(z, alpha=1.0):
    return _fwd(_elu(alpha), z)


def elu_grad(z, alpha=1.0):
    return _grad(_elu(alpha), z)


def selu(z):
    return _fwd(F.selu, z)


def selu_grad(z):
    return _grad(F.selu, z)


def gelu(z):
    return _fwd(_gelu, z)


def gelu_grad(z):
    return _grad(_gelu, z)


def silu(z):
    return _fwd(F.silu, z)


def silu_grad(z):
    return _grad(F.silu, z)
