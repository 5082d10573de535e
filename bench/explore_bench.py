"""`grader explore` speed: the vectorised sweep, and the engine's MLP against PyTorch.

    python bench/explore_bench.py [--scales 64] [--depth 50] [--sizes 32x16,64x32]
                                  [--mlp-batch 256] [--mlp-width 1024] [--mlp-depth 8]

(a) The phase diagram over every depth 1..DEPTH x SCALES weight scales (ReLU, He), at
each WIDTHxBATCH of --sizes (64x32 is the explorer's default): grader.explore.sweep.sweep,
one stacked pass, against sweep_by_loop, a Python loop over the configurations calling
the per-config engine (layers.mlp_forward/mlp_backward) on weights drawn once, as the
sweep draws them, with the largest difference between the two. A 64 x 64 grid "at depths
up to 50" has only 50 distinct depths: the grid is 64 scales x 50 depths.

(b) The engine's MLP forward + backward (layers.mlp_forward, mse-free: a fixed dY_hat,
layers.mlp_backward) against PyTorch autograd on the CPU, float64, the same network
(x @ W + b, ReLU), computing the same gradients (every dW, db and dX). Beside them, the
same math in bare numpy (three GEMMs and the ReLU mask per layer, no engine code), which
separates what the engine's Python adds from what the BLAS libraries differ by.
Every figure is the median of several runs after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.engine.activations import relu, relu_grad  # noqa: E402
from grader.engine.layers import mlp_backward, mlp_forward  # noqa: E402
from grader.explore import sweep  # noqa: E402
from grader.explore.config import Config  # noqa: E402


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- (a) the sweep ---------------------------------------------------------------------

def sweep_bench(scales: int, depth: int, width: int, batch: int) -> None:
    grid = sweep.Grid(Config(width=width, batch_size=batch), max_depth=depth,
                      scales=sweep.log_scales(0.25, 4.0, scales))
    vectorised = timed(lambda: sweep.sweep(grid), 5)
    start = time.perf_counter()
    looped = sweep.sweep_by_loop(grid)
    loop = time.perf_counter() - start
    diff = float(np.max(np.abs(sweep.sweep(grid).ratios / looped - 1.0)))
    cells = scales * depth
    print(f"(a) sweep: {scales} scales x depths 1..{depth} = {cells} networks "
          f"(relu, he_normal, width {width}, batch {batch})")
    print(f"    vectorised, one stacked pass           {vectorised:8.3f} s")
    print(f"    Python loop, per-config engine         {loop:8.3f} s   "
          f"({cells} mlp_forward + mlp_backward calls)")
    print(f"    speed-up {loop / vectorised:.1f}x (target >= 10x); largest relative "
          f"difference {diff:.1e}")


# --- (b) the engine against PyTorch ----------------------------------------------------

def mlp_bench(batch: int, width: int, depth: int) -> None:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, width))
    Ws = [rng.standard_normal((width, width)) * np.sqrt(2.0 / width) for _ in range(depth)]
    bs = [0.1 * rng.standard_normal(width) for _ in range(depth)]
    dY = rng.standard_normal((batch, width)) / X.size

    def engine():
        _, cache = mlp_forward(X, Ws, bs, relu)
        return mlp_backward(dY, cache, relu_grad)

    def bare():
        A, saved = X, []
        for l, (W, b) in enumerate(zip(Ws, bs)):
            Z = A @ W
            Z += b
            saved.append((A, Z))
            A = Z if l == depth - 1 else np.maximum(Z, 0.0)
        dA = dY
        for l in reversed(range(depth)):
            A_in, Z = saved[l]
            dZ = dA if l == depth - 1 else dA * (Z > 0)
            dW, db, dA = A_in.T @ dZ, dZ.sum(axis=0), dZ @ Ws[l].T
        return dA, dW, db

    tX = torch.tensor(X, requires_grad=True)
    tWs = [torch.tensor(W, requires_grad=True) for W in Ws]
    tbs = [torch.tensor(b, requires_grad=True) for b in bs]
    tdY = torch.tensor(dY)

    def torch_pass():
        A = tX
        for l, (W, b) in enumerate(zip(tWs, tbs)):
            Z = torch.addmm(b, A, W)
            A = Z if l == depth - 1 else torch.relu(Z)
        return torch.autograd.grad(A, [tX, *tWs, *tbs], grad_outputs=tdY)

    gemm = timed(lambda: X @ Ws[0], 10)
    t_engine, t_bare, t_torch = timed(engine, 7), timed(bare, 7), timed(torch_pass, 7)
    flops = 3 * depth * 2 * batch * width * width
    print(f"(b) MLP forward + backward, batch {batch}, width {width}, depth {depth}, float64, "
          f"relu ({flops / 1e9:.1f} GFLOP; numpy and torch on {torch.get_num_threads()} "
          "threads)")
    print(f"    engine, layers.mlp_forward/backward  {t_engine * 1e3:8.1f} ms  "
          f"{flops / t_engine / 1e9:5.1f} GFLOP/s")
    print(f"    bare numpy, the same math            {t_bare * 1e3:8.1f} ms  "
          f"{flops / t_bare / 1e9:5.1f} GFLOP/s")
    print(f"    PyTorch autograd, addmm and relu     {t_torch * 1e3:8.1f} ms  "
          f"{flops / t_torch / 1e9:5.1f} GFLOP/s")
    print(f"    one {batch}x{width} @ {width}x{width} GEMM: numpy {gemm * 1e3:.1f} ms "
          f"({2 * batch * width * width / gemm / 1e9:.1f} GFLOP/s)")
    print(f"    engine / torch = {t_engine / t_torch:.2f} (target <= 1.2); engine / bare "
          f"numpy = {t_engine / t_bare:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, default=64)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--sizes", default=f"32x16,{Config().width}x{Config().batch_size}",
                        help="WIDTHxBATCH of the sweep's networks, comma-separated")
    parser.add_argument("--mlp-batch", type=int, default=256)
    parser.add_argument("--mlp-width", type=int, default=1024)
    parser.add_argument("--mlp-depth", type=int, default=8)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, numpy {np.__version__}")
    for size in args.sizes.split(","):
        width, batch = map(int, size.split("x"))
        sweep_bench(args.scales, args.depth, width, batch)
    mlp_bench(args.mlp_batch, args.mlp_width, args.mlp_depth)


if __name__ == "__main__":
    main()
