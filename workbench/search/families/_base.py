"""What every family shares: the Family record, the model base class and label/probability plumbing."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from workbench.model import FittedModel, InputSchema
from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = [
    "Family",
    "FitFunction",
    "TabularModel",
    "expand_proba",
    "label_codes",
    "own_params",
    "thread_count",
]

# A fit uses one thread per this many feature cells (rows x columns), up to the worker's CPUs: on small
# tables more threads cost more in synchronization than they give (measured on a 200-row table: two
# threads 2-10x slower than one for LightGBM and XGBoost).
CELLS_PER_THREAD = 100_000

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


def thread_count(resources: WorkerResources, X: pd.DataFrame) -> int:
    """Threads for fitting on `X`: the worker's CPUs, fewer on small tables (see CELLS_PER_THREAD)."""
    wanted = 1 + (len(X) * max(1, len(X.columns))) // CELLS_PER_THREAD
    return max(1, min(resources.cpus, wanted))


def label_codes(y: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """Each label's position in `classes`."""
    index = {label: i for i, label in enumerate(classes)}
    try:
        return np.fromiter((index[label] for label in y), dtype=np.int64, count=len(y))
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of the classes {list(classes)}") from None


def expand_proba(proba: np.ndarray, fitted_codes: Sequence[int], n_classes: int) -> np.ndarray:
    """Place the columns of a model fitted on a subset of the classes; rows are renormalized to sum to 1."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    out = np.zeros((proba.shape[0], n_classes))
    out[:, np.asarray(fitted_codes, dtype=np.int64)] = proba
    out = np.clip(out, 0.0, None)
    totals = out.sum(axis=1, keepdims=True)
    uniform = np.full_like(out, 1.0 / n_classes)
    return np.where(totals > 0, out / np.where(totals > 0, totals, 1.0), uniform)


class TabularModel(FittedModel):
    """A family's fitted model: raw frame in, probabilities in `classes_` order or values out.

    Subclasses store their (unprefixed, resolved) parameters in `params`, implement `fit` by calling
    `_begin` first, and `_predict` for already-checked frames.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)

    @abc.abstractmethod
    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> TabularModel:
        """Fit on data's train rows; may report on and early-stop with its valid rows."""

    @abc.abstractmethod
    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        """(n, len(classes_)) probabilities or (n,) values."""

    def _begin(self, data: TrialData) -> None:
        self.problem_type = data.problem_type
        self.classes_ = tuple(data.classes) if data.classes is not None else None
        self.input_schema_ = InputSchema.from_frame(data.X_train)

    @property
    def n_classes_(self) -> int:
        return len(self.classes_) if self.classes_ is not None else 0

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type == "regression":
            raise TypeError("a regression model has no class probabilities; use predict_values")
        return self._predict(X)

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type != "regression":
            raise TypeError("a classifier predicts probabilities; use predict_proba or predict")
        return np.asarray(self._predict(X), dtype=np.float64)
