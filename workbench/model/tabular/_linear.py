"""A scikit-learn linear model's fitted model (logistic regression or ridge) on standardized, one-hot input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._schema import InputSchema
from workbench.model.tabular._base import SklearnModel
from workbench.model.tabular._prep import DensePrep

__all__ = ["LinearModel"]


class LinearModel(SklearnModel):
    """A fitted LogisticRegression (C = 1 / strength) or Ridge (alpha = strength) `estimator` on `prep`'s
    standardized, one-hot matrix. For classification the estimator was fitted on label codes."""

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        prep: DensePrep,
        estimator: Any,
    ) -> None:
        super().__init__(
            params=params, problem_type=problem_type, classes=classes, input_schema=input_schema, estimator=estimator
        )
        self.prep_ = prep

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return self.prep_.transform(X)
