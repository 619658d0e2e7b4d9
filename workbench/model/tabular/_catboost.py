"""CatBoost's fitted model: native categorical features (fit: `workbench.search.families`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.tabular._base import TabularModel, expand_proba, label_codes, thread_count
from workbench.model.tabular._prep import OrdinalPrep

if TYPE_CHECKING:
    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["CatBoostModel"]


class CatBoostModel(TabularModel):
    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        return self._frame_from(self.prep_.transform(X))

    def _frame_from(self, values: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(values.shape[1])])
        for i in self.prep_.categorical_indices_:
            frame[f"f{i}"] = np.nan_to_num(values[:, i], nan=-1.0).astype(np.int64)
        return frame

    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> CatBoostModel:
        from catboost import CatBoostClassifier, CatBoostRegressor, Pool

        from workbench.search.families._catboost import _loss, _Report, catboost_device_params, report_metric
        from workbench.search.families._spaces import EARLY_STOPPING_ROUNDS, MAX_ROUNDS

        self._begin(data)
        self.prep_ = OrdinalPrep().fit(data.X_train)
        classification = data.problem_type != "regression"
        y_train = label_codes(data.y_train, data.classes or ()) if classification else data.y_train.astype(float)
        y_valid = label_codes(data.y_valid, data.classes or ()) if classification else data.y_valid.astype(float)
        cats = self.prep_.categorical_indices_
        train_pool = Pool(self._frame(data.X_train), y_train, cat_features=cats)
        valid_pool = Pool(self._frame(data.X_valid), y_valid, cat_features=cats)
        metric_name = report_metric(data.problem_type, data.metric)
        p = self.params
        kwargs: dict[str, Any] = {
            "iterations": MAX_ROUNDS,
            "learning_rate": p["learning_rate"],
            "depth": p["depth"],
            "l2_leaf_reg": p["l2_leaf_reg"],
            "random_strength": p["random_strength"],
            "max_ctr_complexity": 1,  # no combinations of categoricals: half the time, about the same scores
            "loss_function": _loss(data),
            "custom_metric": [metric_name],
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "use_best_model": True,
            "random_seed": seed,
            "verbose": False,
            "allow_writing_files": False,
            **catboost_device_params(resources, thread_count(resources, data.X_train)),
        }
        model = CatBoostClassifier(**kwargs) if classification else CatBoostRegressor(**kwargs)
        callback = _Report(reporter, metric_name)
        model.fit(train_pool, eval_set=valid_pool, callbacks=[callback])
        if callback.pruned is not None:
            raise callback.pruned
        self.best_iteration_ = int(model.get_best_iteration() or 0) + 1
        self.fitted_codes_ = [int(c) for c in model.classes_] if classification else []
        self.model_ = model
        return self

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self.prep_.transform(X))

    def _predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        frame = self._frame_from(matrix)
        if self.problem_type == "regression":
            return np.asarray(self.model_.predict(frame), dtype=np.float64)
        return expand_proba(self.model_.predict_proba(frame), self.fitted_codes_, self.n_classes_)
