"""scikit-learn families: a forest (random forest or extra trees) and a linear model.

Neither trains in rounds, so neither reports intermediate values: their trials are short and end with
their final score.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.search._protocol import Reporter, TrialData, WorkerResources
from workbench.search.families._base import TabularModel, expand_proba, label_codes, own_params, thread_count
from workbench.search.families._preprocess import DensePrep, OrdinalPrep
from workbench.search.families._spaces import DEFAULTS

# Caps each tree, so a forest stays a few MB on tens of thousands of rows instead of hundreds.
MAX_LEAF_NODES = 1024

__all__ = ["ForestModel", "LinearModel", "fit_forest", "fit_linear"]


class _SklearnModel(TabularModel):
    """Shared predict: the estimator's classes are label codes, placed into `classes_` order."""

    estimator_: Any

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _targets(self, data: TrialData) -> np.ndarray:
        if data.problem_type == "regression":
            return data.y_train.astype(float)
        return label_codes(data.y_train, data.classes or ())

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        matrix = self._matrix(X)
        if self.problem_type == "regression":
            return np.asarray(self.estimator_.predict(matrix), dtype=np.float64)
        codes = [int(c) for c in self.estimator_.classes_]
        return expand_proba(self.estimator_.predict_proba(matrix), codes, self.n_classes_)


class ForestModel(_SklearnModel):
    """Random forest or extra trees on ordinal codes; missing values go to sklearn's native NaN splits."""

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return self.prep_.transform(X)

    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> ForestModel:
        from sklearn.ensemble import (
            ExtraTreesClassifier,
            ExtraTreesRegressor,
            RandomForestClassifier,
            RandomForestRegressor,
        )

        self._begin(data)
        self.prep_ = OrdinalPrep().fit(data.X_train)
        p = self.params
        classification = data.problem_type != "regression"
        kinds = {
            ("random_forest", True): RandomForestClassifier,
            ("random_forest", False): RandomForestRegressor,
            ("extra_trees", True): ExtraTreesClassifier,
            ("extra_trees", False): ExtraTreesRegressor,
        }
        try:
            estimator_type = kinds[(p["kind"], classification)]
        except KeyError:
            raise ValueError(f"forest.kind must be random_forest or extra_trees, not {p['kind']!r}") from None
        estimator = estimator_type(
            n_estimators=int(p["n_estimators"]),
            max_features=float(p["max_features"]),
            min_samples_leaf=int(p["min_samples_leaf"]),
            max_leaf_nodes=MAX_LEAF_NODES,
            n_jobs=thread_count(resources, data.X_train),
            random_state=seed,
        )
        estimator.fit(self._matrix(data.X_train), self._targets(data))
        estimator.set_params(n_jobs=1)  # serving predicts a few rows at a time: threads cost more than they give
        self.estimator_ = estimator
        return self


class LinearModel(_SklearnModel):
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


def fit_forest(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> ForestModel:
    return ForestModel(own_params("forest", params, DEFAULTS["forest"])).fit(data, resources, reporter, seed)


def fit_linear(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> LinearModel:
    return LinearModel(own_params("linear", params, DEFAULTS["linear"])).fit(data, resources, reporter, seed)
