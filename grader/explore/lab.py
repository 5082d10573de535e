"""The instrument: from options (and a scenario) to every measurement, as frozen data.

``explore(config)`` validates, builds the network and its batch, measures one forward
and backward pass at initialisation and trains it; ``Exploration.to_dict()`` is the
JSON the CLI writes. Renderers (render.py, page.py) only format what is here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from grader.engine.activations import ACTIVATIONS
from grader.engine.initializers import INITIALIZERS
from grader.explore import measure, model, remedies, scenarios
from grader.explore.config import Config, with_options, validate
from grader.explore.measure import Snapshot, diagnose
from grader.explore.scenarios import Scenario
from grader.explore.train import History, train


def resolve(scenario: str | None, options: dict) -> tuple[Config, Scenario | None]:
    """The scenario's configuration (or the defaults) with the given options put in."""
    chosen = scenarios.get(scenario) if scenario else None
    base = chosen.config if chosen else Config()
    return check(with_options(base, options)), chosen


def check(config: Config) -> Config:
    validate(config, ACTIVATIONS, INITIALIZERS)
    if config.norm != "none":
        remedies.fixes()  # fail before any work when the engine lacks the norms
    return config


@dataclass(frozen=True)
class Exploration:
    config: Config
    scenario: Scenario | None
    snapshot: Snapshot
    history: History

    @property
    def notes(self) -> tuple[str, ...]:
        return (signal_notes(self.snapshot, self.config)
                + history_notes(self.history, self.config))

    def to_dict(self) -> dict:
        s, h = self.snapshot, self.history
        return finite_or_none({
            "config": self.config.to_dict(),
            "scenario": self.scenario.to_dict() if self.scenario else None,
            "grad_norms": list(s.grad_norms),
            "weight_grad_norms": list(s.weight_grad_norms),
            "bias_grad_norms": list(s.bias_grad_norms),
            "output_grad_norm": s.output_grad_norm,
            "ratio": s.ratio,
            "weight_ratio": s.weight_ratio,
            "diagnosis": s.diagnosis,
            "gradient_classes": list(s.classes),
            "learning_speed": list(s.learning_speed),
            "saturation": [None if v is None else {"saturated": v[0], "dead": v[1]}
                           for v in s.saturation],
            "chain_rule": {"spectral_norms": list(s.chain.spectral_norms),
                           "max_act_grads": list(s.chain.max_act_grads),
                           "factors": list(s.chain.factors),
                           "products": list(s.chain.products),
                           "measured": list(s.chain.measured)},
            "distributions": [d.to_dict() for d in s.distributions],
            "activation_curve": measure.activation_curve(self.config.activation),
            "loss": s.loss,
            "history": {"loss": list(h.loss), "grad_norms": [list(r) for r in h.grad_norms],
                        "weight_grad_norms": [list(r) for r in h.weight_grad_norms],
                        "total_norm": list(h.total_norm), "clipped": list(h.clipped),
                        "diverged_at": h.diverged_at},
            "thresholds": measure.THRESHOLDS,
            "notes": list(self.notes),
        })


def explore(config: Config, scenario: Scenario | None = None) -> Exploration:
    check(config)
    net = model.build(config)
    X, T = model.data(config)
    return Exploration(config, scenario, measure.snapshot(net, X, T),
                       train(net, X, T, config.lr, config.steps, config.clip))


def signal_notes(s: Snapshot, config: Config) -> tuple[str, ...]:
    """Why |dA| and not |dW| carries the diagnosis, with this network's own numbers."""
    misleading = diagnose(s.weight_ratio)
    if s.diagnosis in ("vanishing", "exploding") and misleading != s.diagnosis:
        # The reason the weight gradients stay level is proven only for the linear net.
        linear = (" (In a deep linear net every |dW_l| scales as lambda^(L-1).)"
                  if config.activation == "linear" else "")
        return (f"The weight gradients alone would read {misleading} (|dW_1| / |dW_L| = "
                f"{s.weight_ratio:.3g}) while the backpropagated signal is {s.diagnosis} "
                f"(ratio {s.ratio:.3g}): the diagnosis reads |dA|, and |dW| is shown beside "
                f"it.{linear}",)
    return ("The diagnosis reads |dA|, the backpropagated signal; |dW| is shown beside it "
            "because weight gradients can stay level while the signal vanishes or explodes.",)


def history_notes(h: History, config: Config) -> tuple[str, ...]:
    notes = []
    if h.diverged_at is not None:
        notes.append(f"Training diverged: the loss is not finite at step {h.diverged_at}. "
                     f"With gradients this large, a step of lr {config.lr:g} overshoots: the "
                     "weights grow with every step until the numbers overflow. Lower --lr, "
                     "clip (--clip 1) or normalise (--norm layer); the charts show the steps "
                     "before it.")
    if config.clip is not None and h.clipped:
        notes.append(f"Clipping (max_norm {config.clip:g}) acted on {sum(h.clipped)} of "
                     f"{len(h.clipped)} steps; it scales all gradients alike, so the ratio "
                     "is unchanged.")
    return tuple(notes)


def finite_or_none(value):
    """The same structure with inf and NaN as None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value
