"""XGBoost's fitted model: histogram trees on ordinal codes, served on CPU (fit: the search layer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._schema import InputSchema
from workbench.model.tabular._base import TabularModel, booster_prediction
from workbench.model.tabular._prep import OrdinalPrep

__all__ = ["XGBoostModel"]


class XGBoostModel(TabularModel):
    """A trained `xgboost.Booster` on `prep`'s ordinal codes, already cut to its `best_iteration` rounds and
    set to predict on CPU; outputs become predictions with `booster_prediction`."""

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        prep: OrdinalPrep,
        booster: Any,
        best_iteration: int,
    ) -> None:
        super().__init__(params=params, problem_type=problem_type, classes=classes, input_schema=input_schema)
        self.prep_ = prep
        self.best_iteration_ = int(best_iteration)
        self.booster_ = booster

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self.prep_.transform(X))

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        # In-place prediction skips building a DMatrix: tens of times faster on a single row.
        raw = self.booster_.inplace_predict(matrix, missing=np.nan)
        return booster_prediction(raw, self.problem_type, self.n_classes_)
