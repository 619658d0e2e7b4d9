"""The family models' base class and their label/probability plumbing.

Importing this (or any `workbench.model.tabular` module) imports neither the search layer nor a model
library: model libraries are imported inside predict methods. A model is built from already-fitted parts
by its constructor. Fitting is the search layer's work (its `families` package), which calls the public
helpers here (`label_codes`, `booster_prediction`, ...) so that fit-time and predict-time outputs agree.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._base import FittedModel
from workbench.model._columns import Columns, FastPredict
from workbench.model._schema import InputSchema
from workbench.model.tabular._prep import OrdinalPrep

__all__ = ["SklearnModel", "TabularModel", "booster_prediction", "expand_proba", "label_codes"]


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


def booster_prediction(raw: Any, problem_type: str, n_classes: int) -> np.ndarray:
    """A LightGBM or XGBoost booster's output as the stored prediction.

    `raw` is what the booster predicts: values (regression), the probability of class 1 (binary) or one
    probability per class in label-code order (multiclass). Returns float64 values, or (n, n_classes)
    probabilities whose rows sum to 1. The fit code scores its intermediate reports with this, and the
    fitted model predicts with it.
    """
    values: np.ndarray = np.asarray(raw, dtype=np.float64)
    if problem_type == "regression":
        return values
    return expand_proba(values, range(n_classes), n_classes)


class TabularModel(FittedModel):
    """A family's fitted model: raw frame in, probabilities in `classes_` order or values out.

    Built from fitted parts: `params` are the family's (unprefixed, resolved) parameters, `problem_type`
    and `classes` (sorted labels, None for regression) those of the experiment, `input_schema` the train
    frame's columns. Subclasses take their preprocessing (stored as `prep_`) and fitted estimator too, and
    implement `_predict` for already-checked frames.

    Instances keep these attribute names (`params`, `problem_type`, `classes_`, `input_schema_`, `prep_`
    and each subclass's own): pickles store them, and models pickled by earlier versions still load. The
    native bundle format (`workbench.model._native`) reads and compares them too.
    """

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
    ) -> None:
        self.params = dict(params)
        self.problem_type = problem_type
        self.classes_ = tuple(classes) if classes is not None else None
        self.input_schema_ = input_schema

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

        return self.calibrated_path(predict)

    @property
    def n_classes_(self) -> int:
        return len(self.classes_) if self.classes_ is not None else 0

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type == "regression":
            raise TypeError("a regression model has no class probabilities; use predict_values")
        return self.calibrated(self._predict(X))

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type != "regression":
            raise TypeError("a classifier predicts probabilities; use predict_proba or predict")
        return np.asarray(self._predict(X), dtype=np.float64)


class SklearnModel(TabularModel):
    """Shared predict for a fitted scikit-learn `estimator` (stored as `estimator_`): for classification
    its classes are label codes (positions in `classes`), placed into `classes_` order."""

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        estimator: Any,
    ) -> None:
        super().__init__(params=params, problem_type=problem_type, classes=classes, input_schema=input_schema)
        self.estimator_ = estimator

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self._matrix(X))

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        if self.problem_type == "regression":
            return np.asarray(self.estimator_.predict(matrix), dtype=np.float64)
        codes = [int(c) for c in self.estimator_.classes_]
        return expand_proba(self.estimator_.predict_proba(matrix), codes, self.n_classes_)
