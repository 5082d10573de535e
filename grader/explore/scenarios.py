"""The lesson's scenarios: named configurations, each with the diagnosis the course gives it.

The figures quoted in the notes are computed here from the configuration (1.5^50, 0.5^50,
0.25^10, ...), never typed. ``expected_ratio`` is set where theory gives the ratio exactly:
the deep linear net with W_l = lambda I and no biases has dA_{l-1} = lambda dA_l, so
|dA_0| / |dA_{L-1}| = lambda^(L-1) while Y_hat = lambda^L X.

Clipping rescales every gradient by the same coefficient, so it cannot change the ratio:
the clipped scenario keeps its 'exploding' diagnosis, and the rescue shows in the training
history instead (the loss stays finite and falls, where the unclipped run diverges).
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.explore.config import Config, ExploreError

DEEP = 20  # layers of the deep sigmoid and ReLU nets
LARGE_DEPTH = 10


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    expected: str  # the diagnosis course-facts.md gives it
    note: str
    config: Config
    expected_ratio: float | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "summary": self.summary, "expected": self.expected,
                "note": self.note, "expected_ratio": self.expected_ratio}


def _deep_sigmoid(**changes) -> Config:
    return Config(**{"depth": DEEP, "activation": "sigmoid", "init": "xavier_normal", **changes})


def _large_init(**changes) -> Config:
    return Config(**{"depth": LARGE_DEPTH, "activation": "relu", "init": "random_normal",
                     **changes})


def _linear(scale: float, depth: int) -> Scenario:
    diagnosis = "exploding" if scale > 1 else "vanishing"
    return Scenario(
        f"linear-{scale:g}-depth-{depth}",
        f"deep linear net, W_l = {scale:g} I, {depth} layers, no biases ({diagnosis})",
        diagnosis,
        f"Y_hat = {scale:g}^{depth} X = {scale ** depth:.3g} X, and the gradient scales the "
        f"same way: |dA_0| / |dA_{depth - 1}| = {scale:g}^{depth - 1} = "
        f"{scale ** (depth - 1):.3g}. Every |dW_l| scales as {scale:g}^{depth - 1}, so the "
        "weight gradients stay level: only the backpropagated signal shows the problem.",
        Config(depth=depth, activation="linear", init="identity", weight_scale=scale,
               bias=False),
        expected_ratio=scale ** (depth - 1))


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("deep-sigmoid", f"{DEEP} sigmoid layers, Xavier init (vanishing)", "vanishing",
             f"sigmoid' is at most 0.25, so each of the {DEEP - 1} sigmoid layers multiplies "
             f"the gradient by about ||W|| x 0.25 or less: 0.25^{DEEP - 1} = "
             f"{0.25 ** (DEEP - 1):.3g}.", _deep_sigmoid()),
    Scenario("deep-sigmoid-small", f"{DEEP} sigmoid layers, N(0, 0.1^2) weights (vanishing)",
             "vanishing", "Small weights and sigmoid' <= 0.25 shrink the gradient at every "
             f"layer; even 0.5 per layer gives 0.5^20 = {0.5 ** 20:.3g}.",
             _deep_sigmoid(init="random_normal", weight_scale=0.1)),
    Scenario("large-init", f"{LARGE_DEPTH} ReLU layers, N(0, 1) weights (exploding)",
             "exploding", "With sigma = 1 each ReLU layer multiplies the signal by about "
             "sqrt(width / 2). The weight gradients barely change across layers: read the "
             "|dA| strip, not the |dW| one.", _large_init()),
    Scenario("relu-he", f"{DEEP} ReLU layers, He init (healthy)", "healthy",
             "He's variance 2 / fan_in makes ReLU's expected factor per layer 1.",
             Config(depth=DEEP, activation="relu", init="he_normal")),
    Scenario("deep-sigmoid-residual", "the deep sigmoid net with skip connections (healthy)",
             "healthy", "A_l = A_{l-1} + sigmoid(Z_l): dA_{l-1} = dA_l + the branch's term, "
             "so the identity path carries the gradient however small the branch's factor.",
             _deep_sigmoid(residual=True)),
    Scenario("deep-sigmoid-batchnorm", "the deep sigmoid net with batch norm (healthy)",
             "healthy", "Batch norm before each sigmoid keeps Z_l near zero mean and unit "
             "variance, where sigmoid' is largest, and divides out the weights' scale.",
             _deep_sigmoid(norm="batch")),
    Scenario("large-init-batchnorm", "the large-init ReLU net with batch norm (healthy)",
             "healthy", "Normalising Z_l divides out the weights' scale: the per-layer "
             "factor returns near 1.", _large_init(norm="batch")),
    Scenario("large-init-clipped", "the large-init ReLU net, clipped (exploding; training "
             "rescued)", "exploding",
             "Clipping rescales all gradients by one coefficient, so the ratio and the "
             "diagnosis do not change; what it rescues is training: compare the loss with "
             "--scenario large-init, which diverges within a few steps.",
             _large_init(clip=1.0)),
    _linear(1.5, 50), _linear(0.5, 50), _linear(1.5, 150), _linear(0.5, 150),
)}


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ExploreError(f"unknown --scenario {name!r}: choose one of "
                           f"{', '.join(SCENARIOS)} (or list)") from None
