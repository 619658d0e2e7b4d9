"""XGBoost: histogram trees on ordinal codes, early stopping and reports on the valid rows, CUDA when given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.search._protocol import Reporter, TrialData, WorkerResources
from workbench.search.families._base import TabularModel, expand_proba, label_codes, own_params, thread_count
from workbench.search.families._preprocess import OrdinalPrep
from workbench.search.families._reporting import ValidReporter
from workbench.search.families._spaces import DEFAULTS, EARLY_STOPPING_ROUNDS, MAX_ROUNDS

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


class XGBoostModel(TabularModel):
    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> XGBoostModel:
        import xgboost as xgb

        self._begin(data)
        self.prep_ = OrdinalPrep().fit(data.X_train)
        classification = data.problem_type != "regression"
        y_train = label_codes(data.y_train, data.classes or ()) if classification else data.y_train.astype(float)
        y_valid = label_codes(data.y_valid, data.classes or ()) if classification else data.y_valid.astype(float)
        d_train = xgb.DMatrix(self.prep_.transform(data.X_train), label=y_train, missing=np.nan)
        d_valid = xgb.DMatrix(self.prep_.transform(data.X_valid), label=y_valid, missing=np.nan)
        p = self.params
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
        model = self

        class Report(xgb.callback.TrainingCallback):
            def __init__(self) -> None:
                super().__init__()
                self.monitor = ValidReporter(reporter, data)

            def after_iteration(self, booster: xgb.Booster, epoch: int, evals_log: Any) -> bool:
                step = epoch + 1
                if self.monitor.due(step):
                    raw = booster.predict(d_valid, iteration_range=(0, step))
                    self.monitor.report(step, model._to_prediction(raw))
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
        self.best_iteration_ = int(booster.best_iteration) + 1
        booster = booster[: self.best_iteration_]
        booster.set_param({"device": "cpu"})  # served on CPU whatever it trained on
        self.booster_ = booster
        return self

    def _to_prediction(self, raw: Any) -> np.ndarray:
        values: np.ndarray = np.asarray(raw, dtype=np.float64)
        if self.problem_type == "regression":
            return values
        return expand_proba(values, range(self.n_classes_), self.n_classes_)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        # In-place prediction skips building a DMatrix: tens of times faster on a single row.
        return self._to_prediction(self.booster_.inplace_predict(self.prep_.transform(X), missing=np.nan))


def fit_xgboost(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> XGBoostModel:
    return XGBoostModel(own_params("xgboost", params, DEFAULTS["xgboost"])).fit(data, resources, reporter, seed)
