"""Options: defaults, overrides and one clear error per bad value."""

from __future__ import annotations

import pytest

from grader.engine.activations import ACTIVATIONS
from grader.engine.initializers import INITIALIZERS
from grader.errors import GraderError
from grader.explore.config import Config, ExploreError, validate, with_options


def check(**changes):
    return validate(Config(**changes), ACTIVATIONS, INITIALIZERS)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_engine_activation_is_accepted(name):
    assert check(activation=name).activation == name


@pytest.mark.parametrize("name", [*INITIALIZERS, "identity"])
def test_every_engine_initializer_and_identity_are_accepted(name):
    assert check(init=name).init == name


@pytest.mark.parametrize("changes, fragment", [
    ({"depth": 0}, "--depth"), ({"width": 0}, "--width"), ({"batch_size": 0}, "--batch-size"),
    ({"steps": -1}, "--steps"), ({"activation": "swish"}, "unknown --activation 'swish'"),
    ({"init": "orthogonal"}, "unknown --init"), ({"norm": "group"}, "unknown --norm"),
    ({"weight_scale": 0.0}, "--weight-scale"), ({"weight_scale": float("nan")}, "finite"),
    ({"lr": -1.0}, "--lr"), ({"clip": 0.0}, "--clip"),
    ({"norm": "batch", "batch_size": 1}, "--batch-size 2"),
    ({"norm": "layer", "width": 1}, "--width 2"),
])
def test_a_bad_option_names_itself(changes, fragment):
    with pytest.raises(ExploreError) as caught:
        check(**changes)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, GraderError)  # so the CLI prints it on one line
    assert "\n" not in str(caught.value)


def test_options_given_replace_the_base_and_none_keeps_it():
    config = with_options(Config(depth=20), {"depth": None, "width": 8, "residual": False})
    assert (config.depth, config.width, config.residual) == (20, 8, False)
    with pytest.raises(ExploreError, match="unknown option"):
        with_options(Config(), {"colour": "red"})


def test_to_dict_holds_every_option():
    assert set(Config().to_dict()) == {"depth", "width", "activation", "init", "weight_scale",
                                       "bias", "residual", "norm", "clip", "lr", "steps",
                                       "batch_size", "seed"}
