"""What the explorer measures on one network at one moment: pure functions of arrays.

Thresholds (relative to the output layer, whose value is the reference 1.0):

- diagnosis, from the backpropagated signal: ratio = |dA_0| / |dA_{L-1}| below 0.01 is
  vanishing, above 100 exploding, otherwise healthy (the course's classic thresholds);
- each layer's bar, from its |dA| relative to the output layer's: dead below 0.01 (so the
  first layer's colour always agrees with the diagnosis), healthy up to 10, large up
  to 100, exploding above;
- learning speed, from |dW_l| relative to |dW_L|: fast from 0.1, slow from 0.001, frozen
  below (a thousand times slower than the output layer: it does not move in a run);
- saturation: the share of a hidden layer's units whose |act'(z)| is below 5 % of the
  activation's largest derivative (the flat tails of sigmoid and tanh, and the negative
  tails of ELU, SELU, GELU and SiLU; not defined for ReLU, leaky ReLU and linear), and
  the share of units that pass no gradient for any example of the batch (dead ReLUs:
  z <= 0 for every example).

The diagnosis reads |dA|, never |dW|: in a deep linear net W_l = lambda I every |dW_l|
scales as lambda^(L-1), so their ratio stays 1 while the signal grows as lambda^L.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from grader.engine import diagnostics
from grader.engine.clipping import global_norm
from grader.engine.diagnostics import EXPLODE_ABOVE, VANISH_BELOW
from grader.engine.layers import mse_loss
from grader.explore import model

DEAD_BELOW = VANISH_BELOW
LARGE_ABOVE = 10.0
FAST_FROM = 0.1
FROZEN_BELOW = 1e-3
FLAT_SHARE = 0.05
# Piecewise linear: no tails to saturate in, only units that are on or off (dead).
UNSATURABLE = ("relu", "leaky_relu", "linear")

THRESHOLDS = {
    "diagnosis": {"vanishing_below": VANISH_BELOW, "exploding_above": EXPLODE_ABOVE},
    "gradient_class": {"dead_below": DEAD_BELOW, "large_above": LARGE_ABOVE,
                       "exploding_above": EXPLODE_ABOVE},
    "learning_speed": {"fast_from": FAST_FROM, "frozen_below": FROZEN_BELOW},
    "saturated_below_share_of_max_derivative": FLAT_SHARE,
}


# The explorer measures with exercise 5's reference functions, so what it shows is what
# a student's diagnostics.py must compute.
layer_norms = diagnostics.layer_norms
gradient_ratio = diagnostics.gradient_ratio


def diagnose(ratio: float) -> str:
    """'vanishing' below 0.01, 'exploding' above 100, 'healthy' between (the engine's
    diagnose), and 'undefined' for a NaN ratio, which the exercise leaves as 'healthy'."""
    if math.isnan(ratio):
        return "undefined"  # no gradient reached the output layer: nothing to compare
    return diagnostics.diagnose([ratio, 1.0])


def relative(norms) -> np.ndarray:
    """Each norm over the last (output-side) one."""
    norms = np.asarray(norms, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        return norms / norms[-1]


def gradient_class(rel: float) -> str:
    if math.isnan(rel):
        return "undefined"
    if rel < DEAD_BELOW:
        return "dead"
    if rel > EXPLODE_ABOVE:
        return "exploding"
    return "large" if rel > LARGE_ABOVE else "healthy"


def learning_speed(rel: float) -> str:
    if math.isnan(rel):
        return "undefined"
    if rel < FROZEN_BELOW:
        return "frozen"
    return "slow" if rel < FAST_FROM else "fast"


@functools.lru_cache(maxsize=None)
def max_act_grad(name: str) -> float:
    """The activation's largest |derivative|, on a grid through 0 (where the SELU kink
    takes its largest value)."""
    _, grad = model.act_pair(name)
    return float(np.max(np.abs(grad(np.linspace(-20.0, 20.0, 40001)))))


def saturation(H: np.ndarray, name: str) -> tuple[float | None, float]:
    """(share of entries of H in the flat tails, share of units dead on the whole batch).

    H: (N, width), a hidden layer's activation input. The first is None for piecewise
    linear activations, whose 'flat' region is simply the off half (dead counts it).
    """
    _, grad = model.act_pair(name)
    g = np.abs(grad(H))
    flat = None if name in UNSATURABLE else float(np.mean(g < FLAT_SHARE * max_act_grad(name)))
    dead = float(np.mean(np.all(g == 0.0, axis=0)))
    return flat, dead


@dataclass(frozen=True)
class ChainRule:
    """Backprop multiplies one factor per layer: |dA_{l-1}| <= ||W_l||_2 max|act'(H_l)| |dA_l|.

    Lists input side first. products[i] is the product of factors[i:], the chain rule's
    bound on |dA_i| / |dY_hat| for the plain MLP; measured[i] is that ratio itself.
    The output layer is linear, so its act' is 1.
    """

    spectral_norms: tuple[float, ...]
    max_act_grads: tuple[float, ...]
    factors: tuple[float, ...]
    products: tuple[float, ...]
    measured: tuple[float, ...]


def chain_rule(weights, Hs, name: str, grad_norms, output_grad_norm: float) -> ChainRule:
    _, grad = model.act_pair(name)
    spectral = np.linalg.norm(np.stack(weights), ord=2, axis=(1, 2))
    slopes = np.array([float(np.max(np.abs(grad(H)))) for H in Hs] + [1.0])
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        factors = spectral * slopes
        products = np.cumprod(factors[::-1])[::-1]
        measured = np.asarray(grad_norms, dtype=np.float64) / output_grad_norm
    return ChainRule(*(tuple(float(v) for v in a)
                       for a in (spectral, slopes, factors, products, measured)))


BINS = 20
CURVE = tuple(-4.0 + 0.1 * i for i in range(81))  # the activation's plot: [-4, 4] by 0.1


@dataclass(frozen=True)
class Histogram:
    """Counts of a hidden layer's outputs act(H_l) in BINS equal bins from lo to hi (their
    finite minimum and maximum); a value v goes to bin floor((v - lo) / (hi - lo) * BINS),
    the maximum to the last. The rule is spelled out so that the page's port counts alike."""

    lo: float
    hi: float
    counts: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"lo": self.lo, "hi": self.hi, "counts": list(self.counts)}


def histogram(values: np.ndarray) -> Histogram:
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]  # a diverging net's inf has no bin
    if v.size == 0:
        return Histogram(0.0, 0.0, (0,) * BINS)
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        counts = [0] * BINS
        counts[0] = int(v.size)
        return Histogram(lo, hi, tuple(counts))
    index = np.minimum(np.floor((v - lo) / (hi - lo) * BINS), BINS - 1).astype(int)
    return Histogram(lo, hi, tuple(int(c) for c in np.bincount(index, minlength=BINS)))


def activation_curve(name: str) -> dict:
    """The activation and its derivative on [-4, 4], for the page's plot."""
    fn, grad = model.act_pair(name)
    z = np.array(CURVE)
    return {"z": [float(x) for x in z], "value": [float(x) for x in fn(z)],
            "derivative": [float(x) for x in grad(z)]}


@dataclass(frozen=True)
class Snapshot:
    """Every per-layer measurement of one forward and backward pass, input side first.

    grad_norms[i] is |dA_i|, the gradient with respect to layer i+1's input (dAs of the
    spec); saturation has None for the output layer, which has no activation.
    """

    loss: float
    output_grad_norm: float
    grad_norms: tuple[float, ...]
    weight_grad_norms: tuple[float, ...]
    bias_grad_norms: tuple[float, ...]
    ratio: float
    weight_ratio: float
    diagnosis: str
    classes: tuple[str, ...]
    learning_speed: tuple[str, ...]
    saturation: tuple[tuple[float | None, float] | None, ...]
    chain: ChainRule
    distributions: tuple[Histogram, ...] = ()


def snapshot(net: model.Network, X: np.ndarray, T: np.ndarray) -> Snapshot:
    """Measure ``net`` on the batch (X, T) with the MSE loss."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        Y_hat, cache = model.forward(net, X)
        loss, dY_hat = mse_loss(Y_hat, T)
        grads = model.backward(dY_hat, cache)
    grad_norms, weight_norms = layer_norms(grads.dAs), layer_norms(grads.dWs)
    Hs = model.activation_inputs(cache)
    ratio = gradient_ratio(grad_norms)
    output_grad_norm = global_norm([dY_hat])
    return Snapshot(
        loss=loss, output_grad_norm=output_grad_norm,
        grad_norms=tuple(map(float, grad_norms)), weight_grad_norms=tuple(map(float, weight_norms)),
        bias_grad_norms=tuple(map(float, layer_norms(grads.dbs))),
        ratio=ratio, weight_ratio=gradient_ratio(weight_norms), diagnosis=diagnose(ratio),
        classes=tuple(gradient_class(float(r)) for r in relative(grad_norms)),
        learning_speed=tuple(learning_speed(float(r)) for r in relative(weight_norms)),
        saturation=tuple(saturation(H, net.activation) for H in Hs) + (None,),
        chain=chain_rule(net.weights, Hs, net.activation, grad_norms, output_grad_norm),
        distributions=_distributions(Hs, net.activation))


def _distributions(Hs, name: str) -> tuple[Histogram, ...]:
    fn, _ = model.act_pair(name)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return tuple(histogram(fn(H)) for H in Hs)
