"""CatBoost's fitted model: native categorical features (fit: the search layer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._schema import InputSchema
from workbench.model.tabular._base import TabularModel, expand_proba
from workbench.model.tabular._prep import OrdinalPrep

__all__ = ["CatBoostModel", "catboost_frame"]


def catboost_frame(values: np.ndarray, categorical_indices: Sequence[int]) -> pd.DataFrame:
    """The frame CatBoost fits and predicts on, from an OrdinalPrep matrix: columns "f0", "f1", ...;
    the categorical columns (`categorical_indices`, OrdinalPrep's `categorical_indices_`) as int64 codes,
    unknown and missing categories as -1."""
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(values.shape[1])])
    for i in categorical_indices:
        frame[f"f{i}"] = np.nan_to_num(values[:, i], nan=-1.0).astype(np.int64)
    return frame


class CatBoostModel(TabularModel):
    """A fitted CatBoostClassifier or CatBoostRegressor (`model`) on `catboost_frame`s of `prep`'s codes.

    `best_iteration` is the number of trees kept; `fitted_codes` are the label codes of the classes the
    classifier saw in training, in its column order (empty for regression).
    """

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        prep: OrdinalPrep,
        model: Any,
        best_iteration: int,
        fitted_codes: Sequence[int],
    ) -> None:
        super().__init__(params=params, problem_type=problem_type, classes=classes, input_schema=input_schema)
        self.prep_ = prep
        self.best_iteration_ = int(best_iteration)
        self.fitted_codes_ = [int(c) for c in fitted_codes]
        self.model_ = model

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self.prep_.transform(X))

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        frame = catboost_frame(matrix, self.prep_.categorical_indices_)
        if self.problem_type == "regression":
            return np.asarray(self.model_.predict(frame), dtype=np.float64)
        return expand_proba(self.model_.predict_proba(frame), self.fitted_codes_, self.n_classes_)
