"""The families by name, and fitting one candidate: fit, predict, score, time and serialize."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench.model import dumps_model, measure_latency, score_predictions
from workbench.search._protocol import CandidateResult, Reporter, TrialData, WorkerResources
from workbench.search.families._base import Family, thread_count
from workbench.search.families._catboost import catboost_device_params, fit_catboost
from workbench.search.families._lightgbm import fit_lightgbm, lightgbm_device_params
from workbench.search.families._mlp import fit_mlp, torch_device
from workbench.search.families._sklearn import fit_forest, fit_linear
from workbench.search.families._spaces import DEFAULTS, SUGGESTERS
from workbench.search.families._xgboost import fit_xgboost, xgboost_device_params

__all__ = ["ARTIFACT", "FAMILIES", "device_params", "fit_candidate", "get_family"]

ARTIFACT = "model.pkl"


def _family(name: str, fit: Any, uses_gpu: bool) -> Family:
    return Family(name=name, suggest=SUGGESTERS[name], fit=fit, uses_gpu=uses_gpu, defaults=DEFAULTS[name])


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        _family("lightgbm", fit_lightgbm, uses_gpu=False),
        _family("xgboost", fit_xgboost, uses_gpu=True),
        _family("catboost", fit_catboost, uses_gpu=True),
        _family("forest", fit_forest, uses_gpu=False),
        _family("linear", fit_linear, uses_gpu=False),
        _family("mlp", fit_mlp, uses_gpu=True),
    )
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"Unknown model family {name!r}; use one of: {', '.join(FAMILIES)}.") from None


def device_params(family_name: str, resources: WorkerResources, X_train: pd.DataFrame | None = None) -> dict[str, Any]:
    """The device and thread settings a family's fit uses on a worker with `resources`; threads are the
    worker's CPUs, or with `X_train` given, what a fit on it uses (fewer on small tables)."""
    family = get_family(family_name).name
    threads = thread_count(resources, X_train) if X_train is not None else max(1, resources.cpus)
    if family == "xgboost":
        return xgboost_device_params(resources, threads)
    if family == "catboost":
        return catboost_device_params(resources, threads)
    if family == "mlp":
        return {"device": torch_device(resources), "num_threads": threads}
    if family == "lightgbm":
        return lightgbm_device_params(resources, threads)
    return {"n_jobs": threads if family == "forest" else 1}


def fit_candidate(
    family_name: str,
    params: Mapping[str, Any],
    data: TrialData,
    resources: WorkerResources,
    reporter: Reporter,
    seed: int,
    *,
    name: str | None = None,
) -> tuple[CandidateResult, bytes]:
    """Fit one model of `family_name` and return its candidate record and its pickled bytes.

    Predictions are probabilities in `data.classes` order (or values), scored with the experiment metric.
    TrialPruned raised by `reporter` propagates. `params` may hold other families' parameters; they are
    ignored, and the record's params are this family's full set (defaults filled in).
    """
    family = get_family(family_name)
    resolved = family.resolve(params)
    start = time.perf_counter()
    model = family.fit(resolved, data, resources, reporter, seed)
    fit_time_s = time.perf_counter() - start
    valid_pred = model.prediction(data.X_valid)
    test_pred = model.prediction(data.X_test)
    valid_score = score_predictions(data.metric, data.problem_type, data.y_valid, valid_pred, data.classes)
    test_score = score_predictions(data.metric, data.problem_type, data.y_test, test_pred, data.classes)
    latency = measure_latency(model, data.X_valid)
    blob = dumps_model(model)
    result = CandidateResult(
        name=name or family.name,
        model_type=family.name,
        valid_pred=valid_pred,
        test_pred=test_pred,
        valid_score=valid_score,
        test_score=test_score,
        fit_time_s=fit_time_s,
        predict_row_ms=latency.row_ms,
        predict_batch_ms=latency.batch_ms,
        size_bytes=len(blob),
        params=resolved,
        artifact=ARTIFACT,
    )
    return result, blob
