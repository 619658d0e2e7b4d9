"""A scikit-learn linear model's fitted model (logistic regression or ridge) on standardized, one-hot input."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.tabular._base import SklearnModel
from workbench.model.tabular._prep import DensePrep

if TYPE_CHECKING:
    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["LinearModel"]


class LinearModel(SklearnModel):
    """LogisticRegression (C = 1 / strength) or Ridge (alpha = strength) on standardized, one-hot input."""

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return self.prep_.transform(X)

    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> LinearModel:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge

        self._begin(data)
        self.prep_ = DensePrep().fit(data.X_train)
        strength = float(self.params["strength"])
        estimator: Any
        if data.problem_type == "regression":
            estimator = Ridge(alpha=strength, random_state=seed)
        else:
            estimator = LogisticRegression(C=1.0 / strength, max_iter=2000, random_state=seed)
        with warnings.catch_warnings():
            # A weakly regularized fit on separable classes may stop at max_iter; the model is still usable
            # and its valid score tells the search how good it is.
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(self._matrix(data.X_train), self._targets(data))
        self.estimator_ = estimator
        return self
