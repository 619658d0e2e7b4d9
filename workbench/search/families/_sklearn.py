"""scikit-learn families: a forest (random forest or extra trees) and a linear model.

Neither trains in rounds, so neither reports intermediate values: their trials are short and end with
their final score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.model.tabular._forest import ForestModel
from workbench.model.tabular._linear import LinearModel
from workbench.search._protocol import Reporter, TrialData, WorkerResources
from workbench.search.families._base import own_params
from workbench.search.families._spaces import DEFAULTS

# Caps each tree, so a forest stays a few MB on tens of thousands of rows instead of hundreds.
MAX_LEAF_NODES = 1024

__all__ = ["ForestModel", "LinearModel", "fit_forest", "fit_linear"]


def fit_forest(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> ForestModel:
    return ForestModel(own_params("forest", params, DEFAULTS["forest"])).fit(data, resources, reporter, seed)


def fit_linear(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> LinearModel:
    return LinearModel(own_params("linear", params, DEFAULTS["linear"])).fit(data, resources, reporter, seed)
