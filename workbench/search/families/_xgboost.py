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
from workbench.search.families._spaces import DEFAULTS, EARLY_STOPPING_ROUNDS, max_rounds
from workbench.store import TrialData

__all__ = ["XGBoostModel", "fit_xgboost", "refit_xgboost", "xgboost_device_params"]


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


def _booster_params(p: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int) -> dict[str, Any]:
    return {
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


def _for_serving(booster: Any, rounds: int) -> Any:
    booster = booster[:rounds]
    booster.set_param({"device": "cpu"})  # served on CPU whatever it trained on
    return booster


def fit_xgboost(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> XGBoostModel:
    """Fit XGBoost on data's train rows for up to `max_rounds` rounds (of its learning rate), early-stopped
    on the valid rows, reporting every REPORT_EVERY rounds and stopped at the deadline of `resources`; the
    model keeps the best rounds and predicts on CPU."""
    import xgboost as xgb

    p = own_params("xgboost", params, DEFAULTS["xgboost"])
    fields = model_fields(p, data)
    n_classes = len(data.classes or ())
    prep = OrdinalPrep().fit(data.X_train)
    y_train, y_valid = encoded_targets(data, data.y_train), encoded_targets(data, data.y_valid)
    d_train = xgb.DMatrix(prep.transform(data.X_train), label=y_train, missing=np.nan)
    d_valid = xgb.DMatrix(prep.transform(data.X_valid), label=y_valid, missing=np.nan)

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

    class StopAtDeadline(xgb.callback.TrainingCallback):
        def after_iteration(self, booster: xgb.Booster, epoch: int, evals_log: Any) -> bool:
            return resources.out_of_time()

    # Early stopping listed before the deadline check: XGBoost stops calling callbacks at the first that
    # asks to stop, and early stopping must have recorded the round that stopped as a candidate best.
    booster = xgb.train(
        _booster_params(p, data, resources, seed),
        d_train,
        num_boost_round=max_rounds(p["learning_rate"]),
        evals=[(d_valid, "valid")],
        verbose_eval=False,
        callbacks=[Report(), xgb.callback.EarlyStopping(rounds=EARLY_STOPPING_ROUNDS), StopAtDeadline()],
    )
    best_iteration = int(booster.best_iteration) + 1
    return XGBoostModel(
        **fields, prep=prep, booster=_for_serving(booster, best_iteration), best_iteration=best_iteration
    )


def refit_xgboost(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int, rounds: int
) -> XGBoostModel:
    """XGBoost with `params` trained for exactly `rounds` rounds on data's train rows (no valid rows)."""
    import xgboost as xgb

    p = own_params("xgboost", params, DEFAULTS["xgboost"])
    prep = OrdinalPrep().fit(data.X_train)
    d_train = xgb.DMatrix(prep.transform(data.X_train), label=encoded_targets(data, data.y_train), missing=np.nan)
    rounds = max(1, int(rounds))
    booster = xgb.train(_booster_params(p, data, resources, seed), d_train, num_boost_round=rounds)
    return XGBoostModel(
        **model_fields(p, data), prep=prep, booster=_for_serving(booster, rounds), best_iteration=rounds
    )
