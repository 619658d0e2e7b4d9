"""Worker side of the AutoGluon engine: one `TabularPredictor.fit` per trial, every model a candidate.

Each model of the fitted predictor (the WeightedEnsemble included) becomes a CandidateResult whose
predictions and scores are computed here with `score_predictions`, the same function the other engine
uses, never taken from AutoGluon's leaderboard. The whole predictor travels back as one zip artifact.

Per candidate:
- `fit_time_s`: AutoGluon's leaderboard `fit_time`, which for the ensemble includes its members'.
- `size_bytes`: bytes on disk (after `save_space`) of what that model needs to predict: its own folder,
  its ancestors' folders (the ensemble's members) and the predictor's shared files (learner, feature
  generators, trainer metadata).
- latency: `measure_latency` on an `AutoGluonModel` for that model alone, with it persisted in memory.
"""

from __future__ import annotations

import math
import numbers
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.metrics import get_metric
from workbench.model import InputSchema, measure_latency, score_predictions
from workbench.search._protocol import (
    CandidateResult,
    Reporter,
    TrialData,
    TrialPruned,
    TrialResult,
    TrialSpec,
    WorkerResources,
)
from workbench.search.engines._autogluon_model import AutoGluonModel, predictor_to_zip
from workbench.search.engines._autogluon_space import DEFAULT_PRESETS

__all__ = ["ARTIFACT_NAME", "FitPlan", "run_autogluon_trial"]

ARTIFACT_NAME = "predictor.zip"
# Share of the trial's own time limit (spec.time_limit_s) given to `fit`; the rest is for predicting,
# scoring, timing and zipping every model.
FIT_SHARE = 0.85

# The hyperparameter of each AutoGluon model key that carries its random seed.
SEED_PARAMS = {
    "GBM": "seed",
    "XGB": "seed",
    "CAT": "random_seed",
    "RF": "random_state",
    "XT": "random_state",
    "NN_TORCH": "seed_value",
    "LR": "random_state",
}

# AutoGluon model classes -> the family names candidates carry.
MODEL_TYPES = {
    "LGBModel": "lightgbm",
    "XGBoostModel": "xgboost",
    "CatBoostModel": "catboost",
    "RFModel": "random_forest",
    "XTModel": "extra_trees",
    "TabularNeuralNetTorchModel": "mlp",
    "LinearModel": "linear",
    "KNNModel": "knn",
    "NNFastAiTabularModel": "fastai_mlp",
    "WeightedEnsembleModel": "weighted_ensemble",
}


@dataclass(frozen=True)
class FitPlan:
    """Everything one fit is given: predictor arguments, `fit` arguments and environment variables."""

    predictor_kwargs: dict[str, Any]
    fit_kwargs: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)


def _seeded(hyperparameters: Any, seed: int) -> Any:
    """The hyperparameters with every model's seed set to `seed` (unless it names one itself)."""
    if not isinstance(hyperparameters, dict):
        return hyperparameters
    out: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        name = SEED_PARAMS.get(key)
        variants = value if isinstance(value, list) else [value]
        if name is not None:
            variants = [{name: seed, **v} if isinstance(v, dict) else v for v in variants]
        out[key] = variants if isinstance(value, list) else variants[0]
    return out


def _time_limit(config: dict[str, Any], spec: TrialSpec) -> float | None:
    """The fit's time limit: the config's budget, capped by a share of the trial's own limit."""
    limits = [float(config["time_limit_s"])] if config.get("time_limit_s") is not None else []
    if spec.time_limit_s is not None:
        limits.append(float(spec.time_limit_s) * FIT_SHARE)
    return min(limits) if limits else None


def _fit_kwargs(
    config: dict[str, Any], data: TrialData, resources: WorkerResources, time_limit: float | None
) -> FitPlan:
    """The arguments of one fit (pure: no AutoGluon import, no environment change)."""
    predictor_kwargs: dict[str, Any] = {
        "problem_type": data.problem_type,
        "eval_metric": data.metric,  # workbench's metric names are AutoGluon's
        "verbosity": 0,
    }
    if data.problem_type == "binary" and data.classes is not None:
        # score_predictions takes classes[1] as the positive class (f1, roc_auc): AutoGluon must agree.
        predictor_kwargs["positive_class"] = data.classes[1]
    seed = int(config.get("seed", 0))
    fit_kwargs: dict[str, Any] = {
        "presets": config.get("presets", DEFAULT_PRESETS),
        "hyperparameters": _seeded(config.get("hyperparameters"), seed),
        "time_limit": time_limit,
        "num_cpus": max(int(resources.cpus), 1),
        "num_gpus": int(resources.gpus),
        # No bagging, no stacking, no refit on train+valid: the valid rows stay AutoGluon's tuning data only.
        "auto_stack": False,
        "num_bag_folds": 0,
        "num_bag_sets": 1,
        "num_stack_levels": 0,
        "dynamic_stacking": False,
        "refit_full": False,
        # Fold fitting in-process: with Ray's parallel strategy AutoGluon would start Ray in the worker.
        "ag_args_ensemble": {"fold_fitting_strategy": "sequential_local"},
        "fit_strategy": "sequential",
        # Candidates are scored on argmax of their probabilities; a tuned threshold would go unused.
        "calibrate_decision_threshold": False,
    }
    env: dict[str, str] = {}
    if resources.gpus > 0 and resources.gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(resources.gpu_ids)
    return FitPlan(predictor_kwargs, fit_kwargs, env)


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _shutdown_ray() -> None:
    """This engine's fits never start Ray; should one have, do not leave it running in the worker."""
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        ray.shutdown()


class _Progress:
    """Reports the best valid score so far as models finish, from AutoGluon's own validation scores.

    AutoGluon keeps scores "higher is better" (rmse and log_loss negated); they are turned back into the
    metric's own sign. A TrialPruned raised by the reporter inside AutoGluon is held, the fit stopped, and
    re-raised once `fit` returns.
    """

    def __init__(self, reporter: Reporter, metric: str, problem_type: str) -> None:
        self.reporter = reporter
        self.greater_is_better = get_metric(metric, problem_type).greater_is_better
        self.step = 0
        self.best: float | None = None
        self.pruned: TrialPruned | None = None
        self.values: list[tuple[int, float]] = []

    def better(self, a: float, b: float | None) -> bool:
        return b is None or (a > b if self.greater_is_better else a < b)

    def model_done(self, ag_score: Any) -> bool:
        """Record one finished model (its AutoGluon val_score); returns True when the fit should stop."""
        if self.pruned is not None:
            return True
        if isinstance(ag_score, numbers.Real) and math.isfinite(ag_score):
            value = float(ag_score) if self.greater_is_better else -float(ag_score)
            if self.better(value, self.best):
                self.best = value
        if self.best is None:
            return False
        try:
            self.report(self.best)
        except TrialPruned as exc:
            self.pruned = exc
            return True
        return False

    def report(self, value: float) -> None:
        self.step += 1
        self.values.append((self.step, value))
        self.reporter.report(self.step, value)

    def callback(self) -> Any:
        from autogluon.core.callbacks import AbstractCallback

        progress = self

        class _Callback(AbstractCallback):  # type: ignore[misc]
            def _before_model_fit(self, trainer: Any, model: Any, **kwargs: Any) -> tuple[bool, bool]:
                if progress.pruned is None and progress.reporter.should_prune():
                    progress.pruned = TrialPruned(f"pruned before fitting {model.name}")
                return progress.pruned is not None, False

            def _after_model_fit(self, trainer: Any, model_names: list[str], **kwargs: Any) -> bool:
                stop = False
                for name in model_names:
                    stop = progress.model_done(trainer.get_model_attribute(name, "val_score")) or stop
                return stop

            def __reduce__(self) -> tuple[Any, tuple[()]]:
                # AutoGluon pickles its trainer, callbacks included, after every model (and drops the
                # callbacks before its final save): pickle this one as an inert callback.
                return _inert_callback, ()

        return _Callback()


def _inert_callback() -> Any:
    from autogluon.core.callbacks import AbstractCallback

    return AbstractCallback()


def _label_name(X: pd.DataFrame) -> str:
    name = "__workbench_label__"
    while name in X.columns:
        name += "_"
    return name


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _sizes(folder: Path, names: list[str], ancestors: dict[str, list[str]]) -> dict[str, int]:
    models = {name: _folder_bytes(folder / "models" / name) for name in names}
    shared = _folder_bytes(folder) - sum(models.values())
    return {name: shared + models[name] + sum(models.get(a, 0) for a in ancestors.get(name, [])) for name in names}


def _fit(plan: FitPlan, data: TrialData, folder: Path, progress: _Progress) -> Any:
    from autogluon.tabular import TabularPredictor

    label = _label_name(data.X_train)
    train = data.X_train.reset_index(drop=True).assign(**{label: data.y_train})
    tuning = data.X_valid.reset_index(drop=True).assign(**{label: data.y_valid})
    with _environment(plan.env), warnings.catch_warnings():
        # sklearn/pandas/lightgbm emit warnings inside AutoGluon's model fits (n_quantiles, deprecated
        # n_jobs, ...): third-party noise, and under `-W error` AutoGluon would drop those models.
        warnings.simplefilter("ignore")
        predictor = TabularPredictor(label=label, path=str(folder), **plan.predictor_kwargs)
        predictor.fit(train, tuning_data=tuning, callbacks=[progress.callback()], **plan.fit_kwargs)
    return predictor


def _candidates(
    predictor: Any, folder: Path, config: dict[str, Any], data: TrialData, schema: InputSchema
) -> list[CandidateResult]:
    with warnings.catch_warnings():  # AutoGluon's leaderboard uses deprecated pandas calls (third-party noise)
        warnings.simplefilter("ignore")
        board = predictor.leaderboard(extra_info=True).set_index("model")
    names = list(predictor.model_names())
    ancestors = {name: list(board.at[name, "ancestors"]) for name in names}
    sizes = _sizes(folder, names, ancestors)
    with warnings.catch_warnings():  # persisting loads pickles (third-party noise)
        warnings.simplefilter("ignore")
        predictor.persist(models="all", with_ancestors=True)  # latency as a server measures it: in memory
    candidates = []
    for name in names:
        model = AutoGluonModel(folder, name, data.problem_type, data.classes, schema, predictor=predictor)
        valid_pred = model.prediction(data.X_valid)
        test_pred = model.prediction(data.X_test)
        latency = measure_latency(model, data.X_valid)
        ag_type = str(board.at[name, "model_type"])
        candidates.append(
            CandidateResult(
                name=name,
                model_type=MODEL_TYPES.get(ag_type, ag_type),
                valid_pred=valid_pred,
                test_pred=test_pred,
                valid_score=score_predictions(data.metric, data.problem_type, data.y_valid, valid_pred, data.classes),
                test_score=score_predictions(data.metric, data.problem_type, data.y_test, test_pred, data.classes),
                fit_time_s=float(board.at[name, "fit_time"]),
                predict_row_ms=latency.row_ms,
                predict_batch_ms=latency.batch_ms,
                size_bytes=sizes[name],
                params={**config, "model": name, "ag_model_type": ag_type, "ag_ancestors": sorted(ancestors[name])},
                artifact=ARTIFACT_NAME,
                model_in_artifact=name,
            )
        )
    return candidates


def run_autogluon_trial(
    spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter
) -> TrialResult:
    """One AutoGluon fit with the configuration `spec.params` (see `autogluon_configs`).

    The seed is `spec.params["seed"]` (else `spec.seed`); the fit's time limit is the config's budget capped
    by `FIT_SHARE` of `spec.time_limit_s`. Exceptions (TrialPruned included) propagate to the caller.
    """
    config = {"seed": spec.seed, **spec.params}
    progress = _Progress(reporter, data.metric, data.problem_type)
    plan = _fit_kwargs(config, data, resources, _time_limit(config, spec))
    schema = InputSchema.from_frame(data.X_train)
    workdir = Path(tempfile.mkdtemp(prefix="wb-autogluon-"))
    folder = workdir / "predictor"
    try:
        try:
            predictor = _fit(plan, data, folder, progress)
        except Exception:
            if progress.pruned is not None:  # stopped before any model: AutoGluon complains it has none
                raise progress.pruned from None
            raise
        if progress.pruned is not None:
            raise progress.pruned
        with warnings.catch_warnings():  # third-party noise while rewriting the predictor's files
            warnings.simplefilter("ignore")
            predictor.save_space()
        artifact = predictor_to_zip(folder, data.problem_type, data.classes, schema)
        candidates = _candidates(predictor, folder, config, data, schema)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _shutdown_ray()
    greater = get_metric(data.metric, data.problem_type).greater_is_better
    best = (max if greater else min)(c.valid_score for c in candidates)
    progress.report(best)
    return TrialResult(
        status="complete",
        candidates=candidates,
        artifacts={ARTIFACT_NAME: artifact},
        values=(best,),
        intermediate=progress.values,
        worker=resources.address,
    )
