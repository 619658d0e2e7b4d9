"""XGBoost: histogram trees on ordinal codes, early stopping and reports on the valid rows, CUDA when given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.model.tabular._xgboost import XGBoostModel
from workbench.search._protocol import Reporter, TrialData, WorkerResources
from workbench.search.families._base import own_params
from workbench.search.families._spaces import DEFAULTS

__all__ = ["XGBoostModel", "fit_xgboost", "xgboost_device_params"]


def xgboost_device_params(resources: WorkerResources, threads: int | None = None) -> dict[str, Any]:
    """CUDA on a GPU worker: its own GPU is device 0 of those visible to it (dask-cuda lists it first).
    `threads` defaults to the worker's CPUs."""
    device = "cuda" if resources.gpus > 0 else "cpu"
    return {"device": device, "tree_method": "hist", "nthread": threads or max(1, resources.cpus)}


def _objective(data: TrialData) -> dict[str, Any]:
    if data.problem_type == "binary":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    if data.problem_type == "multiclass":
        return {"objective": "multi:softprob", "eval_metric": "mlogloss", "num_class": len(data.classes or ())}
    return {"objective": "reg:squarederror", "eval_metric": "mae" if data.metric == "mae" else "rmse"}


def fit_xgboost(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> XGBoostModel:
    return XGBoostModel(own_params("xgboost", params, DEFAULTS["xgboost"])).fit(data, resources, reporter, seed)
