# A correct submission written independently of the reference solutions (style: loops).
"""Weight initializers drawn from the given Generator (style: loops)."""

import math

import numpy as np


def _uniform(fan_in, fan_out, rng, a):
    size = (int(fan_in), int(fan_out))
    return np.asarray(rng.random(size) * (2.0 * a) - a, dtype=np.float64)


def _normal(fan_in, fan_out, rng, s):
    size = (int(fan_in), int(fan_out))
    return np.asarray(rng.standard_normal(size) * s, dtype=np.float64)


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
    return _normal(fan_in, fan_out, rng, float(std))
