"""A scikit-learn forest's fitted model (random forest or extra trees) on ordinal codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.model.tabular._base import SklearnModel, thread_count
from workbench.model.tabular._prep import OrdinalPrep

if TYPE_CHECKING:
    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["ForestModel"]


class ForestModel(SklearnModel):
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

        from workbench.search.families._sklearn import MAX_LEAF_NODES

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
