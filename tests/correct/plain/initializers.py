# A correct submission written independently of the reference solutions (style: plain).
"""Weight initializers (style: plain)."""
import numpy as np


def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    s = gain * np.sqrt(2 / (fan_in + fan_out))
    return rng.normal(0, s, size=(fan_in, fan_out))


def he_uniform(fan_in, fan_out, rng, negative_slope=0.0):
    a = np.sqrt(6 / ((1 + negative_slope ** 2) * fan_in))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
    s = np.sqrt(2 / ((1 + negative_slope ** 2) * fan_in))
    return rng.normal(0, s, size=(fan_in, fan_out))


def lecun_normal(fan_in, fan_out, rng):
    s = np.sqrt(1 / fan_in)
    return rng.normal(0, s, size=(fan_in, fan_out))


def random_normal(fan_in, fan_out, rng, std=1.0):
    return rng.normal(0, std, size=(fan_in, fan_out))
