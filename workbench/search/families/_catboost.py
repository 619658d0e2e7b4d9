"""CatBoost: native categorical features, early stopping and reports on the valid rows, GPU when given.

CatBoost does not hand the model to callbacks, so reports read CatBoost's own computation of the
experiment metric on the valid rows (requested as a custom metric): the same quantity as
`score_predictions` computes, on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.model.tabular._catboost import CatBoostModel, catboost_frame
from workbench.model.tabular._prep import OrdinalPrep
from workbench.search._protocol import Reporter, TrialPruned, WorkerResources
from workbench.search.families._base import ModelFields, encoded_targets, model_fields, own_params, thread_count
from workbench.search.families._reporting import REPORT_EVERY
from workbench.search.families._spaces import DEFAULTS, EARLY_STOPPING_ROUNDS, max_rounds
from workbench.store import TrialData

__all__ = ["CatBoostModel", "catboost_device_params", "fit_catboost", "refit_catboost", "report_metric"]


def catboost_device_params(resources: WorkerResources, threads: int | None = None) -> dict[str, Any]:
    """GPU on a GPU worker. CatBoost numbers devices among those visible to the process
    (CUDA_VISIBLE_DEVICES), and a worker's own GPUs (`gpu_ids`) are the first visible ones, so its
    devices are 0..gpus-1. `threads` defaults to the worker's CPUs."""
    params: dict[str, Any] = {"thread_count": threads or max(1, resources.cpus)}
    if resources.gpus > 0:
        count = len(resources.gpu_ids) or resources.gpus
        params.update(task_type="GPU", devices=":".join(str(i) for i in range(count)))
    else:
        params["task_type"] = "CPU"
    return params


def report_metric(problem_type: str, metric: str) -> str:
    """The CatBoost metric that computes `metric`; multiclass balanced accuracy is the mean per-class Recall."""
    binary = problem_type == "binary"
    names = {
        "roc_auc": "AUC",
        "f1": "F1",
        "accuracy": "Accuracy",
        "balanced_accuracy": "BalancedAccuracy" if binary else "Recall",
        "log_loss": "Logloss" if binary else "MultiClass",
        "rmse": "RMSE",
        "mae": "MAE",
        "r2": "R2",
    }
    return names[metric]


def _loss(data: TrialData) -> str:
    if data.problem_type == "binary":
        return "Logloss"
    if data.problem_type == "multiclass":
        return "MultiClass"
    return "MAE" if data.metric == "mae" else "RMSE"


class _Report:
    """CatBoost callback: reports every REPORT_EVERY iterations; CatBoost wraps exceptions raised in
    callbacks, so a prune is kept, training stopped, and the prune raised again after `fit`. Stops training
    at the deadline of `resources` too (CatBoost then keeps its best iteration, `use_best_model`)."""

    def __init__(self, reporter: Reporter, metric_name: str, resources: WorkerResources) -> None:
        self.reporter = reporter
        self.metric_name = metric_name
        self.resources = resources
        self.pruned: TrialPruned | None = None

    def value(self, metrics: Mapping[str, Any]) -> float:
        name = self.metric_name
        values = [float(v[-1]) for k, v in metrics.items() if (k == name or k.startswith(f"{name}:")) and len(v)]
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")

    def after_iteration(self, info: Any) -> bool:
        if self.resources.out_of_time():
            return False
        step = int(info.iteration)
        if step % REPORT_EVERY:
            return True
        try:
            self.reporter.report(step, self.value(info.metrics.get("validation", {})))
        except TrialPruned as exc:
            self.pruned = exc
            return False
        return True


def _model_params(p: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int) -> dict[str, Any]:
    return {
        "learning_rate": p["learning_rate"],
        "depth": p["depth"],
        "l2_leaf_reg": p["l2_leaf_reg"],
        "random_strength": p["random_strength"],
        "max_ctr_complexity": 1,  # no combinations of categoricals: half the time, about the same scores
        "loss_function": _loss(data),
        "random_seed": seed,
        "verbose": False,
        "allow_writing_files": False,
        **catboost_device_params(resources, thread_count(resources, data.X_train)),
    }


def _model(prep: OrdinalPrep, model: Any, fields: ModelFields, classification: bool, trees: int) -> CatBoostModel:
    return CatBoostModel(
        **fields,
        prep=prep,
        model=model,
        best_iteration=trees,
        fitted_codes=[int(c) for c in model.classes_] if classification else [],
    )


def fit_catboost(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> CatBoostModel:
    """Fit CatBoost on data's train rows for up to `max_rounds` iterations (of its learning rate),
    early-stopped on the valid rows (keeping the best iteration), reporting CatBoost's own experiment metric
    every REPORT_EVERY iterations; stopped at the deadline of `resources` too, keeping the best iteration so
    far."""
    from catboost import CatBoostClassifier, CatBoostRegressor, Pool

    p = own_params("catboost", params, DEFAULTS["catboost"])
    fields = model_fields(p, data)
    prep = OrdinalPrep().fit(data.X_train)
    classification = data.problem_type != "regression"
    y_train, y_valid = encoded_targets(data, data.y_train), encoded_targets(data, data.y_valid)
    cats = prep.categorical_indices_
    train_pool = Pool(catboost_frame(prep.transform(data.X_train), cats), y_train, cat_features=cats)
    valid_pool = Pool(catboost_frame(prep.transform(data.X_valid), cats), y_valid, cat_features=cats)
    metric_name = report_metric(data.problem_type, data.metric)
    kwargs: dict[str, Any] = {
        **_model_params(p, data, resources, seed),
        "iterations": max_rounds(p["learning_rate"]),
        "custom_metric": [metric_name],
        "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
        "use_best_model": True,
    }
    model = CatBoostClassifier(**kwargs) if classification else CatBoostRegressor(**kwargs)
    callback = _Report(reporter, metric_name, resources)
    model.fit(train_pool, eval_set=valid_pool, callbacks=[callback])
    if callback.pruned is not None:
        raise callback.pruned
    return _model(prep, model, fields, classification, int(model.get_best_iteration() or 0) + 1)


def refit_catboost(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int, rounds: int
) -> CatBoostModel:
    """CatBoost with `params` trained for exactly `rounds` iterations on data's train rows (no valid rows)."""
    from catboost import CatBoostClassifier, CatBoostRegressor, Pool

    p = own_params("catboost", params, DEFAULTS["catboost"])
    prep = OrdinalPrep().fit(data.X_train)
    classification = data.problem_type != "regression"
    cats = prep.categorical_indices_
    train_pool = Pool(
        catboost_frame(prep.transform(data.X_train), cats), encoded_targets(data, data.y_train), cat_features=cats
    )
    kwargs = {**_model_params(p, data, resources, seed), "iterations": max(1, int(rounds))}
    model = CatBoostClassifier(**kwargs) if classification else CatBoostRegressor(**kwargs)
    model.fit(train_pool)
    return _model(prep, model, model_fields(p, data), classification, int(model.tree_count_))
