"""A network built from a Config, and its forward and backward passes on the engine's layers.

Every layer is width x width. Where the remedies sit (a design choice; ``grader explore
--help`` says the same):

    hidden layer l < L:  Z_l = A_{l-1} @ W_l + b_l
                         H_l = norm(Z_l; gamma_l, beta_l)   with --norm batch|layer, else Z_l
                         A_l = act(H_l)                     (+ A_{l-1} with --residual)
    output layer L:      Y_hat = A_{L-1} @ W_L + b_L        never normalised, never residual

So a norm follows the linear layer and precedes the activation, on hidden layers only
(gamma starts at 1, beta at 0), and a skip goes around the whole block. Without a norm
this is exactly ``layers.mlp_forward``/``mlp_backward``, or ``fixes.residual_forward``/
``residual_backward`` with --residual; the tests hold the two to each other. Biases
start at 0; with ``bias=False`` they stay 0 and are not trained (the lesson's deep
linear net has none). Weights are the initializer's draw times ``weight_scale``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from grader.engine.activations import ACTIVATIONS
from grader.engine.initializers import INITIALIZERS
from grader.engine.layers import linear_backward, linear_forward
from grader.explore import remedies
from grader.explore.config import IDENTITY, Config


@dataclass(frozen=True)
class Network:
    """Parameters, input side first; gammas and betas only when normalised (one per
    hidden layer)."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    gammas: tuple[np.ndarray, ...]
    betas: tuple[np.ndarray, ...]
    activation: str
    residual: bool = False
    norm: str = "none"
    bias: bool = True

    @property
    def depth(self) -> int:
        return len(self.weights)


@dataclass(frozen=True)
class Grads:
    """Gradients indexed like the parameters; dAs[i] is with respect to layer i+1's input."""

    dWs: list[np.ndarray]
    dbs: list[np.ndarray]
    dAs: list[np.ndarray]
    dgammas: list[np.ndarray]
    dbetas: list[np.ndarray]


def act_pair(name: str):
    """(fn, grad) of a registered activation with its default parameters bound."""
    act = ACTIVATIONS[name]
    return (functools.partial(act.fn, **act.params), functools.partial(act.grad, **act.params))


def draw_weight(init: str, width: int, rng: np.random.Generator) -> np.ndarray:
    """One (width, width) weight matrix from an engine initializer, or I for 'identity'."""
    if init == IDENTITY:
        return np.eye(width)
    return INITIALIZERS[init].fn(width, width, rng)


def build(config: Config) -> Network:
    # Weights and data come from separate streams, so changing --batch-size keeps the weights.
    rng = np.random.default_rng([config.seed, 0])
    weights = tuple(config.weight_scale * draw_weight(config.init, config.width, rng)
                    for _ in range(config.depth))
    hidden = config.depth - 1 if config.norm != "none" else 0
    return Network(weights=weights,
                   biases=tuple(np.zeros(config.width) for _ in range(config.depth)),
                   gammas=tuple(np.ones(config.width) for _ in range(hidden)),
                   betas=tuple(np.zeros(config.width) for _ in range(hidden)),
                   activation=config.activation, residual=config.residual,
                   norm=config.norm, bias=config.bias)


def data(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(X, T): a standard normal batch and a fixed random target, both (batch, width)."""
    rng = np.random.default_rng([config.seed, 1])
    shape = (config.batch_size, config.width)
    return rng.standard_normal(shape), rng.standard_normal(shape)


# --- the passes ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Cache:
    net: Network
    blocks: tuple  # per hidden layer: (linear cache, norm cache or None, H_l)
    out: tuple  # the output layer's linear cache


def forward(net: Network, X: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Y_hat: (N, width), and the cache backward() needs."""
    fn, _ = act_pair(net.activation)
    norm_fwd = remedies.norm_pair(net.norm)[0] if net.norm != "none" else None
    A = np.asarray(X, dtype=np.float64)
    blocks = []
    for l in range(net.depth - 1):
        gamma_beta = (net.gammas[l], net.betas[l]) if norm_fwd else None
        A, block = _hidden_forward(A, net.weights[l], net.biases[l], gamma_beta, fn,
                                   norm_fwd, net.residual)
        blocks.append(block)
    Y_hat, out = linear_forward(A, net.weights[-1], net.biases[-1])
    return Y_hat, Cache(net, tuple(blocks), out)


def _hidden_forward(A, W, b, gamma_beta, fn, norm_fwd, residual):
    Z, linear_cache = linear_forward(A, W, b)
    H, norm_cache = norm_fwd(Z, *gamma_beta) if norm_fwd else (Z, None)
    out = np.asarray(fn(H), dtype=np.float64)
    return (A + out if residual else out), (linear_cache, norm_cache, H)


def backward(dY_hat: np.ndarray, cache: Cache) -> Grads:
    """Every gradient of the network, lists input side first."""
    net = cache.net
    _, grad = act_pair(net.activation)
    norm_bwd = remedies.norm_pair(net.norm)[1] if net.norm != "none" else None
    L = net.depth
    dWs, dbs, dAs = [None] * L, [None] * L, [None] * L
    hidden = L - 1 if norm_bwd else 0
    dgammas, dbetas = [None] * hidden, [None] * hidden
    dA, dWs[-1], dbs[-1] = linear_backward(np.asarray(dY_hat, dtype=np.float64), cache.out)
    dAs[-1] = dA
    for l in reversed(range(L - 1)):
        dA, dWs[l], dbs[l], dgamma, dbeta = _hidden_backward(dA, cache.blocks[l], grad,
                                                             norm_bwd, net.residual)
        dAs[l] = dA
        if norm_bwd:
            dgammas[l], dbetas[l] = dgamma, dbeta
    return Grads(dWs, dbs, dAs, dgammas, dbetas)


def _hidden_backward(dout, block, grad, norm_bwd, residual):
    linear_cache, norm_cache, H = block
    dH = dout * np.asarray(grad(H), dtype=np.float64)
    dZ, dgamma, dbeta = norm_bwd(dH, norm_cache) if norm_bwd else (dH, None, None)
    dA, dW, db = linear_backward(dZ, linear_cache)
    # The skip hands the block's output gradient to its input unchanged: the identity
    # path that the branch's factor cannot shrink.
    return (dA + dout if residual else dA), dW, db, dgamma, dbeta


def activation_inputs(cache: Cache) -> list[np.ndarray]:
    """H_l of every hidden layer, (N, width) each: where act' is evaluated."""
    return [block[2] for block in cache.blocks]


# --- parameters as one list, for clipping and the SGD step ---------------------------------

def parameters(net: Network) -> list[np.ndarray]:
    """The trained arrays in a fixed order: weights, biases (if trained), gammas, betas."""
    return [*net.weights, *(net.biases if net.bias else ()), *net.gammas, *net.betas]


def gradients(net: Network, grads: Grads) -> list[np.ndarray]:
    """The gradients of parameters(net), in the same order."""
    return [*grads.dWs, *(grads.dbs if net.bias else ()), *grads.dgammas, *grads.dbetas]


def with_parameters(net: Network, arrays: list[np.ndarray]) -> Network:
    """``net`` holding ``arrays`` (in parameters() order) instead of its own."""
    L, hidden = net.depth, len(net.gammas)
    rest = iter(arrays)
    take = lambda n: tuple(next(rest) for _ in range(n))  # noqa: E731
    weights = take(L)
    biases = take(L) if net.bias else net.biases
    return replace(net, weights=weights, biases=biases, gammas=take(hidden), betas=take(hidden))
