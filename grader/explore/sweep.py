"""The phase diagram: the gradient ratio over a grid of depth x weight scale, in one batch.

Cell (depth d, scale s) is exactly the ratio ``grader explore`` reports for the plain MLP
of that depth with weights s * (the initializer's draws), zero biases and the same seed,
width and batch: the first d draws of the weight stream are the same whatever the
depth. An optional third axis runs over activations or initializers.

How one pass covers every depth: the networks of depth 1..D share the weight draws B_k,
and with zero biases their forward passes too: Z_k = s A_{k-1} B_k, and a depth-d
network's output is Z_d. So one forward pass, with the scales stacked along a leading
axis, yields every depth's output-layer gradient U_d = dY_hat_d W_d^T. The backward pass
then carries all depths at once: going down through layer k, the gradients of every
depth d > k are rows of one matrix multiplied by B_k^T, one BLAS call per layer for the
whole grid, and no Python loop runs over configurations. The arithmetic is still that
of the separate backward passes (D^2/2 layers per scale, the price of exact ratios for
every depth); what the batching removes is the per-call overhead of small products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grader.engine.activations import ACTIVATIONS
from grader.engine.initializers import INITIALIZERS
from grader.engine.layers import mlp_backward, mlp_forward, mse_loss
from grader.explore import model
from grader.explore.config import IDENTITY, Config, ExploreError
from grader.explore.measure import EXPLODE_ABOVE, VANISH_BELOW, gradient_ratio, layer_norms

AXES = ("activation", "init")
BLOCK_BYTES = 2 << 20


def log_scales(low: float, high: float, count: int) -> tuple[float, ...]:
    """``count`` weight scales evenly spaced on a log axis from ``low`` to ``high``."""
    return tuple(float(v) for v in np.geomspace(low, high, count))


@dataclass(frozen=True)
class Grid:
    """Depths 1..max_depth x ``scales`` x (optionally) ``values`` of the ``over`` option."""

    base: Config
    max_depth: int = 50
    scales: tuple[float, ...] = field(default_factory=lambda: log_scales(0.25, 4.0, 64))
    over: str | None = None
    values: tuple[str, ...] = ()

    @property
    def variants(self) -> tuple[Config, ...]:
        """One base configuration per value of the third axis (just ``base`` without one)."""
        if self.over is None:
            return (self.base,)
        return tuple(Config(**{**self.base.to_dict(), self.over: v}) for v in self.values)

    def config(self, variant: int, depth: int, scale: int) -> Config:
        """The plain-MLP configuration of one cell."""
        return Config(**{**self.variants[variant].to_dict(), "depth": depth,
                         "weight_scale": self.scales[scale], "residual": False, "norm": "none"})


def parse_scales(spec: str) -> tuple[float, ...]:
    """'LOW:HIGH:COUNT' (log-spaced) into scales, or an ExploreError naming the option."""
    parts = spec.split(":")
    try:
        if len(parts) != 3:
            raise ValueError(spec)
        low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ExploreError(f"--sweep-scales wants LOW:HIGH:COUNT, e.g. 0.25:4:64, got {spec!r}"
                           ) from None
    if not (0 < low < high and math.isfinite(high)) or not 2 <= count <= 1000:
        raise ExploreError(f"--sweep-scales needs 0 < LOW < HIGH and 2 <= COUNT <= 1000, "
                           f"got {spec!r}")
    return log_scales(low, high, count)


def parse_over(spec: str | None) -> tuple[str | None, tuple[str, ...]]:
    """'activation=relu,tanh' or 'init=he_normal,xavier_normal' into (axis, values)."""
    if not spec:
        return None, ()
    axis, _, values = spec.partition("=")
    names = tuple(v.strip() for v in values.split(",") if v.strip())
    if axis not in AXES or not names:
        raise ExploreError(f"--sweep-over wants activation=A,B,... or init=I,J,..., got {spec!r}")
    return axis, names


def grid_from(config: Config, max_depth: int | None = None, scales: str | None = None,
              over: str | None = None) -> Grid:
    """The grid of ``config`` (already validated) with the --sweep-* options that were given
    (None: the Grid's default)."""
    if config.residual or config.norm != "none":
        raise ExploreError("--sweep maps the plain MLP: drop --residual and --norm")
    axis, values = parse_over(over)
    known = list(ACTIVATIONS) if axis == "activation" else [*INITIALIZERS, IDENTITY]
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ExploreError(f"unknown {axis} {unknown[0]!r} in --sweep-over: choose from "
                           f"{', '.join(known)}")
    given = {"max_depth": max_depth, "scales": parse_scales(scales) if scales else None}
    grid = Grid(config, over=axis, values=values,
                **{k: v for k, v in given.items() if v is not None})
    if not 1 <= grid.max_depth <= 1000:
        raise ExploreError(f"--sweep-depth must be from 1 to 1000, got {grid.max_depth}")
    return grid


# --- the vectorised sweep ---------------------------------------------------------------

@dataclass(frozen=True)
class Sweep:
    """ratios[v, d - 1, j]: variant v, depth d, scale j."""

    grid: Grid
    ratios: np.ndarray

    def to_dict(self) -> dict:
        g = self.grid
        return {"depths": list(range(1, g.max_depth + 1)), "scales": list(g.scales),
                "over": g.over, "values": list(g.values),
                "ratios": [[[_json_float(r) for r in row] for row in variant]
                           for variant in self.ratios],
                "stable_band": [[_band_dict(b) for b in stable_band(self, v)]
                                for v in range(len(g.variants))],
                "base": g.base.to_dict()}


def sweep(grid: Grid) -> Sweep:
    """Every cell of ``grid`` in one stacked forward and backward pass."""
    variants = grid.variants
    X, T = model.data(grid.base)
    B = np.stack([_draws(c, grid.max_depth) for c in variants])  # (K, D, w, w)
    s = np.asarray(grid.scales)[:, None, None]  # broadcasts over (S, N, w)
    acts = [model.act_pair(c.activation) for c in variants]
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        G, output_norms, slopes = _forward(X, T, B, s, acts)
        _backward(G, slopes, B)
        ratios = _norms(G) / output_norms
    return Sweep(grid, ratios)


def _draws(config: Config, depth: int) -> np.ndarray:
    # The same stream as model.build, so cell (d, s) is the explorer's depth-d network.
    rng = np.random.default_rng([config.seed, 0])
    return np.stack([model.draw_weight(config.init, config.width, rng) for _ in range(depth)])


def _forward(X, T, B, s, acts):
    """(G, |G|, slopes): G[:, d-1] starts as the depth-d network's gradient at its output
    layer's input, |G| holds those norms (the ratio's denominators), and slopes[:, k-1]
    is the factor s act'(Z_k) that layer k applies before B_k^T on the way back.

    Shapes: G (K, D, S, N, w), |G| (K, D, S), slopes (K, D-1, S, N, w).
    """
    K, D, w, _ = B.shape
    S, (N, _) = s.shape[0], X.shape
    A = np.broadcast_to(X, (K, S, N, w))
    G = np.empty((K, D, S, N, w))
    slopes = np.empty((K, D - 1, S, N, w))
    for k in range(D):
        Z = s * np.matmul(A.reshape(K, S * N, w), B[:, k]).reshape(K, S, N, w)
        # The depth-(k+1) network ends here: Z is its Y_hat, this its mse_loss gradient.
        dY_hat = 2.0 * (Z - T) / (N * w)
        np.matmul(dY_hat.reshape(K, S * N, w), B[:, k].swapaxes(-1, -2), out=_rows(G[:, k]))
        G[:, k] *= s
        if k < D - 1:
            A = np.stack([fn(Z[v]) for v, (fn, _) in enumerate(acts)])
            # W_k = s B_k, so the scale joins act' and the way back multiplies by B_k^T only.
            slopes[:, k] = s * np.stack([grad(Z[v]) for v, (_, grad) in enumerate(acts)])
    return G, _norms(G), slopes


def _backward(G, slopes, B) -> None:
    """G[:, d-1] becomes the gradient with respect to X of the depth-d network, in place."""
    K, D = G.shape[:2]
    # Blocks of a few depths, a couple of MB each, stay in cache between the slope product
    # and the matrix product: a third faster than one pass over the whole active region.
    per_block = max(1, BLOCK_BYTES // G[0, 0].nbytes)
    scratch = np.empty((K, per_block, *G.shape[2:]))
    for k in range(D - 1, 0, -1):
        # Depths d > k pass down through hidden layer k, a block of depths per product.
        back = B[:, k - 1].swapaxes(-1, -2)
        for start in range(k, D, per_block):
            block = G[:, start:start + per_block]
            dZ = np.multiply(block, slopes[:, k - 1][:, None], out=scratch[:, :block.shape[1]])
            np.matmul(_rows(dZ), back, out=_rows(block))


def _rows(a: np.ndarray) -> np.ndarray:
    """(K, ..., w) as a (K, rows, w) view, never a copy: results are written through it."""
    view = a.reshape(a.shape[0], -1, a.shape[-1])
    if not np.shares_memory(view, a):
        raise RuntimeError("the stacked layout must reshape without copying")
    return view


def _norms(G: np.ndarray) -> np.ndarray:
    """Frobenius norm over the last two axes, rescaled so 1e200 and 1e-200 keep theirs."""
    top = np.max(np.abs(G), axis=(-2, -1), keepdims=True)
    safe = np.where((top > 0) & np.isfinite(top), top, 1.0)
    inner = np.sqrt(np.sum((G / safe) ** 2, axis=(-2, -1)))
    return np.where(np.isfinite(top[..., 0, 0]), safe[..., 0, 0] * inner, top[..., 0, 0])


# --- the same cells, one configuration at a time, on the engine ----------------------------

def engine_ratio(X, T, weights, activation: str) -> float:
    """|dA_0| / |dA_L-1| of one zero-bias MLP, from layers.mlp_forward/mlp_backward."""
    fn, grad = model.act_pair(activation)
    biases = [np.zeros(W.shape[1]) for W in weights]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        Y_hat, cache = mlp_forward(X, weights, biases, fn)
        _, dY_hat = mse_loss(Y_hat, T)
        _, _, dAs = mlp_backward(dY_hat, cache, grad)
    return gradient_ratio(layer_norms(dAs))


def cell_by_engine(grid: Grid, variant: int, depth: int, scale: int) -> float:
    """One cell's ratio on the engine, its network built by the explorer as for `explore`."""
    config = grid.config(variant, depth, scale)
    X, T = model.data(config)
    return engine_ratio(X, T, model.build(config).weights, config.activation)


def sweep_by_loop(grid: Grid) -> np.ndarray:
    """The whole grid by a Python loop over configurations, each one a call of the engine:
    the baseline of the bench. The weights are drawn once per variant, as sweep() does,
    so the loop pays for the passes and not for the random draws."""
    X, T = model.data(grid.base)
    out = np.empty((len(grid.variants), grid.max_depth, len(grid.scales)))
    for v, config in enumerate(grid.variants):
        B = _draws(config, grid.max_depth)
        for d, j in np.ndindex(out.shape[1:]):
            weights = [grid.scales[j] * B[k] for k in range(d + 1)]
            out[v, d, j] = engine_ratio(X, T, weights, config.activation)
    return out


# --- reading the diagram ------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """The healthy scales at one depth: [low, high] (None when no scale is healthy)."""

    depth: int
    low: float | None
    high: float | None


def stable_band(result: Sweep, variant: int = 0) -> list[Band]:
    scales = np.asarray(result.grid.scales)
    bands = []
    for d, row in enumerate(result.ratios[variant], start=1):
        ok = (row >= VANISH_BELOW) & (row <= EXPLODE_ABOVE)
        bands.append(Band(d, float(scales[ok].min()), float(scales[ok].max())) if ok.any()
                     else Band(d, None, None))
    return bands


def _band_dict(band: Band) -> dict:
    return {"depth": band.depth, "low": band.low, "high": band.high}


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None
