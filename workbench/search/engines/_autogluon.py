"""Worker side of the AutoGluon engine: one `TabularPredictor.fit` per trial, every model a candidate.

Each model of the fitted predictor (the WeightedEnsemble included) becomes a CandidateResult whose
predictions and scores are computed here with `score_predictions`, the same function the other engine
uses, never taken from AutoGluon's leaderboard. The whole predictor travels back as one zip artifact.

Cross-validated selection (`TrialData.cv_folds` = k > 1): the fit is AutoGluon's own k-fold bagging on the
selection rows (train rows then valid rows) with the experiment's folds, handed over as AutoGluon's `groups`
column (split with LeaveOneGroupOut, never a feature), so every model is a bag of k children. A candidate's
valid predictions are its bag's out-of-fold predictions of the selection rows, as AutoGluon recorded them
while fitting, and its test predictions are the whole bag's (every child's, averaged).

Time: the fit's time limit is what the trial has left (its deadline) less an estimate of the work after
the fit (`_post_fit_s`). After the fit, the models whose predicting, timing and zipping would run past the
deadline are dropped, the best ones kept first (`_keep_within`), so the trial ends about on time with the
models it has.

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
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.metrics import get_metric
from workbench.model import InputSchema, measure_latency, measuring_s, score_predictions
from workbench.model._autogluon import tabular_predictor
from workbench.search._calibrate import calibrate_candidate
from workbench.search._protocol import (
    CandidateResult,
    Reporter,
    TrialData,
    TrialPruned,
    TrialResult,
    TrialSpec,
    WorkerResources,
)
from workbench.search.engines._autogluon_model import AutoGluonModel, predictor_to_zip, reorder_proba
from workbench.search.engines._autogluon_space import DEFAULT_PRESETS
from workbench.search.families._spaces import max_rounds

__all__ = ["ARTIFACT_NAME", "FitPlan", "run_autogluon_trial"]

ARTIFACT_NAME = "predictor.zip"
# Share of the time the trial has left (its deadline, else spec.time_limit_s) given to `fit`; the rest, and
# at least the estimated work after the fit (POST_FIT_S, more with more models and rows: `_post_fit_s`), is
# for predicting, scoring, timing and zipping every model. AutoGluon stops fitting models at its time limit
# and keeps those it has.
FIT_SHARE = 0.75
POST_FIT_S = 2.0
# Estimated seconds per model after the fit (predicting, timing), and per row it predicts (valid + test); a
# bag of k children costs k times as much. Measured on flights (3-fold bags, beside another trial): the
# work after the fit took 6.3 s for 3 candidates, estimated at 9.0 s.
MODEL_S = 0.3
ROW_S = 1e-4
# A single-row predict call of a model: CALL_S, and CHILD_CALL_S for every child of it and of the models
# it is built on (measured: a weighted ensemble of three 4-fold bags, 68 ms a call).
CALL_S = 0.01
CHILD_CALL_S = 0.005
# The fit's time limit keeps time for this many models' work after it; models beyond are dropped after
# the fit if their work would run past the deadline (`_keep_within`): the ensemble still uses them.
POST_FIT_MODELS = 3
# AutoGluon always gets this long to fit: less leaves it no model at all.
MIN_FIT_S = 3.0
# The models are persisted in memory for timing only while their pickles' bytes are at most this share of
# the memory available (AutoGluon's own `persist` default).
PERSIST_MEMORY_SHARE = 0.4
# What zipping and loading a model folder cost per byte (measured: ~40 MB/s zipping, ~200 MB/s loading).
ZIP_BYTES_PER_S = 30e6
LOAD_BYTES_PER_S = 150e6

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


def _each_variant(hyperparameters: Any, change: Callable[[str, dict[str, Any]], dict[str, Any]]) -> Any:
    """The hyperparameters with `change(model key, variant)` applied to every variant given as a dict (a
    model's one dict or each of its list), in the same shape."""
    if not isinstance(hyperparameters, dict):
        return hyperparameters
    out: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        variants = [
            change(key, v) if isinstance(v, dict) else v for v in (value if isinstance(value, list) else [value])
        ]
        out[key] = variants if isinstance(value, list) else variants[0]
    return out


def _seeded(hyperparameters: Any, seed: int) -> Any:
    """The hyperparameters with every model's seed set to `seed` (unless it names one itself)."""
    return _each_variant(hyperparameters, lambda key, v: {SEED_PARAMS[key]: seed, **v} if key in SEED_PARAMS else v)


# The boosting models' round parameter and AutoGluon's default learning rate for each.
ROUND_PARAMS = {"GBM": ("num_boost_round", 0.05), "CAT": ("iterations", 0.05), "XGB": ("n_estimators", 0.1)}


def _round_capped(hyperparameters: Any, metric: str) -> Any:
    """The hyperparameters with every boosting model's rounds capped at `max_rounds` of its learning rate,
    as the Optuna families' are (unless it names its rounds itself), and the MLP early-stopping on `metric`
    (unless it names its own stopping metric)."""

    def capped(key: str, variant: dict[str, Any]) -> dict[str, Any]:
        if key in ROUND_PARAMS:
            name, learning_rate = ROUND_PARAMS[key]
            return {name: max_rounds(variant.get("learning_rate", learning_rate)), **variant}
        if key == "NN_TORCH":
            return {**variant, "ag_args_fit": {"stopping_metric": metric, **variant.get("ag_args_fit", {})}}
        return variant

    return _each_variant(hyperparameters, capped)


def _expected_models(config: dict[str, Any], problem_type: str) -> int:
    """How many models a fit of `config` makes: its hyperparameter variants that apply to `problem_type`,
    and the weighted ensemble."""
    hyperparameters = config.get("hyperparameters")
    if not isinstance(hyperparameters, dict):
        return 12  # a preset's own list
    count = 1
    for value in hyperparameters.values():
        for variant in value if isinstance(value, list) else [value]:
            kinds = variant.get("ag_args", {}).get("problem_types") if isinstance(variant, dict) else None
            count += kinds is None or problem_type in kinds
    return count


def _post_fit_s(config: dict[str, Any], data: TrialData) -> float:
    """About how long predicting, scoring, timing and zipping the candidates of a fit of `config` take
    (POST_FIT_MODELS of its models at most). Bagged (cross-validated) models predict only the test rows (their
    out-of-fold predictions are AutoGluon's), but every call runs each of their k children."""
    k = data.cv_folds
    rows = len(data.X_valid) + len(data.X_test) if k == 1 else k * len(data.X_test)
    models = min(POST_FIT_MODELS, _expected_models(config, data.problem_type))
    return POST_FIT_S + models * (k * MODEL_S + rows * ROW_S)


def _time_limit(
    config: dict[str, Any],
    spec: TrialSpec,
    resources: WorkerResources | None = None,
    post_fit_s: float = POST_FIT_S,
) -> float | None:
    """The fit's time limit: the config's budget, capped by what the trial has left (the deadline of
    `resources`, else `spec.time_limit_s`) less `post_fit_s`, the work after the fit (FIT_SHARE of it at
    most, MIN_FIT_S at least)."""
    limits = [float(config["time_limit_s"])] if config.get("time_limit_s") is not None else []
    left = resources.time_left() if resources is not None else None
    if left is None and spec.time_limit_s is not None:
        left = float(spec.time_limit_s)
    if left is not None:
        limits.append(max(MIN_FIT_S, min(left * FIT_SHARE, left - post_fit_s)))
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
    if data.cv_folds > 1:
        # AutoGluon takes the folds from this column (LeaveOneGroupOut; it is not a feature), k of them.
        predictor_kwargs["groups"] = _fold_name(data.X_train)
    seed = int(config.get("seed", 0))
    fit_kwargs: dict[str, Any] = {
        "presets": config.get("presets", DEFAULT_PRESETS),
        "hyperparameters": _seeded(config.get("hyperparameters"), seed),
        "time_limit": time_limit,
        "num_cpus": max(int(resources.cpus), 1),
        "num_gpus": int(resources.gpus),
        # No stacking, no refit on train+valid. Without cross-validation no bagging either: the valid rows
        # stay AutoGluon's tuning data only. With it, one bag set over the experiment's folds.
        "auto_stack": False,
        "num_bag_folds": data.cv_folds if data.cv_folds > 1 else 0,
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
    if get_metric(data.metric, data.problem_type).thresholded:
        # AutoGluon early-stops its boosted models and its MLP on the eval metric (log loss for roc_auc
        # only), and with bagging each child stops on the fold it is then scored on. A label metric peaks
        # within a few rounds on a small table, so the children keep those rounds: near-uniform
        # probabilities (penguins' CatBoost bag: out-of-fold log loss 0.62 at 0.985 accuracy), an
        # out-of-fold accuracy chosen on its own rows, and refits of few rounds. They stop on log loss, as
        # the Optuna families do, and at the families' round cap: where every valid row is classified
        # right, log loss falls at every round and AutoGluon's own cap is 10,000. The MLP keeps stopping on
        # the metric: on log loss it trained twice as long there (penguins: 8.2 s against 3.7 s).
        fit_kwargs["ag_args_fit"] = {"stopping_metric": "log_loss"}
        fit_kwargs["hyperparameters"] = _round_capped(fit_kwargs["hyperparameters"], data.metric)
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
    re-raised once `fit` returns. Past `fit_deadline` (a `time.monotonic()` reading), no model other than the
    weighted ensemble is started: AutoGluon's own time limit lets a model run past it.
    """

    def __init__(self, reporter: Reporter, metric: str, problem_type: str, fit_deadline: float | None = None) -> None:
        self.fit_deadline = fit_deadline
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
                late = progress.fit_deadline is not None and time.monotonic() > progress.fit_deadline
                skip = late and not str(model.name).startswith("WeightedEnsemble")
                return progress.pruned is not None, skip

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


def _fold_name(X: pd.DataFrame) -> str:
    name = "__workbench_fold__"
    while name in X.columns:
        name += "_"
    return name


def _training_frame(data: TrialData) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """AutoGluon's training and tuning data: the train rows and the valid rows, or with cross-validation the
    selection rows (train rows then valid rows) with their folds, and no tuning data."""
    label = _label_name(data.X_train)
    if data.cv_folds == 1:
        train = data.X_train.reset_index(drop=True).assign(**{label: data.y_train})
        return train, data.X_valid.reset_index(drop=True).assign(**{label: data.y_valid})
    rows = pd.concat([data.X_train, data.X_valid], ignore_index=True)
    return rows.assign(**{label: data.y_selection, _fold_name(data.X_train): data.selection_folds()}), None


def _disk_usage(folder: Path) -> tuple[int, dict[str, int]]:
    """The bytes of a predictor's folder, and those under each entry of its models/ folder (one per model,
    and the trainer's files beside them), in one walk."""
    total = 0
    entries: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            size = path.stat().st_size
            total += size
            parts = path.relative_to(folder).parts
            if len(parts) > 1 and parts[0] == "models":
                entries[parts[1]] = entries.get(parts[1], 0) + size
    return total, entries


def _sizes(usage: tuple[int, dict[str, int]], names: list[str], ancestors: dict[str, list[str]]) -> dict[str, int]:
    """Each model's bytes as a candidate: its own, its ancestors' and the files every model shares."""
    total, entries = usage
    shared = total - sum(entries.get(name, 0) for name in names)
    own = {name: entries.get(name, 0) for name in names}
    return {name: shared + own[name] + sum(own.get(a, 0) for a in ancestors.get(name, [])) for name in names}


def _available_memory() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def _fit(plan: FitPlan, data: TrialData, folder: Path, progress: _Progress) -> Any:
    TabularPredictor = tabular_predictor()
    label = _label_name(data.X_train)
    train, tuning = _training_frame(data)
    with _environment(plan.env), warnings.catch_warnings():
        # sklearn/pandas/lightgbm emit warnings inside AutoGluon's model fits (n_quantiles, deprecated
        # n_jobs, ...): third-party noise, and under `-W error` AutoGluon would drop those models.
        warnings.simplefilter("ignore")
        predictor = TabularPredictor(label=label, path=str(folder), **plan.predictor_kwargs)
        started = time.monotonic()
        predictor.fit(
            train,
            tuning_data=tuning,
            callbacks=[progress.callback()],
            raise_on_no_models_fitted=False,
            **plan.fit_kwargs,
        )
    if not predictor.model_names():
        raise RuntimeError(_no_model_reason(predictor, time.monotonic() - started, plan.fit_kwargs.get("time_limit")))
    return predictor


def _no_model_reason(predictor: Any, seconds: float, time_limit: float | None) -> str:
    """Why a fit made no model, in one sentence: each model's error (AutoGluon's own message only says to
    raise its verbosity, which a trial keeps at 0), or that no model finished within the time limit."""
    failures = predictor.model_failures()
    took = f"AutoGluon fitted no model in {seconds:.0f} s" + (f" of its {time_limit:.0f} s" if time_limit else "")
    if failures.empty:
        return f"{took}: no model finished in time (a busier machine or a longer --time-limit)"
    errors = "; ".join(f"{row.model}: {row.exc_type}: {row.exc_str}"[:300] for row in failures.itertuples())
    return f"{took}; each model failed: {errors}"


def _out_of_fold(predictor: Any, data: TrialData) -> dict[str, np.ndarray]:
    """Each bagged model's out-of-fold predictions of the selection rows, in their order (probabilities in
    `data.classes` order, as `AutoGluonModel.prediction` gives them). AutoGluon reads them with its cached
    training rows, so this runs before `save_space` drops those. A model whose folds do not cover every row
    (its bag stopped early) is left out: it has no selection score."""
    train, _ = _training_frame(data)
    rows = pd.RangeIndex(len(train))
    out: dict[str, np.ndarray] = {}
    for name in predictor.model_names():
        if data.classes is None:
            values = predictor.predict_oof(name, train_data=train).reindex(rows).to_numpy(dtype=float)
        else:
            proba = predictor.predict_proba_oof(name, as_multiclass=True, train_data=train).reindex(rows)
            if proba.isna().any().any():
                continue
            values = reorder_proba(proba, data.classes)
        if np.isfinite(values).all():
            out[name] = values
    return out


def _save_space(predictor: Any, folder: Path, bagged: bool) -> None:
    """Drop what predicting does not need (AutoGluon's cached rows, ...). A bag keeps its child template (the
    hyperparameters a finalize's refit_full fits one child with); its out-of-fold predictions, which can be
    large and are read by then (`_out_of_fold`), go."""
    predictor.save_space(remove_fit_stack=not bagged)
    if bagged:
        for path in folder.glob("models/*/utils/oof.pkl"):
            path.unlink()


def _board(predictor: Any) -> pd.DataFrame:
    """AutoGluon's leaderboard (scores, fit and prediction times) with each model's ancestors and type.

    Read from the trainer's model graph: `leaderboard(extra_info=True)` would load every model and measure
    its memory, a garbage collection per model (2.3 s of a 35 s trial on flights' 3-fold bags). A bag's
    type is its children's (LGBModel, not StackerEnsembleModel); the weighted ensemble keeps its own."""
    with warnings.catch_warnings():  # AutoGluon's leaderboard uses deprecated pandas calls (third-party noise)
        warnings.simplefilter("ignore")
        board: pd.DataFrame = predictor.leaderboard().set_index("model")
    trainer = predictor._trainer
    names = list(board.index)
    board["ancestors"] = [sorted(set(trainer.get_minimum_model_set(name)) - {name}) for name in names]
    board["model_type"] = [_model_type(trainer, name) for name in names]
    return board


def _model_type(trainer: Any, name: str) -> str:
    outer = trainer.get_model_attribute(name, "type").__name__
    if outer in MODEL_TYPES:
        return str(outer)
    return str(trainer.get_model_attribute(name, "type_inner").__name__)


def _keep_within(board: pd.DataFrame, folder: Path, data: TrialData, seconds: float | None) -> list[str]:
    """The models to make candidates of, best valid score first: all of them, or, when their predicting,
    timing, loading and zipping would take more than `seconds` (estimated from AutoGluon's own prediction
    times and the models' sizes), the best ones that fit; when none fits, the one that costs least.

    With cross-validation the models are bags of k children: AutoGluon's prediction time is then that of
    its out-of-fold predictions (each selection row predicted once, by the child that held it out), while
    predicting new rows runs all k children; only the test rows are predicted."""
    names = list(board.sort_values("score_val", ascending=False, kind="stable").index)
    if seconds is None:
        return names
    k = data.cv_folds
    n_scored = max(1, len(data.y_selection))  # the rows AutoGluon's prediction time is for
    rows = len(data.X_test) + (len(data.X_valid) if k == 1 else 0)
    own = _disk_usage(folder)[1]

    def cost(name: str, loaded: set[str]) -> tuple[float, set[str]]:
        predict_s = float(board.at[name, "pred_time_val"] or 0.0)  # ancestors included
        # A call runs the feature pipeline once and every child of the model and of the models it is built on.
        one_row_s = CALL_S + CHILD_CALL_S * k * (1 + len(board.at[name, "ancestors"]))
        # Predicting the rows (AutoGluon's time leaves out its feature pipeline), then timing.
        seconds = MODEL_S / 2 + 2 * k * predict_s * rows / n_scored + rows * ROW_S + measuring_s(one_row_s)
        new = ({name} | set(board.at[name, "ancestors"])) - loaded
        return seconds + sum(own.get(m, 0) for m in new) * (1 / ZIP_BYTES_PER_S + 1 / LOAD_BYTES_PER_S), new

    kept: list[str] = []
    loaded: set[str] = set()
    total = 0.0
    for name in names:
        seconds_needed, new = cost(name, loaded)
        if total + seconds_needed > seconds:
            continue
        kept.append(name)
        loaded |= new
        total += seconds_needed
    return kept or [min(names, key=lambda name: cost(name, set())[0])]


def _candidates(
    predictor: Any,
    folder: Path,
    config: dict[str, Any],
    data: TrialData,
    schema: InputSchema,
    plan: FitPlan,
    resources: WorkerResources,
    board: pd.DataFrame,
    names: list[str],
    out_of_fold: dict[str, np.ndarray] | None = None,
) -> list[CandidateResult]:
    """Candidates of the models `names`, in that order; once the deadline of `resources` has passed, the
    remaining ones are left out (the first is always made). With cross-validation, `out_of_fold` holds each
    model's out-of-fold predictions of the selection rows (`_out_of_fold`), its uncalibrated valid predictions."""
    # What the fit was given, recorded with every candidate: cores, time limit and (with bagging) folds.
    given = {"ag_num_cpus": plan.fit_kwargs["num_cpus"], "ag_time_limit_s": plan.fit_kwargs["time_limit"]}
    if data.cv_folds > 1:
        given["ag_cv_folds"] = data.cv_folds
    present = list(predictor.model_names())  # the candidates and the models they need
    ancestors = {name: list(board.at[name, "ancestors"]) for name in present}
    usage = _disk_usage(folder)
    sizes = _sizes(usage, present, ancestors)
    if sum(usage[1].values()) <= PERSIST_MEMORY_SHARE * _available_memory():
        with warnings.catch_warnings():  # persisting loads pickles (third-party noise)
            warnings.simplefilter("ignore")
            # Latency as a server measures it: in memory. AutoGluon's own memory check (max_memory) would
            # load every model and collect garbage once per model to size them: the folder's bytes do.
            predictor.persist(models="all", with_ancestors=True, max_memory=None)
    candidates: list[CandidateResult] = []
    for name in names:
        if candidates and resources.out_of_time():
            break
        model = AutoGluonModel(folder, name, data.problem_type, data.classes, schema, predictor=predictor)
        valid_raw = model.prediction(data.X_valid) if out_of_fold is None else out_of_fold[name]
        valid_pred, test_pred, calibration = calibrate_candidate(
            model, data, valid_raw, model.prediction(data.X_test), int(config.get("seed", 0))
        )
        latency = measure_latency(model, data.X_valid)
        ag_type = str(board.at[name, "model_type"])
        candidates.append(
            CandidateResult(
                name=name,
                model_type=MODEL_TYPES.get(ag_type, ag_type),
                valid_pred=valid_pred,
                test_pred=test_pred,
                valid_score=score_predictions(
                    data.metric, data.problem_type, data.y_selection, valid_pred, data.classes
                ),
                test_score=score_predictions(data.metric, data.problem_type, data.y_test, test_pred, data.classes),
                fit_time_s=float(board.at[name, "fit_time"]),
                predict_row_ms=latency.row_ms,
                predict_batch_ms=latency.batch_ms,
                size_bytes=sizes[name],
                params={
                    **config,
                    "model": name,
                    "ag_model_type": ag_type,
                    "ag_ancestors": sorted(ancestors[name]),
                    **given,
                },
                artifact=ARTIFACT_NAME,
                model_in_artifact=name,
                calibration=None if calibration is None else calibration.to_dict(),
            )
        )
    return candidates


def run_autogluon_trial(
    spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter
) -> TrialResult:
    """One AutoGluon fit with the configuration `spec.params` (see `autogluon_configs`).

    The seed is `spec.params["seed"]` (else `spec.seed`); the fit's time limit is the config's budget capped
    by what the trial has left (see `_time_limit`), and it uses `resources.cpus` cores. Every candidate's
    params record what the fit was given (`ag_num_cpus`, `ag_time_limit_s`, and with cross-validation
    `ag_cv_folds`). Exceptions (TrialPruned included) propagate to the caller.
    """
    # Imported before the time limit is set: the import takes 2 s (more beside another trial), which
    # would otherwise come out of the fit's time and end the trial that much past its deadline.
    tabular_predictor()  # and what importing it made kept out of AutoGluon's garbage collections
    config = {"seed": spec.seed, **spec.params}
    time_limit = _time_limit(config, spec, resources, _post_fit_s(config, data))
    fit_deadline = time.monotonic() + time_limit if time_limit is not None else None
    progress = _Progress(reporter, data.metric, data.problem_type, fit_deadline)
    plan = _fit_kwargs(config, data, resources, time_limit)
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
            out_of_fold = _out_of_fold(predictor, data) if data.cv_folds > 1 else None
            _save_space(predictor, folder, bagged=out_of_fold is not None)
            board = _board(predictor)
            fitted = len(board)
            if out_of_fold is not None:  # a model without a selection score is no candidate
                board = board[board.index.isin(list(out_of_fold))]
                if board.empty:
                    raise RuntimeError("AutoGluon fitted no model with out-of-fold predictions of every row")
            names = _keep_within(board, folder, data, resources.time_left())
            if len(names) < fitted:  # what would run past the deadline goes; the zip holds the rest
                predictor.delete_models(models_to_keep=names, dry_run=False)
        artifact = predictor_to_zip(folder, data.problem_type, data.classes, schema)
        candidates = _candidates(predictor, folder, config, data, schema, plan, resources, board, names, out_of_fold)
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
