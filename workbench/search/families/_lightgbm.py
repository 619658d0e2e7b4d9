"""LightGBM: native categorical splits on ordinal codes, early stopping and reports on the valid rows.

LightGBM always trains on CPU here (its CUDA build is not the default wheel).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.model.tabular._lightgbm import LightGBMModel
from workbench.search._protocol import Reporter, TrialData, WorkerResources
from workbench.search.families._base import own_params
from workbench.search.families._spaces import DEFAULTS

__all__ = ["LightGBMModel", "fit_lightgbm", "lightgbm_device_params"]

_OBJECTIVES = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}


def lightgbm_device_params(resources: WorkerResources, threads: int | None = None) -> dict[str, Any]:
    """LightGBM stays on CPU whatever the worker has; `threads` defaults to the worker's CPUs."""
    return {"device_type": "cpu", "num_threads": threads or max(1, resources.cpus)}


def _stopping_metric(data: TrialData) -> str:
    if data.problem_type == "binary":
        return "binary_logloss"
    if data.problem_type == "multiclass":
        return "multi_logloss"
    return "l1" if data.metric == "mae" else "l2"


def fit_lightgbm(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> LightGBMModel:
    return LightGBMModel(own_params("lightgbm", params, DEFAULTS["lightgbm"])).fit(data, resources, reporter, seed)
