"""XGBoost's fitted model: histogram trees on ordinal codes, served on CPU (fit: `workbench.search.families`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.tabular._base import TabularModel, expand_proba, label_codes, thread_count
from workbench.model.tabular._prep import OrdinalPrep

if TYPE_CHECKING:
    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["XGBoostModel"]


class XGBoostModel(TabularModel):
    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> XGBoostModel:
        import xgboost as xgb

        from workbench.search.families._reporting import ValidReporter
        from workbench.search.families._spaces import EARLY_STOPPING_ROUNDS, MAX_ROUNDS
        from workbench.search.families._xgboost import _objective, xgboost_device_params

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
        return self._predict_matrix(self.prep_.transform(X))

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        # In-place prediction skips building a DMatrix: tens of times faster on a single row.
        return self._to_prediction(self.booster_.inplace_predict(matrix, missing=np.nan))
