"""Exercise 2: weight initializers.

The scale of the initial weights sets the per-layer gain of both the forward signal and
the backward gradient: too small and they vanish with depth, too large and they explode.
Each initializer returns a float64 weight matrix of shape (fan_in, fan_out), drawn only
from the numpy Generator passed in.

Check your work with: grader check --exercise initializers
"""

import numpy as np


def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    """Xavier/Glorot uniform: W ~ U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Shapes: fan_in, fan_out are ints, rng a np.random.Generator; returns a float64 array
    of shape (fan_in, fan_out).
    Why it matters: Var(W) = gain**2 * 2 / (fan_in + fan_out) balances the variance of the
    forward activations and of the backward gradients, which suits sigmoid/tanh networks.

    Hint: U(-a, a) has variance a**2 / 3; draw with rng.uniform(-a, a, size=...).
    """
    # BEGIN SOLUTION
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))
    # END SOLUTION


def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    """Xavier/Glorot normal: W ~ N(0, s**2) with s = gain * sqrt(2 / (fan_in + fan_out)).

    Shapes: fan_in, fan_out are ints, rng a np.random.Generator; returns a float64 array
    of shape (fan_in, fan_out).
    Why it matters: the same variance as xavier_uniform, so signals and gradients keep
    roughly the same size through tanh layers instead of fading with depth.

    Hint: rng.normal takes the standard deviation s, not the variance.
    """
    # BEGIN SOLUTION
    s = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, s, size=(fan_in, fan_out))
    # END SOLUTION


def he_uniform(fan_in, fan_out, rng, negative_slope=0.0):
    """He/Kaiming uniform: W ~ U(-a, a) with a = sqrt(6 / ((1 + negative_slope**2) * fan_in)).

    Shapes: fan_in, fan_out are ints, rng a np.random.Generator; returns a float64 array
    of shape (fan_in, fan_out).
    Why it matters: ReLU zeroes half of its inputs, halving the variance; doubling
    Var(W) to 2 / fan_in keeps the activations' variance about constant across depth.
    negative_slope is the leaky ReLU slope (0 for plain ReLU).

    Hint: only fan_in appears in the bound; fan_out just sets the shape.
    """
    # BEGIN SOLUTION
    a = np.sqrt(6.0 / ((1.0 + negative_slope**2) * fan_in))
    return rng.uniform(-a, a, size=(fan_in, fan_out))
    # END SOLUTION


def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
    """He/Kaiming normal: W ~ N(0, s**2) with s = sqrt(2 / ((1 + negative_slope**2) * fan_in)).

    Shapes: fan_in, fan_out are ints, rng a np.random.Generator; returns a float64 array
    of shape (fan_in, fan_out).
    Why it matters: with ReLU layers this keeps the variance of activations and of
    backpropagated gradients about constant with depth, so deep ReLU nets start healthy.

    Hint: rng.normal takes the standard deviation s, not the variance.
    """
    # BEGIN SOLUTION
    s = np.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in))
    return rng.normal(0.0, s, size=(fan_in, fan_out))
    # END SOLUTION


def lecun_normal(fan_in, fan_out, rng):
    """LeCun normal: W ~ N(0, s**2) with s = sqrt(1 / fan_in).

    Shapes: fan_in, fan_out are ints, rng a np.random.Generator; returns a float64 array
    of shape (fan_in, fan_out).
    Why it matters: Var(W) = 1 / fan_in keeps a linear layer's output variance equal to
    its input variance; it is the initialisation SELU needs to self-normalise.

    Hint: the same pattern as he_normal with a different variance.
    """
    # BEGIN SOLUTION
    s = np.sqrt(1.0 / fan_in)
    return rng.normal(0.0, s, size=(fan_in, fan_out))
    # END SOLUTION


def random_normal(fan_in, fan_out, rng, std=1.0):
    """Plain Gaussian weights: W ~ N(0, std**2), whatever the layer's size.

    Shapes: fan_in, fan_out are ints, rng a np.random.Generator; returns a float64 array
    of shape (fan_in, fan_out).
    Why it matters: this is the naive baseline; with std = 1 each layer multiplies the
    signal's scale by about sqrt(fan_in), so deep nets explode, and with a tiny std
    they vanish.

    Hint: draw from the rng you are given, never from np.random directly.
    """
    # BEGIN SOLUTION
    return rng.normal(0.0, std, size=(fan_in, fan_out))
    # END SOLUTION
