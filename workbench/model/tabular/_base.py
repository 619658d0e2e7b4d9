"""The family models' base class and their label/probability plumbing.

Importing this (or any `workbench.model.tabular` module) imports neither `workbench.search` nor a model
library: those are imported inside `fit` (which only workers call) and inside predict methods.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model._base import FittedModel
from workbench.model._columns import Columns, FastPredict
from workbench.model._schema import InputSchema
from workbench.model.tabular._prep import OrdinalPrep

if TYPE_CHECKING:
    from collections.abc import Mapping

    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["CELLS_PER_THREAD", "SklearnModel", "TabularModel", "expand_proba", "label_codes", "thread_count"]

# A fit uses one thread per this many feature cells (rows x columns), up to the worker's CPUs: on small
# tables more threads cost more in synchronization than they give (measured on a 200-row table: two
# threads 2-10x slower than one for LightGBM and XGBoost).
CELLS_PER_THREAD = 100_000


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

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """`_predict` on the preprocessed matrix, for models whose `prep_` is an OrdinalPrep."""
        raise NotImplementedError

    def fast_path(self) -> FastPredict | None:
        prep = getattr(self, "prep_", None)
        if not isinstance(prep, OrdinalPrep) or type(self)._predict_matrix is TabularModel._predict_matrix:
            return None

        def predict(columns: Columns, n: int) -> np.ndarray:
            return self._predict_matrix(prep.transform_columns(columns, n))

        return predict

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


class SklearnModel(TabularModel):
    """Shared predict: the estimator's classes are label codes, placed into `classes_` order."""

    estimator_: Any

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _targets(self, data: TrialData) -> np.ndarray:
        if data.problem_type == "regression":
            return data.y_train.astype(float)
        return label_codes(data.y_train, data.classes or ())

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self._matrix(X))

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        if self.problem_type == "regression":
            return np.asarray(self.estimator_.predict(matrix), dtype=np.float64)
        codes = [int(c) for c in self.estimator_.classes_]
        return expand_proba(self.estimator_.predict_proba(matrix), codes, self.n_classes_)
