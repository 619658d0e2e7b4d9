"""scikit-learn families: a forest (random forest or extra trees) and a linear model.

Neither reports intermediate values: their trials are short and end with their final score. With a
deadline, the forest grows its trees in chunks and stops adding them when the deadline has passed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from workbench.model.tabular._forest import ForestModel
from workbench.model.tabular._linear import LinearModel
from workbench.model.tabular._prep import DensePrep, OrdinalPrep
from workbench.search._protocol import Reporter, WorkerResources
from workbench.search.families._base import encoded_targets, model_fields, own_params, thread_count
from workbench.search.families._reporting import LocalReporter
from workbench.search.families._spaces import DEFAULTS
from workbench.store import TrialData

# Caps each tree, so a forest stays a few MB on tens of thousands of rows instead of hundreds.
MAX_LEAF_NODES = 1024
# With a deadline, a forest grows this many trees at a time (sklearn's warm start: the same trees as
# growing them all at once).
TREES_PER_CHUNK = 10

__all__ = [
    "MAX_LEAF_NODES",
    "TREES_PER_CHUNK",
    "ForestModel",
    "LinearModel",
    "fit_forest",
    "fit_linear",
    "refit_forest",
    "refit_linear",
]


def fit_forest(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> ForestModel:
    """Fit a random forest or extra trees (`forest.kind`) on ordinal codes of data's train rows; missing
    values go to sklearn's native NaN splits. At the deadline of `resources` it keeps the trees grown so
    far. The model predicts on one thread."""
    return _forest(params, data, resources, seed)


def refit_forest(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int, size: int
) -> ForestModel:
    """The forest with `params` (all its trees) on data's train rows; `size` is not used."""
    return _forest(params, data, replace(resources, deadline=None), seed)


def refit_linear(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int, size: int
) -> LinearModel:
    """The linear model with `params` on data's train rows; `size` is not used."""
    return fit_linear(params, data, resources, LocalReporter(), seed)


def _forest(params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int) -> ForestModel:
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
    n_estimators = int(p["n_estimators"])
    estimator = estimator_type(
        n_estimators=n_estimators,
        max_features=float(p["max_features"]),
        min_samples_leaf=int(p["min_samples_leaf"]),
        max_leaf_nodes=MAX_LEAF_NODES,
        n_jobs=thread_count(resources, data.X_train),
        random_state=seed,
    )
    X, y = prep.transform(data.X_train), encoded_targets(data, data.y_train)
    if resources.deadline is None:
        estimator.fit(X, y)
    else:
        # warm_start keeps the trees grown and adds the new ones with the same random stream: the forest is
        # the one a single fit grows, cut where the deadline fell.
        estimator.set_params(warm_start=True)
        for grown in [*range(TREES_PER_CHUNK, n_estimators, TREES_PER_CHUNK), n_estimators]:
            estimator.set_params(n_estimators=grown)
            estimator.fit(X, y)
            if resources.out_of_time():
                break
        estimator.set_params(warm_start=False, n_estimators=len(estimator.estimators_))
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
