# A correct submission written independently of the reference solutions (style: library).
"""Weight initializers drawing only from the given Generator, library style."""
import math


def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(low=-a, high=a, size=(fan_in, fan_out))


def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    s = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(loc=0.0, scale=s, size=(fan_in, fan_out))


def he_uniform(fan_in, fan_out, rng, negative_slope=0.0):
    a = math.sqrt(6.0 / ((1.0 + negative_slope ** 2) * fan_in))
    return rng.uniform(low=-a, high=a, size=(fan_in, fan_out))


def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
    s = math.sqrt(2.0 / ((1.0 + negative_slope ** 2) * fan_in))
    return rng.normal(loc=0.0, scale=s, size=(fan_in, fan_out))


def lecun_normal(fan_in, fan_out, rng):
    s = math.sqrt(1.0 / fan_in)
    return rng.normal(loc=0.0, scale=s, size=(fan_in, fan_out))


def random_normal(fan_in, fan_out, rng, std=1.0):
    return rng.normal(loc=0.0, scale=std, size=(fan_in, fan_out))
