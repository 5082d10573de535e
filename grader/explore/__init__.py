"""`grader explore`: a lab instrument on the reference engine.

Build one network from options (or a named scenario of the lesson), and see how the
gradient flows through it: per-layer norms of the backpropagated signal (dAs) and of the
weight gradients (dWs), their ratio and the diagnosis, learning speed and saturation per
layer, the chain-rule expansion, and a short SGD training history. ``--sweep`` maps the
gradient ratio over depth x weight scale instead: the phase diagram with its narrow
stable band around the critical scale.

One module per job:

- ``config``: the options as a frozen Config, their validation, ExploreError;
- ``model``: the network from a Config, and its forward/backward on the engine's layers;
- ``remedies``: the one door to the engine's norms (grader/engine/fixes.py);
- ``measure``: norms, ratio, diagnosis, learning speed, saturation, chain rule;
- ``train``: the SGD history, with optional clipping by global norm;
- ``scenarios``: the lesson's named configurations and the diagnosis each must give;
- ``lab``: options -> Exploration, the frozen result with to_dict();
- ``sweep``: the vectorised phase diagram (and the per-configuration loop it replaces);
- ``render`` and ``page``: the terminal report and the HTML page, formatting only.

The CLI imports this package inside the command, so other commands never load it.
"""

from __future__ import annotations

from grader.explore.config import Config, ExploreError


def run(scenario: str | None, options: dict, sweep_options: dict | None = None):
    """An Exploration of the configured network, or with ``sweep_options`` (a dict of
    max_depth, scales, over, each None for the default) a Sweep of the phase diagram."""
    from grader.explore import lab, sweep

    config, chosen = lab.resolve(scenario, options)
    if sweep_options is None:
        return lab.explore(config, chosen)
    return sweep.sweep(sweep.grid_from(config, **sweep_options))


def text(result, style) -> str:
    from grader.explore import render
    from grader.explore.sweep import Sweep

    return render.render_sweep(result, style) if isinstance(result, Sweep) else render.render(
        result, style)


def html(result) -> str:
    from grader.explore import page
    from grader.explore.sweep import Sweep

    return page.sweep_page(result) if isinstance(result, Sweep) else page.exploration_page(result)


def scenario_list() -> str:
    from grader.explore import render

    return render.scenario_list()


__all__ = ["Config", "ExploreError", "html", "run", "scenario_list", "text"]
