"""The families by name; fitting one candidate (fit, predict, score, time and serialize) and refitting a
fitted model with a fixed size."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench.model import FittedModel, dumps_model, measure_latency, score_predictions
from workbench.model.tabular._base import TabularModel
from workbench.search._calibrate import calibrate_candidate
from workbench.search._crossval import fold_deadline, out_of_fold
from workbench.search._protocol import CandidateResult, Reporter, TrialData, WorkerResources
from workbench.search.families._base import Family, RefitFunction, fit_resources, thread_count
from workbench.search.families._catboost import catboost_device_params, fit_catboost, refit_catboost
from workbench.search.families._lightgbm import fit_lightgbm, lightgbm_device_params, refit_lightgbm
from workbench.search.families._mlp import MLPModel, best_epoch, fit_mlp, refit_mlp, torch_device
from workbench.search.families._sklearn import fit_forest, fit_linear, refit_forest, refit_linear
from workbench.search.families._spaces import DEFAULTS, SUGGESTERS
from workbench.search.families._xgboost import fit_xgboost, refit_xgboost, xgboost_device_params

__all__ = ["ARTIFACT", "FAMILIES", "device_params", "fit_candidate", "get_family", "refit_model", "refit_size"]

ARTIFACT = "model.pkl"


def _family(name: str, fit: Any, refit: RefitFunction, uses_gpu: bool, imports: tuple[str, ...]) -> Family:
    return Family(
        name=name,
        suggest=SUGGESTERS[name],
        fit=fit,
        uses_gpu=uses_gpu,
        defaults=DEFAULTS[name],
        refit=refit,
        imports=imports,
    )


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        _family("lightgbm", fit_lightgbm, refit_lightgbm, uses_gpu=False, imports=("lightgbm",)),
        _family("xgboost", fit_xgboost, refit_xgboost, uses_gpu=True, imports=("xgboost",)),
        _family("catboost", fit_catboost, refit_catboost, uses_gpu=True, imports=("catboost",)),
        _family("forest", fit_forest, refit_forest, uses_gpu=False, imports=("sklearn.ensemble",)),
        _family(
            "linear",
            fit_linear,
            refit_linear,
            uses_gpu=False,
            imports=("sklearn.linear_model", "sklearn.preprocessing"),
        ),
        # torch._dynamo: the first AdamW a process builds imports it (with sympy), 1.5 s on this machine.
        _family(
            "mlp",
            fit_mlp,
            refit_mlp,
            uses_gpu=True,
            imports=("torch", "torch._dynamo", "sklearn.preprocessing"),
        ),
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

    With cross-validation (`data.cv_folds` > 1) the kept model is fold 0's (fitted on the train rows) and
    the valid predictions and score are every fold's out-of-fold predictions of the train and valid rows
    (`workbench.search._crossval`); the folds share the trial's fit time equally.
    Predictions are probabilities in `data.classes` order (or values), scored with the experiment metric;
    with log loss (temperature) or a binary label metric (decision threshold), calibrated as
    `calibrate_candidate` decides on the selection rows (the pickle keeps it).
    TrialPruned raised by `reporter` propagates. `params` may hold other families' parameters; they are
    ignored, and the record's params are this family's full set (defaults filled in). With a deadline in
    `resources` (the trial's), the fit stops training in time to predict, score, time and pickle by then.
    """
    family = get_family(family_name)
    resolved = family.resolve(params)
    family.import_modules()  # not the fit's time: a worker imports them once
    window = fit_resources(resources)  # the fit time of every fold together
    start = time.perf_counter()
    model = family.fit(resolved, data.fold(0), fold_deadline(window, data.cv_folds), reporter, seed)
    fit_time_s = time.perf_counter() - start
    valid_raw = model.prediction(data.X_valid)
    if data.cv_folds > 1:
        valid_raw = out_of_fold(
            lambda rows, given, quiet: family.fit(resolved, rows, given, quiet, seed),
            data,
            valid_raw,
            window,
            reporter,
        )
    valid_pred, test_pred, calibration = calibrate_candidate(
        model, data, valid_raw, model.prediction(data.X_test), seed
    )
    valid_score = score_predictions(data.metric, data.problem_type, data.y_selection, valid_pred, data.classes)
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
        calibration=None if calibration is None else calibration.to_dict(),
    )
    return result, blob


def refit_size(family_name: str, model: FittedModel, scale: float = 1.0) -> int:
    """The size a fixed-size refit of `model` trains: its best boosting rounds (`best_iteration_`) or the
    MLP's best epoch, times `scale`, rounded, at least 1; 0 for families without one (forest, linear)."""
    name = get_family(family_name).name
    if name in ("forest", "linear"):
        return 0
    if name == "mlp":
        if not isinstance(model, MLPModel):
            raise TypeError(f"an mlp refit needs an MLPModel, not {type(model).__name__}")
        best = best_epoch(model)
    else:
        best = int(getattr(model, "best_iteration_", 0))
    return max(1, round(best * scale))


def refit_model(
    family: str,
    model: FittedModel,
    params: Mapping[str, Any],
    data: TrialData,
    resources: WorkerResources,
    seed: int,
    scale: float = 1.0,
) -> FittedModel:
    """`model` (a fitted model of `family`) refitted with the same hyperparameters on data's train rows.

    Boosting rounds are fixed to round(`model.best_iteration_` x `scale`) and the MLP's epochs to its best
    epoch x `scale` (at least 1); forest and linear models simply refit. No early stopping, no reports, no
    deadline: data's valid and test rows are not used. `params` are the family's parameters, prefixed
    ("lightgbm.num_leaves", as candidates record them) or not (as the model's `params` holds them); others
    are ignored, and an empty mapping takes the model's own. The refitted model has the same problem type
    and classes as `model` and the input schema of data's train rows.
    """
    spec = get_family(family)
    if not isinstance(model, TabularModel):
        raise TypeError(f"refit_model refits family models, not {type(model).__name__}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    if model.problem_type != data.problem_type:
        raise ValueError(f"the model is {model.problem_type} but the rows are {data.problem_type}")
    if model.classes_ is not None and tuple(data.classes or ()) != tuple(model.classes_):
        raise ValueError(f"the rows' classes {data.classes} are not the model's {list(model.classes_)}")
    assert spec.refit is not None
    own = _prefixed(spec, params or model.params)
    return spec.refit(spec.resolve(own), data, resources, seed, refit_size(spec.name, model, scale))


def _prefixed(family: Family, params: Mapping[str, Any]) -> dict[str, Any]:
    """The family's parameters of `params`, with their prefix whether they had it or not."""
    prefix = f"{family.name}."
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = key if key.startswith(prefix) else f"{prefix}{key}"
        if name in family.defaults:
            out[name] = value
    return out
