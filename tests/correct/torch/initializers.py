# A correct submission computed with PyTorch float64, written independently of the reference solutions.
"""Weight initializers: draws from the numpy Generator passed in, carried through PyTorch float64."""
import math

import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (kept for the house style)


def _out(draw):
    t = torch.from_numpy(np.asarray(draw, dtype=np.float64)).to(torch.float64)
    return t.clone().detach().numpy()


def _uniform(fan_in, fan_out, rng, a):
    return _out(rng.uniform(-a, a, size=(fan_in, fan_out)))


def _normal(fan_in, fan_out, rng, s):
    return _out(rng.normal(0.0, s, size=(fan_in, fan_out)))


def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(fan_in, fan_out, rng, a)


def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    s = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _normal(fan_in, fan_out, rng, s)


def he_uniform(fan_in, fan_out, rng, negative_slope=0.0):
    a = math.sqrt(6.0 / ((1.0 + negative_slope ** 2) * fan_in))
    return _uniform(fan_in, fan_out, rng, a)


def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
    s = math.sqrt(2.0 / ((1.0 + negative_slope ** 2) * fan_in))
    return _normal(fan_in, fan_out, rng, s)


def lecun_normal(fan_in, fan_out, rng):
    s = math.sqrt(1.0 / fan_in)
    return _normal(fan_in, fan_out, rng, s)


def random_normal(fan_in, fan_out, rng, std=1.0):
    return _normal(fan_in, fan_out, rng, std)
