"""The catalogue of gradable functions: module -> function -> CheckDef, listed explicitly.

A check module is imported the first time its exercise is asked for, so a course
(or a `grader check --exercise`) that grades a few exercises does not pay for
building the cases of the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from grader.checks.model import CheckDef

MODULES = ("activations", "initializers", "clipping", "backward", "diagnostics", "fixes",
           "training")


class Catalogue(Mapping):
    """Exercise module name -> {function name: CheckDef}."""

    def __getitem__(self, module: str) -> dict[str, CheckDef]:
        if module not in MODULES:
            raise KeyError(module)
        return importlib.import_module(f"grader.checks.{module}").CHECKS

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)


CATALOGUE = Catalogue()
