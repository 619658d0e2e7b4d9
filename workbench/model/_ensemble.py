"""An ensemble is a model like any other: a weighted average of members, or a meta-model stacked on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._base import FittedModel
from workbench.model._columns import Columns, FastPredict
from workbench.model._schema import InputSchema

__all__ = ["EnsembleModel", "stack_features"]


def stack_features(predictions: Sequence[np.ndarray], problem_type: str) -> np.ndarray:
    """The meta-model's inputs: each member's prediction side by side (binary: P(positive) only)."""
    columns = []
    for p in predictions:
        p = np.asarray(p, dtype=float)
        if problem_type == "regression":
            columns.append(p.reshape(-1, 1))
        elif problem_type == "binary":
            columns.append(p[:, 1:2])
        else:
            columns.append(p)
    return np.hstack(columns)


class EnsembleModel(FittedModel):
    """Members' predictions combined by `weights` (greedy selection) or by a fitted `meta` model (stacking).

    members: fitted member models, each predicting on the same raw feature frame.
    weights: one non-negative weight per member, summing to 1 (ignored when `meta` is given).
    meta: a fitted scikit-learn model taking `stack_features(member predictions)`.
    """

    def __init__(
        self,
        members: Sequence[FittedModel],
        member_names: Sequence[str],
        problem_type: str,
        classes: Sequence[Any] | None,
        weights: Sequence[float] | None = None,
        meta: Any = None,
    ) -> None:
        self.members_ = list(members)
        self.member_names_ = list(member_names)
        self.problem_type = problem_type
        self.classes_ = list(classes) if classes is not None else None
        self.weights_ = np.asarray(weights if weights is not None else np.full(len(members), 1 / len(members)))
        self.meta_ = meta
        self.input_schema_ = _union_schema([m.input_schema_ for m in members])

    def _member_predictions(self, X: pd.DataFrame) -> list[np.ndarray]:
        return [m.prediction(X) for m in self.members_]

    def combine(self, predictions: Sequence[np.ndarray]) -> np.ndarray:
        """Combine member predictions (as stored for candidates) into the ensemble's prediction."""
        if self.meta_ is not None:
            features = stack_features(predictions, self.problem_type)
            if self.problem_type == "regression":
                return np.asarray(self.meta_.predict(features), dtype=float)
            proba = np.asarray(self.meta_.predict_proba(features), dtype=float)
            return _align_columns(proba, list(self.meta_.classes_), len(self.classes_ or []))
        stacked = np.stack([np.asarray(p, dtype=float) for p in predictions])
        weights = self.weights_.reshape((-1,) + (1,) * (stacked.ndim - 1))
        combined: np.ndarray = (stacked * weights).sum(axis=0)
        return combined

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.combine(self._member_predictions(X))

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return self.combine(self._member_predictions(X))

    def fast_path(self) -> FastPredict | None:
        paths = [member.fast_path() for member in self.members_]
        if any(path is None for path in paths):
            return None
        runs = [path for path in paths if path is not None]

        def combined(columns: Columns, n: int) -> np.ndarray:
            return self.combine([run(columns, n) for run in runs])

        return combined


def _align_columns(proba: np.ndarray, fitted_codes: list[Any], n_classes: int) -> np.ndarray:
    """Meta-models are fitted on class codes; put their columns at those codes."""
    out = np.zeros((proba.shape[0], n_classes))
    for column, code in enumerate(fitted_codes):
        out[:, int(code)] = proba[:, column]
    return out


def _union_schema(schemas: Sequence[InputSchema]) -> InputSchema:
    seen: dict[str, Any] = {}
    for schema in schemas:
        for column in schema.columns:
            seen.setdefault(column.name, column)
    return InputSchema(tuple(seen.values()))
