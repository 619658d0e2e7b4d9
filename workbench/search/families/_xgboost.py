"""XGBoost: histogram trees on ordinal codes, early stopping and reports on the valid rows, CUDA when given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.model.tabular._base import booster_prediction
from workbench.model.tabular._prep import OrdinalPrep
from workbench.model.tabular._xgboost import XGBoostModel
from workbench.search._protocol import Reporter, WorkerResources
from workbench.search.families._base import encoded_targets, model_fields, own_params, thread_count
from workbench.search.families._reporting import ValidReporter
from workbench.search.families._spaces import DEFAULTS, EARLY_STOPPING_ROUNDS, MAX_ROUNDS
from workbench.store import TrialData

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
    """Fit XGBoost on data's train rows for up to MAX_ROUNDS rounds, early-stopped on the valid rows,
    reporting every REPORT_EVERY rounds; the model keeps the best rounds and predicts on CPU."""
    import xgboost as xgb

    p = own_params("xgboost", params, DEFAULTS["xgboost"])
    fields = model_fields(p, data)
    n_classes = len(data.classes or ())
    prep = OrdinalPrep().fit(data.X_train)
    y_train, y_valid = encoded_targets(data, data.y_train), encoded_targets(data, data.y_valid)
    d_train = xgb.DMatrix(prep.transform(data.X_train), label=y_train, missing=np.nan)
    d_valid = xgb.DMatrix(prep.transform(data.X_valid), label=y_valid, missing=np.nan)
    booster_params: dict[str, Any] = {
        **_objective(data),
        "learning_rate": p["learning_rate"],
        "max_depth": p["max_depth"],
        "min_child_weight": p["min_child_weight"],
        "subsample": p["subsample"],
        "colsample_bytree": p["colsample_bytree"],
        "reg_lambda": p["reg_lambda"],
        "seed": seed,
        "verbosity": 0,
        **xgboost_device_params(resources, thread_count(resources, data.X_train)),
    }

    class Report(xgb.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.monitor = ValidReporter(reporter, data)

        def after_iteration(self, booster: xgb.Booster, epoch: int, evals_log: Any) -> bool:
            step = epoch + 1
            if self.monitor.due(step):
                raw = booster.predict(d_valid, iteration_range=(0, step))
                self.monitor.report(step, booster_prediction(raw, data.problem_type, n_classes))
            return False

    booster = xgb.train(
        booster_params,
        d_train,
        num_boost_round=MAX_ROUNDS,
        evals=[(d_valid, "valid")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
        callbacks=[Report()],
    )
    best_iteration = int(booster.best_iteration) + 1
    booster = booster[:best_iteration]
    booster.set_param({"device": "cpu"})  # served on CPU whatever it trained on
    return XGBoostModel(**fields, prep=prep, booster=booster, best_iteration=best_iteration)
