"""LightGBM's fitted model: native categorical splits on ordinal codes (fit: `workbench.search.families`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model._lightgbm_fast import LightGBMRows
from workbench.model.tabular._base import TabularModel, expand_proba, label_codes, thread_count
from workbench.model.tabular._prep import OrdinalPrep

if TYPE_CHECKING:
    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["LightGBMModel"]


class LightGBMModel(TabularModel):
    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> LightGBMModel:
        import lightgbm as lgb

        from workbench.search.families._lightgbm import _OBJECTIVES, _stopping_metric, lightgbm_device_params
        from workbench.search.families._reporting import ValidReporter
        from workbench.search.families._spaces import EARLY_STOPPING_ROUNDS, MAX_ROUNDS

        self._begin(data)
        self.prep_ = OrdinalPrep().fit(data.X_train)
        X_train, X_valid = self.prep_.transform(data.X_train), self.prep_.transform(data.X_valid)
        classification = data.problem_type != "regression"
        y_train = label_codes(data.y_train, data.classes or ()) if classification else data.y_train.astype(float)
        y_valid = label_codes(data.y_valid, data.classes or ()) if classification else data.y_valid.astype(float)
        p = self.params
        booster_params: dict[str, Any] = {
            "objective": _OBJECTIVES[data.problem_type],
            "metric": _stopping_metric(data),
            "learning_rate": p["learning_rate"],
            "num_leaves": p["num_leaves"],
            "min_child_samples": p["min_child_samples"],
            "feature_fraction": p["feature_fraction"],
            "bagging_fraction": p["bagging_fraction"],
            "bagging_freq": 1,
            "lambda_l2": p["lambda_l2"],
            "min_data_per_group": 5,  # small tables: let rare categories form their own split groups
            "cat_smooth": 5.0,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
            **lightgbm_device_params(resources, thread_count(resources, data.X_train)),
        }
        if data.problem_type == "multiclass":
            booster_params["num_class"] = self.n_classes_
        train_set = lgb.Dataset(
            X_train, y_train, categorical_feature=self.prep_.categorical_indices_, free_raw_data=False
        )
        valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)
        monitor = ValidReporter(reporter, data)

        def report(env: lgb.callback.CallbackEnv) -> None:
            step = env.iteration + 1
            if monitor.due(step):
                assert isinstance(env.model, lgb.Booster)
                monitor.report(step, self._to_prediction(env.model.predict(X_valid, num_iteration=step)))

        booster = lgb.train(
            booster_params,
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid_set],
            valid_names=["valid"],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False), report],
        )
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
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
        rows = self.__dict__.get("_rows")
        if rows is None:
            rows = self._rows = LightGBMRows(self.booster_, self.best_iteration_)
        return self._to_prediction(rows.predict(matrix))
