"""LightGBM: native categorical splits on ordinal codes, early stopping and reports on the valid rows.

LightGBM always trains on CPU here (its CUDA build is not the default wheel).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.model.tabular._base import booster_prediction
from workbench.model.tabular._lightgbm import LightGBMModel
from workbench.model.tabular._prep import OrdinalPrep
from workbench.search._protocol import Reporter, WorkerResources
from workbench.search.families._base import encoded_targets, model_fields, own_params, thread_count
from workbench.search.families._reporting import ValidReporter
from workbench.search.families._spaces import DEFAULTS, EARLY_STOPPING_ROUNDS, max_rounds
from workbench.store import TrialData

__all__ = ["LightGBMModel", "fit_lightgbm", "lightgbm_device_params", "refit_lightgbm"]

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


def _objective(data: TrialData) -> str:
    # Mean absolute error is minimised by the median: an L1 objective fits it (flights: 1.5% lower valid
    # MAE than squared error), as CatBoost's MAE loss and the MLP's L1 loss do.
    if data.problem_type == "regression" and data.metric == "mae":
        return "regression_l1"
    return _OBJECTIVES[data.problem_type]


def _booster_params(p: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "objective": _objective(data),
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
        params["num_class"] = len(data.classes or ())
    return params


class _StopAtDeadline:
    """LightGBM callback: once `resources`' deadline has passed, stops training with the best iteration so
    far on the valid rows (as early stopping would have kept it). Runs after `lgb.early_stopping` (order 30)."""

    order = 40

    def __init__(self, resources: WorkerResources) -> None:
        self.resources = resources
        self.best_iteration = 0
        self.best_value: float | None = None
        self.best_results: list[Any] = []

    def __call__(self, env: Any) -> None:
        import lightgbm as lgb

        results = [r for r in env.evaluation_result_list if r[0] == "valid"]
        if results:
            value, higher = float(results[0][2]), bool(results[0][3])
            if self.best_value is None or (value > self.best_value if higher else value < self.best_value):
                self.best_iteration, self.best_value = env.iteration, value
                self.best_results = list(env.evaluation_result_list)
        if self.resources.out_of_time():
            raise lgb.callback.EarlyStopException(self.best_iteration, self.best_results)


def fit_lightgbm(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> LightGBMModel:
    """Fit LightGBM on data's train rows for up to `max_rounds` rounds (of its learning rate), early-stopped
    on the valid rows' log loss (classification) or L1/L2 (regression), reporting every REPORT_EVERY rounds;
    stopped at the deadline of `resources` too, keeping the best round so far."""
    import lightgbm as lgb

    p = own_params("lightgbm", params, DEFAULTS["lightgbm"])
    fields = model_fields(p, data)
    n_classes = len(data.classes or ())
    prep = OrdinalPrep().fit(data.X_train)
    X_train, X_valid = prep.transform(data.X_train), prep.transform(data.X_valid)
    y_train, y_valid = encoded_targets(data, data.y_train), encoded_targets(data, data.y_valid)
    train_set = lgb.Dataset(X_train, y_train, categorical_feature=prep.categorical_indices_, free_raw_data=False)
    valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)
    monitor = ValidReporter(reporter, data)

    def report(env: lgb.callback.CallbackEnv) -> None:
        step = env.iteration + 1
        if monitor.due(step):
            assert isinstance(env.model, lgb.Booster)
            raw = env.model.predict(X_valid, num_iteration=step)
            monitor.report(step, booster_prediction(raw, data.problem_type, n_classes))

    callbacks: list[Any] = [lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False), report]
    if resources.deadline is not None:
        callbacks.append(_StopAtDeadline(resources))
    booster = lgb.train(
        _booster_params(p, data, resources, seed),
        train_set,
        num_boost_round=max_rounds(p["learning_rate"]),
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=callbacks,
    )
    best_iteration = int(booster.best_iteration or booster.current_iteration())
    return LightGBMModel(**fields, prep=prep, booster=booster, best_iteration=best_iteration)


def refit_lightgbm(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int, rounds: int
) -> LightGBMModel:
    """LightGBM with `params` trained for exactly `rounds` rounds on data's train rows (no valid rows)."""
    import lightgbm as lgb

    p = own_params("lightgbm", params, DEFAULTS["lightgbm"])
    prep = OrdinalPrep().fit(data.X_train)
    train_set = lgb.Dataset(
        prep.transform(data.X_train), encoded_targets(data, data.y_train), categorical_feature=prep.categorical_indices_
    )
    booster = lgb.train(_booster_params(p, data, resources, seed), train_set, num_boost_round=max(1, int(rounds)))
    return LightGBMModel(
        **model_fields(p, data), prep=prep, booster=booster, best_iteration=booster.current_iteration()
    )
