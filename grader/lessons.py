"""The short lesson at the top of each exercise's notebook: markdown, plus a small demo.

Every figure quoted here is computed in float64 (tests/test_notebook.py recomputes each
``a^n = x`` written below), and the demo cell lets students compute them again. A
solution module without a lesson here gets its own docstring instead, so adding an
exercise never blocks ``grader generate``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    """Markdown for the lesson cell, and Python for an untagged demo cell (may be empty)."""

    markdown: str
    demo: str = ""


ACTIVATIONS = Lesson(
    markdown="""\
## Why depth turns a small slope into nothing

Backpropagation applies the chain rule once per layer. The gradient that reaches the
first layer is the gradient at the output multiplied by one local factor for every layer
on the way, roughly ‖W_l‖ × |g′(z_l)|: the size of the layer's weights times the slope of
its activation at the pre-activation z_l. A product of L similar factors is one factor
raised to the power L. Keep the factors below 1 and the gradient shrinks exponentially
with depth; keep them above 1 and it grows exponentially.

## Sigmoid's slope is at most 0.25

σ′(z) = σ(z)(1 − σ(z)) peaks at z = 0, where σ(0) = 0.5 and the slope is 0.5 × 0.5 =
0.25. So each sigmoid layer scales the gradient by a quarter at best, and ten of them by
0.25^10 = 9.54e-7: the first layer gets about a millionth of the signal the last one
gets. Off centre it is worse, σ′(2) = 0.1050, and a unit pushed into either flat tail
(*saturated*) passes back almost nothing. tanh reaches a slope of 1 at z = 0 but
saturates in the same way.

## The ReLU family

ReLU's slope is exactly 1 for z > 0, so an active unit hands the gradient back
unchanged; for z < 0 it is 0, and a unit that is negative for every input (a *dead*
unit) never receives a gradient to recover with. Leaky ReLU, ELU, SELU, GELU and SiLU
keep ReLU's behaviour for positive inputs, where they do not saturate, and let some
gradient through for negative ones.

You will write each activation and its derivative. The derivative is always evaluated
at the pre-activation z, never at the activation's output.
""",
    demo="""\
import numpy as np

z = np.linspace(-6.0, 6.0, 1201)
s = 1.0 / (1.0 + np.exp(-z))
slope = s * (1.0 - s)
print(f"largest sigmoid slope: {slope.max():.4f}, at z = {abs(z[slope.argmax()]):.1f}")
for depth in (6, 10, 20):
    print(f"{depth:2d} sigmoid layers, at best: 0.25**{depth} = {0.25 ** depth:.3g}")
""",
)

INITIALIZERS = Lesson(
    markdown="""\
## The weights set the factor

Of the per-layer factors that backpropagation multiplies, the weights are the part you
choose before training starts. Take the simplest deep network, a linear one whose weight
matrices are all λ·I: its output is λ^L X, and the gradient sent back to the input
scales as λ^L too. With λ = 1.5 and 50 layers that is 1.5^50 = 6.38e8, so weights only
half again larger than 1 make the gradient explode; with λ = 0.5 it is
0.5^50 = 8.88e-16, and it has vanished. Factors close to 1 compound as well:
1.1^150 = 1.62e6 and 0.9^150 = 1.37e-7.

## Pick the variance that keeps the factor near 1

A unit with fan_in inputs adds up fan_in products, so the variance of its pre-activation
is about fan_in × Var(W) times that of its inputs. A variance of order 1/fan_in keeps
that ratio near 1 from one layer to the next:

- **Xavier/Glorot** (Glorot & Bengio, 2010): Var(W) = 2 / (fan_in + fan_out), halfway
  between what the forward pass (fan_in) and the backward pass (fan_out) would want; for
  sigmoid and tanh.
- **He/Kaiming** (He et al., 2015): Var(W) = 2 / fan_in for ReLU, which zeroes about
  half of its inputs and so halves the signal's power; (2 / (1 + a²)) / fan_in for leaky
  ReLU with slope a.
- **LeCun**: Var(W) = 1 / fan_in, the partner of SELU.
- **random_normal** with a fixed std ignores the layer sizes: the baseline that fails.

The uniform versions draw from U(−b, b) with b = sqrt(3 × variance), because U(−b, b)
has variance b²/3.
""",
    demo="""\
import numpy as np

for lam, depth in [(1.5, 50), (0.5, 50), (1.1, 150), (0.9, 150)]:
    print(f"{lam}**{depth} = {lam ** depth:.3g}")

rng = np.random.default_rng(0)
fan_in = 512
he_std = np.sqrt(2 / fan_in)
for name, std in [("std 1", 1.0), ("std 0.01", 0.01), ("He, sqrt(2 / fan_in)", he_std)]:
    a = rng.normal(size=(256, fan_in))
    for _ in range(20):
        a = np.maximum(a @ rng.normal(0.0, std, size=(fan_in, fan_in)), 0.0)
    print(f"{name:21s} activation scale after 20 ReLU layers: {a.std():.3g}")
""",
)

CLIPPING = Lesson(
    markdown="""\
## One exploding step is enough

An exploding gradient does harm the moment it appears: a single update of learning rate
× gradient, with a gradient a million times its usual size, throws the weights far from
where training was heading, and the loss may turn into inf or NaN. Clipping puts a bound
on that step. It runs after the backward pass and before the optimizer step, and it is
standard practice for recurrent networks and transformers.

## Two ways to clip

- **By global norm**: treat the gradients of all layers as one long vector and take its
  norm, total_norm. When total_norm exceeds max_norm, multiply every gradient by
  max_norm / total_norm (PyTorch adds 1e-6 to the denominator). The update keeps its
  direction; only its length is capped. Below the threshold nothing changes.
- **By value**: clamp every entry to [−clip_value, clip_value]. Cheap, but entries are
  cut by different amounts, so the direction of the update can change.

Clipping treats the symptom, not the cause (initialization, normalization and residual
connections address that), and it does nothing for vanishing gradients: it only ever
scales down.
""",
    demo="""\
import numpy as np

grads = [np.array([3.0, 4.0]), np.array([[1200.0]])]
max_norm = 5.0
total_norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
scale = min(1.0, max_norm / (total_norm + 1e-6))
print(f"total_norm = {total_norm:.4g}, every gradient scaled by {scale:.3g}")
print("by norm: ", [g * scale for g in grads])
print("by value:", [np.clip(g, -max_norm, max_norm) for g in grads])
""",
)

BACKWARD = Lesson(
    markdown="""\
## Backpropagation, one layer at a time

For a layer Z_l = A_{l-1} W_l + b_l followed by A_l = g(Z_l), the chain rule takes
three steps back:

- dZ_l = dA_l * g′(Z_l), entry by entry (the output layer is linear: dZ_L = dY_hat);
- dW_l = A_{l-1}ᵀ dZ_l and db_l = dZ_l summed over the batch;
- dA_{l-1} = dZ_l W_lᵀ, the gradient handed down to the layer below.

Every step back multiplies by W_lᵀ and by g′(Z_l), one local factor per layer, and over
L layers those factors multiply. That product is where gradients vanish or explode, and
your mlp_backward computes it exactly.

## Which gradient shows it

Take a linear network whose weights are all λ·I, with no biases. The gradient with
respect to each layer's input, dA, shrinks or grows as a power of λ on its way from the
output to the input. The weight gradients hide this: dW_l = A_{l-1}ᵀ dZ_l carries
λ^(l−1) from the forward pass and λ^(L−l) from the backward pass, so every layer's
‖dW_l‖ scales as λ^(L−1) and the ratio between layers stays 1 (ReLU networks with
σ = 1 weights behave much the same). That is why mlp_backward returns dAs as well as dWs
and dbs: diagnose depth problems from dAs, with the weight-gradient norms beside them.

## Build it from a pair

linear_forward returns (out, cache) and linear_backward takes (dout, cache) and returns
the gradients in the order of the forward's inputs; the MLP is a loop over that pair.
Keep Z_l in the cache: the activation's derivative is taken at the pre-activation, not
at the activation's output.
""",
    demo="""\
import numpy as np

L, lam, I = 50, 1.5, np.eye(4)
As = [np.ones((1, 4))]
for _ in range(L):
    As.append(As[-1] @ (lam * I))
dZ = np.ones((1, 4))  # the gradient at the output
dA_norms, dW_norms = [], []
for l in range(L, 0, -1):  # from layer L down to layer 1
    dW_norms.append(np.linalg.norm(As[l - 1].T @ dZ))
    dZ = dZ @ (lam * I).T  # linear layers: dZ_{l-1} = dA_{l-1}
    dA_norms.append(np.linalg.norm(dZ))
print(f"output: {As[-1][0, 0]:.3g} = {lam}**{L} = {lam ** L:.3g}")
print(f"|dA| at the input over |dA| at layer {L}'s input: {dA_norms[-1] / dA_norms[0]:.3g}")
print(f"|dW| of layer 1 over |dW| of layer {L}: {dW_norms[-1] / dW_norms[0]:.3g}")
""",
)

LESSONS: dict[str, Lesson] = {
    "activations": ACTIVATIONS,
    "initializers": INITIALIZERS,
    "clipping": CLIPPING,
    "backward": BACKWARD,
}


def lesson_for(module: str, solution_source: str) -> Lesson:
    """The module's lesson, or its docstring (less the first line, the title) if it has none."""
    if module in LESSONS:
        return LESSONS[module]
    try:
        doc = ast.get_docstring(ast.parse(solution_source)) or ""
    except SyntaxError:
        doc = ""
    return Lesson(doc.partition("\n")[2].strip() or f"The `{module}` exercise.")
