"""What every family shares: the Family record, thread counts, time limits, targets and the fields every
model takes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import numpy as np
import optuna
import pandas as pd

from workbench.model import FittedModel, InputSchema
from workbench.model.tabular._base import TabularModel, expand_proba, label_codes
from workbench.search._protocol import Reporter, WorkerResources
from workbench.store import TrialData

__all__ = [
    "CELLS_PER_THREAD",
    "FIT_SHARE",
    "POST_FIT_S",
    "Family",
    "FitFunction",
    "ModelFields",
    "RefitFunction",
    "TabularModel",
    "encoded_targets",
    "expand_proba",
    "fit_resources",
    "label_codes",
    "model_fields",
    "own_params",
    "thread_count",
]

FitFunction = Callable[[Mapping[str, Any], TrialData, WorkerResources, Reporter, int], FittedModel]
# (params, data, resources, seed, size): a fixed-size fit on data's train rows, without early stopping or
# reports; `size` is the number of boosting rounds or MLP epochs (ignored by the forest and linear families).
RefitFunction = Callable[[Mapping[str, Any], TrialData, WorkerResources, int, int], FittedModel]

# A family's fit may use this share of the time its trial has left (`WorkerResources.deadline`); the rest,
# and at least POST_FIT_S seconds, is kept for predicting, scoring, timing and pickling the model.
FIT_SHARE = 0.85
POST_FIT_S = 1.0
# A fit always gets this long, however late it starts: a model trained for a moment beats no model.
MIN_FIT_S = 0.5

# A fit uses one thread per this many feature cells (rows x columns), up to the worker's CPUs: on small
# tables more threads cost more in synchronization than they give (measured on a 200-row table: two
# threads 2-10x slower than one for LightGBM and XGBoost).
CELLS_PER_THREAD = 100_000


def thread_count(resources: WorkerResources, X: pd.DataFrame) -> int:
    """Threads for fitting on `X`: the worker's CPUs, fewer on small tables (see CELLS_PER_THREAD)."""
    wanted = 1 + (len(X) * max(1, len(X.columns))) // CELLS_PER_THREAD
    return max(1, min(resources.cpus, wanted))


def fit_resources(resources: WorkerResources) -> WorkerResources:
    """`resources` with the deadline by which the fit itself stops training (see FIT_SHARE); unchanged
    without a deadline."""
    left = resources.time_left()
    if left is None:
        return resources
    fit_s = max(MIN_FIT_S, min(left * FIT_SHARE, left - POST_FIT_S))
    return replace(resources, deadline=time.monotonic() + fit_s)


@dataclass(frozen=True)
class Family:
    """A model family the Optuna engine searches over.

    suggest(trial): samples the family's own parameters, named "<family>.<param>" so that one study can
        hold every family.
    fit(params, data, resources, reporter, seed): fits on data's train rows (early stopping and
        intermediate reports on its valid rows) and returns the model; parameters not sampled take their
        defaults, other families' parameters are ignored. With a deadline in `resources` it stops training
        then and keeps its best iteration (boosting rounds, MLP epochs, forest trees) so far.
    uses_gpu: whether the family uses a GPU when the worker has one.
    defaults: the parameters used when none are given, with their prefixed names.
    refit(params, data, resources, seed, size): the same model trained on data's train rows with a fixed
        size (see RefitFunction); its valid and test rows are not used.
    imports: the modules its fit imports when first called, imported before a fit is timed: a worker's
        first import of torch takes seconds that are not the fit's, and a refit estimated from a fit time
        that counts them is estimated several times too long.
    """

    name: str
    suggest: Callable[[optuna.Trial], dict[str, Any]]
    fit: FitFunction
    uses_gpu: bool
    defaults: Mapping[str, Any]
    refit: RefitFunction | None = None
    imports: tuple[str, ...] = ()

    def import_modules(self) -> None:
        """Import `imports` in this process (a no-op once they are)."""
        import importlib

        for module in self.imports:
            importlib.import_module(module)

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


class ModelFields(TypedDict):
    """The constructor arguments every `TabularModel` takes."""

    params: dict[str, Any]
    problem_type: str
    classes: tuple[Any, ...] | None
    input_schema: InputSchema


def model_fields(params: Mapping[str, Any], data: TrialData) -> ModelFields:
    """A model's `params` (unprefixed, resolved) and what it records of the experiment: problem type,
    classes and the train frame's input schema."""
    return ModelFields(
        params=dict(params),
        problem_type=data.problem_type,
        classes=tuple(data.classes) if data.classes is not None else None,
        input_schema=InputSchema.from_frame(data.X_train),
    )


def encoded_targets(data: TrialData, y: np.ndarray) -> np.ndarray:
    """What a model is fitted on for `y` (one of data's target arrays): label codes (positions in
    `data.classes`) for classification, floats for regression."""
    if data.problem_type == "regression":
        return y.astype(float)
    return label_codes(y, data.classes or ())
