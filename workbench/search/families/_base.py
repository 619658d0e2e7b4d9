"""What every family shares: the Family record, the model base class and label/probability plumbing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from workbench.model import FittedModel
from workbench.model.tabular._base import CELLS_PER_THREAD, TabularModel, expand_proba, label_codes, thread_count
from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = [
    "CELLS_PER_THREAD",
    "Family",
    "FitFunction",
    "TabularModel",
    "expand_proba",
    "label_codes",
    "own_params",
    "thread_count",
]

FitFunction = Callable[[Mapping[str, Any], TrialData, WorkerResources, Reporter, int], FittedModel]


@dataclass(frozen=True)
class Family:
    """A model family the Optuna engine searches over.

    suggest(trial): samples the family's own parameters, named "<family>.<param>" so that one study can
        hold every family.
    fit(params, data, resources, reporter, seed): fits on data's train rows (early stopping and
        intermediate reports on its valid rows) and returns the model; parameters not sampled take their
        defaults, other families' parameters are ignored.
    uses_gpu: whether the family uses a GPU when the worker has one.
    defaults: the parameters used when none are given, with their prefixed names.
    """

    name: str
    suggest: Callable[[optuna.Trial], dict[str, Any]]
    fit: FitFunction
    uses_gpu: bool
    defaults: Mapping[str, Any]

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The full prefixed parameter set a fit with `params` uses."""
        own = own_params(self.name, params, self.defaults)
        return {f"{self.name}.{key}": value for key, value in own.items()}


def own_params(family: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The family's parameters without their prefix, defaults filled in. Unknown own names are an error."""
    prefix = f"{family}."
    known = {key.removeprefix(prefix) for key in defaults}
    resolved = {key.removeprefix(prefix): value for key, value in defaults.items()}
    for key, value in params.items():
        if not key.startswith(prefix):
            continue
        name = key.removeprefix(prefix)
        if name not in known:
            raise ValueError(f"{family} has no parameter {name!r}; it has: {', '.join(sorted(known))}.")
        resolved[name] = value
    return resolved
