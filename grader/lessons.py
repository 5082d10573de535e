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

DIAGNOSTICS = Lesson(
    markdown="""\
## Measure before you fix

A vanishing or exploding gradient is a statement about a profile: one gradient norm per
layer, from the input side to the output side. Compare the two ends, input side over
output side, and the classic rule of thumb reads the ratio: below 0.01 the gradient is
*vanishing* (the first layers hardly learn), above 100 it is *exploding* (their updates
dwarf everything else), and in between it is *healthy*. The Frobenius norm of a
gradient array is the square root of the sum of its squared entries; take it with care,
because the norms you need to tell apart run from 1e-30 to 1e+30 and beyond, and the
square of 1e200 is already inf.

## Measure the right gradient

Which gradients go into the profile matters. Take the deep linear network again, every
weight matrix λ·I and no biases, now with 150 layers and λ = 1.5. The backpropagated
signal, the gradient with respect to each layer's input (dAs), grows by a factor λ at
every layer on its way back: from the last layer's input to the network's input it
grows by 1.5^149 = 1.73e26. The verdict is plainly *exploding*.

The weight gradients tell a different story. dW_l = A_{l-1}ᵀ dZ_l takes λ^(l−1) from
the forward pass and λ^(L−l) from the backward pass, so every layer's ‖dW_l‖ carries the
same λ^(L−1): the profile is flat, the ratio is exactly 1, and the verdict is *healthy*,
although each of them is 1.73e26 times what it would be with λ = 1. ReLU networks with
weights of standard deviation 1 behave much the same. So diagnose from the backpropagated
signal, and show the weight-gradient norms beside it.

## Check every backward pass

A backward pass written by hand needs an independent check, and the only one that needs
nothing but the forward function is a finite difference. Nudge one entry of x by ±h and
take (f(x + h) − f(x − h)) / (2h): its error shrinks as h², where the one-sided
(f(x + h) − f(x)) / h only shrinks as h. Score the agreement with a relative error,
max|a − b| / max(1e-12, max|a| + max|b|), because gradients that vanished to 1e-20 and
ones that exploded to 1e+20 must be judged by the same yardstick. Leave x as you found
it: the perturbation goes on a copy, and the exact old value goes back.
""",
    demo="""\
import numpy as np

L, lam, width = 150, 1.5, 4
W = lam * np.eye(width)
As = [np.ones((2, width))]
for _ in range(L):
    As.append(As[-1] @ W)
dA, dA_norms, dW_norms = np.ones((2, width)), [], []
for l in range(L, 0, -1):  # from layer L down to layer 1
    dW_norms.append(np.linalg.norm(As[l - 1].T @ dA))
    dA = dA @ W.T  # a linear layer: dZ_l is dA_l
    dA_norms.append(np.linalg.norm(dA))
profiles = [("dA, the backpropagated signal", dA_norms), ("dW, the weight gradients", dW_norms)]
for name, norms in profiles:
    ratio = norms[-1] / norms[0]  # input side over output side
    verdict = "vanishing" if ratio < 1e-2 else "exploding" if ratio > 1e2 else "healthy"
    print(f"{name:30s} ratio {ratio:9.3g} -> {verdict:9s} (largest norm {max(norms):.3g})")

x, h = 1.0, 1e-5
for name, estimate in [("forward", (np.sin(x + h) - np.sin(x)) / h),
                       ("centred", (np.sin(x + h) - np.sin(x - h)) / (2 * h))]:
    error = abs(estimate - np.cos(x)) / max(1e-12, abs(estimate) + abs(np.cos(x)))
    print(f"{name} difference of sin at x = 1, h = {h:g}: relative error {error:.2g}")
""",
)

FIXES = Lesson(
    markdown="""\
## Give the gradient a way around

A plain layer multiplies the backpropagated gradient by its local factor, and six
sigmoid layers at their very best already scale it by 0.25^6 = 2.44e-4. A residual
layer adds its input to its output, A_l = A_{l-1} + f(A_{l-1}), and the chain rule then
*adds* two paths instead of multiplying one: dA_{l-1} = dA_l + (the branch's term). The
skip hands the gradient back whole, so however small the branch's factor gets, the
gradient cannot vanish through the skip. That is the idea behind residual networks,
and, with gates in place of a plain sum, behind LSTM and GRU cells.

An addition needs two arrays of the same shape, so only a layer whose input and output
widths match can add its input; a layer that changes the width stays a plain layer, and
the linear output layer never adds anything.

## Keep every layer near unit scale

Normalisation attacks the factor itself. It rescales a layer's values to zero mean and
unit variance, x̂ = (x − mean) / sqrt(var + eps), then lets the network pick the scale
it wants back, out = γ x̂ + β, with γ and β learned per feature. Whatever the weights
before it did, the next layer sees values of size about 1, so the per-layer factor
stays near 1 instead of compounding with depth.

- **Layer norm** takes the statistics of each example over its features (each row).
  It does not depend on the rest of the batch, which is why transformers use it.
- **Batch norm** takes the statistics of each feature over the batch (each column), in
  training mode from the current batch. A batch of one leaves nothing to normalise.

Both use the biased variance (divide by the count, as PyTorch does) with eps inside the
square root. In the backward pass the mean and the variance depend on every value in
their group, which gives dx two extra terms; with them, each group's gradients sum to
zero, since shifting a whole group changes nothing after normalisation.
""",
    demo="""\
import numpy as np

rng = np.random.default_rng(0)
depth, width = 30, 32
Ws = [rng.normal(0.0, np.sqrt(1 / width), size=(width, width)) for _ in range(depth)]
X = rng.normal(size=(64, width))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gradient_ratio(residual):
    \"\"\"|dA| at the input over |dA| at the last layer's input, for 30 sigmoid layers.\"\"\"
    A, Zs = X, []
    for W in Ws:
        Zs.append(A @ W)
        A = A + sigmoid(Zs[-1]) if residual else sigmoid(Zs[-1])
    dA, norms = np.ones_like(A), []
    for W, Z in zip(Ws[::-1], Zs[::-1]):
        s = sigmoid(Z)
        through_branch = (dA * s * (1 - s)) @ W.T
        dA = through_branch + dA if residual else through_branch
        norms.append(np.linalg.norm(dA))
    return norms[-1] / norms[0]


print(f"{depth} sigmoid layers, plain:    gradient ratio {gradient_ratio(False):.3g}")
print(f"{depth} sigmoid layers, residual: gradient ratio {gradient_ratio(True):.3g}")

A_plain = A_norm = X
for W in Ws:
    A_plain = np.maximum(A_plain @ (3.0 * W), 0.0)  # weights three times too large
    Z = A_norm @ (3.0 * W)
    Z = (Z - Z.mean(axis=1, keepdims=True)) / np.sqrt(Z.var(axis=1, keepdims=True) + 1e-5)
    A_norm = np.maximum(Z, 0.0)
print(f"activation scale after {depth} ReLU layers with weights three times too large: "
      f"{A_plain.std():.3g} plain, {A_norm.std():.3g} with layer norm")
""",
)

TRAINING = Lesson(
    markdown="""\
## Where gradients meet the optimizer

Plain stochastic gradient descent moves every parameter against its gradient,
W_l ← W_l − lr · dW_l, once per step. The size of the step is the learning rate times
the gradient, so the two failures show up directly in training:

- **Exploding**: one step of lr × a gradient a million times its usual size throws the
  weights far away; the next forward pass is larger still, and within a few steps the
  loss is inf and then NaN.
- **Vanishing**: the layers near the input get gradients many orders of magnitude
  smaller than the output layer's, so with one learning rate for all of them they barely
  move. Relative to the output layer, a layer learns fast, slowly, or it is frozen.

## Clip between the backward pass and the step

Clipping by global norm goes after the backward pass and before the update. The
gradients of all weights and biases count as one long vector with norm total_norm;
when it exceeds max_norm, every gradient is multiplied by max_norm / (total_norm +
1e-6), so the step keeps its direction and only its length is capped. It does nothing
for vanishing gradients.

## Keep a history

Record the loss before each step and, for each layer, the norm of its weight gradient
*before* clipping: that is what the network produced, and the clip only decides how far
to move with it. A loss that stalls while the input-side norms sit orders of magnitude
below the output side is a vanishing gradient; norms that climb step after step, with a
loss that jumps, are an explosion in progress. Train on copies of the weights, so the
same starting point can be run again with and without the clip.
""",
    demo="""\
import numpy as np

rng = np.random.default_rng(1)
X = rng.normal(size=(32, 4))
Y = np.sin(X.sum(axis=1, keepdims=True))
widths = [4, 32, 32, 32, 1]
start = [rng.normal(0.0, 3.0 / np.sqrt(i), size=(i, o)) for i, o in zip(widths, widths[1:])]


def train(max_norm, lr=0.05, steps=60):
    \"\"\"SGD on a ReLU net without biases, weights three times too large; the loss history.\"\"\"
    Ws, losses = [W.copy() for W in start], []
    with np.errstate(over="ignore", invalid="ignore"):  # the unclipped run overflows
        for _ in range(steps):
            As, A = [], X
            for l, W in enumerate(Ws):
                As.append(A)
                A = A @ W if l == len(Ws) - 1 else np.maximum(A @ W, 0.0)
            losses.append(np.mean((A - Y) ** 2))
            dZ, dWs = 2 * (A - Y) / A.size, [None] * len(Ws)
            for l in reversed(range(len(Ws))):
                dWs[l] = As[l].T @ dZ
                if l > 0:
                    dZ = (dZ @ Ws[l].T) * (As[l] > 0)
            total_norm = np.sqrt(sum(np.sum(dW ** 2) for dW in dWs))
            scale = 1.0 if max_norm is None else min(1.0, max_norm / (total_norm + 1e-6))
            Ws = [W - lr * scale * dW for W, dW in zip(Ws, dWs)]
    return losses


for max_norm in (None, 1.0):
    losses = train(max_norm)
    shown = " -> ".join(f"{losses[t]:.3g}" for t in (0, 1, 2, 5, 20, 59))
    print(f"max_norm = {max_norm}: loss at steps 0, 1, 2, 5, 20, 59: {shown}")
""",
)

LESSONS: dict[str, Lesson] = {
    "activations": ACTIVATIONS,
    "initializers": INITIALIZERS,
    "clipping": CLIPPING,
    "backward": BACKWARD,
    "diagnostics": DIAGNOSTICS,
    "fixes": FIXES,
    "training": TRAINING,
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
