"""scikit-learn families: a forest (random forest or extra trees) and a linear model.

Neither trains in rounds, so neither reports intermediate values: their trials are short and end with
their final score.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from workbench.model.tabular._forest import ForestModel
from workbench.model.tabular._linear import LinearModel
from workbench.model.tabular._prep import DensePrep, OrdinalPrep
from workbench.search._protocol import Reporter, WorkerResources
from workbench.search.families._base import encoded_targets, model_fields, own_params, thread_count
from workbench.search.families._spaces import DEFAULTS
from workbench.store import TrialData

# Caps each tree, so a forest stays a few MB on tens of thousands of rows instead of hundreds.
MAX_LEAF_NODES = 1024

__all__ = ["MAX_LEAF_NODES", "ForestModel", "LinearModel", "fit_forest", "fit_linear"]


def fit_forest(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> ForestModel:
    """Fit a random forest or extra trees (`forest.kind`) on ordinal codes of data's train rows; missing
    values go to sklearn's native NaN splits. The model predicts on one thread."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    p = own_params("forest", params, DEFAULTS["forest"])
    fields = model_fields(p, data)
    prep = OrdinalPrep().fit(data.X_train)
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
    estimator.fit(prep.transform(data.X_train), encoded_targets(data, data.y_train))
    estimator.set_params(n_jobs=1)  # serving predicts a few rows at a time: threads cost more than they give
    return ForestModel(**fields, prep=prep, estimator=estimator)


def fit_linear(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> LinearModel:
    """Fit LogisticRegression (C = 1 / strength) or Ridge (alpha = strength) on standardized, one-hot input."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    p = own_params("linear", params, DEFAULTS["linear"])
    fields = model_fields(p, data)
    prep = DensePrep().fit(data.X_train)
    strength = float(p["strength"])
    estimator: Any
    if data.problem_type == "regression":
        estimator = Ridge(alpha=strength, random_state=seed)
    else:
        estimator = LogisticRegression(C=1.0 / strength, max_iter=2000, random_state=seed)
    with warnings.catch_warnings():
        # A weakly regularized fit on separable classes may stop at max_iter; the model is still usable
        # and its valid score tells the search how good it is.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(prep.transform(data.X_train), encoded_targets(data, data.y_train))
    return LinearModel(**fields, prep=prep, estimator=estimator)
