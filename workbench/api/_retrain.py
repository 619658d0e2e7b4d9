"""Retrain and promote: a registered model's recipe repeated on new data, the challenger scored against
the production version on the same held-out rows, and promoted (after its contract check) only if better.

The recipe of a version is how its model was made: the experiment's target, problem type, metric and
split, and the trials behind it (engine and fixed parameters: a model family's hyperparameters or an
AutoGluon configuration), with the ensemble's method and weights for an ensemble. A retrain runs exactly
those trials, as a search, on the new dataset.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any

from workbench._json import to_jsonable
from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.data import SplitSpec
from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.api._registry import Promotion
    from workbench.store import Workspace

__all__ = [
    "Challenge",
    "ModelScore",
    "Recipe",
    "RecipeTrial",
    "Retrained",
    "challenge",
    "evaluate_model",
    "model_recipe",
    "retrain",
]


@dataclass(frozen=True)
class RecipeTrial:
    """One trial of a recipe: its engine, its parameters as stored, and which of its models the version
    used (`model_in_trial`: the model inside an AutoGluon predictor; None for an Optuna trial's one model)."""

    engine: str
    params: dict[str, Any]
    model_type: str
    model_in_trial: str | None = None


@dataclass(frozen=True)
class Recipe:
    """How a registered version was made. kind: "candidate" or "ensemble"; trials: the trials to run (an
    ensemble's, each once); members: for each ensemble member, the index of its trial and its weight;
    method: the ensemble's ("manual", "greedy", "stacking")."""

    model: str  # name@version
    kind: str
    experiment_id: int
    dataset: str
    target: str
    problem_type: str
    metric: str
    split: SplitSpec
    trials: tuple[RecipeTrial, ...]
    seed: int = 0
    method: str | None = None
    members: tuple[tuple[int, float], ...] = ()
    member_models: tuple[RecipeTrial, ...] = ()  # which model of its trial each member is

    @property
    def name(self) -> str:
        return self.model.split("@", 1)[0]

    @property
    def engines(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.engine for t in self.trials))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


def _trial_of(workspace: Workspace, candidate_id: int) -> tuple[Any, RecipeTrial]:
    from workbench.store import trials as records

    candidate = records.get_candidate(workspace.store, candidate_id)
    if candidate is None or candidate.trial_id is None:
        raise NotFoundError(f"Candidate c{candidate_id} has no trial to repeat; it cannot be retrained.")
    trial = records.get_trial(workspace.store, candidate.trial_id)
    if trial is None:
        raise NotFoundError(f"The trial of candidate c{candidate_id} is gone; it cannot be retrained.")
    return trial, RecipeTrial(trial.engine, dict(trial.params), candidate.model_type, candidate.model_in_artifact)


def model_recipe(model: str, *, workspace: WorkspaceLike = None) -> Recipe:
    """The recipe of the registered version `model` (`name`, `name@3`, `name@production`)."""
    from workbench.registry import Registry
    from workbench.store import ensembles as ensemble_rows

    ws = resolve_workspace(workspace)
    info = Registry(ws).resolve(model)
    source = info.source
    kind = source.get("kind")
    if kind not in ("candidate", "ensemble") or source.get("experiment_id") is None:
        raise InvalidInputError(
            f"{info.ref} was imported, not trained here: it has no recipe to repeat; register a model of a search."
        )
    experiment = ws.experiment(int(source["experiment_id"]))
    seed = int((experiment.search or {}).get("seed", 0))
    common: dict[str, Any] = {
        "model": info.ref,
        "experiment_id": experiment.id,
        "dataset": experiment.dataset,
        "target": experiment.target,
        "problem_type": experiment.problem_type,
        "metric": experiment.metric,
        "split": experiment.split,
        "seed": seed,
    }
    if kind == "candidate":
        _, trial = _trial_of(ws, int(source["id"]))
        return Recipe(kind="candidate", trials=(trial,), **common)
    row = ensemble_rows.get_ensemble(ws.store, int(source["id"]))
    if row is None:
        raise NotFoundError(f"The ensemble behind {info.ref} is gone; it cannot be retrained.")
    trials: list[RecipeTrial] = []  # each trial once: two members may be two models of one AutoGluon trial
    members: list[tuple[int, float]] = []
    member_models: list[RecipeTrial] = []
    for member in row.members:
        _, wanted = _trial_of(ws, int(member["candidate_id"]))
        index = next((j for j, t in enumerate(trials) if (t.engine, t.params) == (wanted.engine, wanted.params)), None)
        if index is None:
            trials.append(wanted)
            index = len(trials) - 1
        members.append((index, float(member["weight"])))
        member_models.append(wanted)
    return Recipe(
        kind="ensemble",
        trials=tuple(trials),
        method=row.method,
        members=tuple(members),
        member_models=tuple(member_models),
        **common,
    )


@dataclass(frozen=True)
class Retrained:
    """A recipe repeated: the new experiment and the challenger's key in it (a candidate or an ensemble)."""

    recipe: Recipe
    experiment_id: int
    dataset: str
    key: str
    valid_score: float | None
    test_score: float | None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["recipe"] = self.recipe.to_dict()
        return data


def _dataset_for(ws: Workspace, recipe: Recipe, data: str | pd.DataFrame, combine: bool) -> str:
    """The dataset to retrain on: a dataset's name, or a frame registered under a name made from its
    content (the same rows give the same dataset); with `combine`, the recipe's own rows come first."""
    import pandas as pd

    if isinstance(data, str) and not combine:
        ws.dataset(data)  # refused with the known names when it does not exist
        return data
    frame = ws.load(data) if isinstance(data, str) else data
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInputError("Retrain on a dataset's name or a non-empty DataFrame of new rows.")
    if recipe.target not in frame.columns:
        raise InvalidInputError(f"The new rows have no target column {recipe.target!r}; add it to retrain.")
    if combine:
        original = ws.load(recipe.dataset)
        missing = [c for c in original.columns if c not in frame.columns]
        if missing:
            raise InvalidInputError(f"The new rows lack the columns {missing} of {recipe.dataset!r}; add them.")
        frame = pd.concat([original, frame[list(original.columns)]], ignore_index=True)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:10]
    name = f"{recipe.name}-retrain-{digest}"
    known = {entry.name for entry in ws.datasets()}
    if name not in known:
        ws.add_dataset_frame(name, frame, target=recipe.target)
    return name


def _challenger_key(ws: Workspace, recipe: Recipe, experiment_id: int) -> str:
    """The model of the new experiment that plays the recipe's part: the same model of the same trial, or,
    for an ensemble, the ensemble of those models built the same way (saved)."""
    from workbench.compare import build_ensemble, build_weighted_ensemble, load_comparison, save_ensemble
    from workbench.store import trials as records

    trials = {t.id: t for t in records.list_trials(ws.store, experiment_id)}
    candidates = records.list_candidates(ws.store, experiment_id)

    def candidate_for(index: int, wanted: RecipeTrial) -> Any:
        trial = recipe.trials[index]
        ran = [t for t in trials.values() if t.engine == trial.engine and t.params == trial.params]
        ran_ids = {t.id for t in ran}
        pool = [c for c in candidates if c.trial_id in ran_ids]
        same = [c for c in pool if c.model_in_artifact == wanted.model_in_trial and c.model_type == wanted.model_type]
        if not same:
            raise WorkbenchError(
                f"The retrain's trial {index + 1} ({trial.engine}) made no {wanted.model_in_trial or wanted.model_type} "
                "model; see the experiment's trials for why."
            )
        return same[0]

    if recipe.kind == "candidate":
        return f"c{candidate_for(0, recipe.trials[0]).id}"
    experiment = ws.experiment(experiment_id)
    if recipe.method == "stacking":
        built = build_ensemble(ws, experiment, methods=("stacking",))
    else:
        weights: dict[str, float] = {}
        for (index, weight), wanted in zip(recipe.members, recipe.member_models, strict=True):
            key = f"c{candidate_for(index, wanted).id}"
            weights[key] = weights.get(key, 0.0) + weight
        built = build_weighted_ensemble(ws, load_comparison(ws, experiment), weights)
    saved = save_ensemble(ws, experiment, built)
    return f"e{saved.id}"


def retrain(
    model: str,
    data: str | pd.DataFrame,
    *,
    combine: bool = False,
    cluster: str | None = None,
    out: IO[str] | None = None,
    timeout_s: float | None = None,
    workspace: WorkspaceLike = None,
) -> Retrained:
    """Repeat the recipe of `model` on `data` (a dataset's name or a DataFrame of rows; with `combine`, the
    recipe's own dataset plus these rows): a new experiment, split the same way, whose search runs exactly
    the recipe's trials (a background job, followed here with a progress line per change written to `out`,
    default stdout). Returns the challenger's key in that experiment."""
    from workbench.api._flow import follow_search
    from workbench.api._search import search_config, start_search
    from workbench.store import Budget, ExperimentSpec

    ws = resolve_workspace(workspace)
    recipe = model_recipe(model, workspace=ws)
    dataset = _dataset_for(ws, recipe, data, combine)
    spec = ExperimentSpec(
        dataset=dataset,
        target=recipe.target,
        problem_type=recipe.problem_type,
        metric=recipe.metric,
        split=recipe.split,
        budget=Budget(n_trials=len(recipe.trials)),
        name=f"retrain of {recipe.model}",
    )
    experiment = ws.create_experiment(spec)
    families = sorted({str(t.params["family"]) for t in recipe.trials if t.engine == "optuna" and "family" in t.params})
    config = search_config(
        engines=recipe.engines,
        families=families or None,
        n_trials=len(recipe.trials),
        cluster=cluster,
        seed=recipe.seed,
    )
    config = replace(config, replay=tuple({"engine": t.engine, "params": t.params} for t in recipe.trials))
    start_search(experiment.id, config, workspace=ws)
    status = follow_search(experiment.id, out=out or sys.stdout, timeout_s=timeout_s, workspace=ws)
    if status != "finished":
        raise WorkbenchError(f"The retrain's search of experiment {experiment.id} ended {status}; see its job's log.")
    key = _challenger_key(ws, recipe, experiment.id)
    from workbench.api._compare import leaderboard

    row = leaderboard(experiment.id, workspace=ws).row(key)
    return Retrained(recipe, experiment.id, dataset, key, row.valid_score, row.test_score)


@dataclass(frozen=True)
class ModelScore:
    """A model scored on an experiment's held-out rows (its test part unless said otherwise)."""

    model: str  # a registry reference (name@3) or a key of the experiment (c12, e3)
    experiment_id: int
    part: str
    metric: str
    score: float
    rows: int
    greater_is_better: bool

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


def evaluate_model(
    model: str,
    experiment_id: int,
    *,
    part: str = "test",
    unseen_by: int | None = None,
    unseen_test_too: bool = False,
    workspace: WorkspaceLike = None,
) -> ModelScore:
    """Score `model` (a registered `name@version`/`name@alias`, or a key of the experiment such as c12) on
    the experiment's `part` rows ("test" or "valid") with the experiment's metric. `unseen_by`: leave out
    the rows that experiment trained or validated on (so that a model of it is scored on rows it never saw),
    and with `unseen_test_too` its test rows too (for a model of it finalized on all its rows)."""
    from workbench.compare import load_model
    from workbench.metrics import get_metric
    from workbench.model._scoring import score_predictions
    from workbench.registry import Registry

    if part not in ("test", "valid"):
        raise InvalidInputError(f"Unknown part {part!r}; use 'test' or 'valid'.")
    ws = resolve_workspace(workspace)
    experiment = ws.experiment(experiment_id)
    if "@" in model or not (model[:1] in ("c", "e") and model[1:].isdigit()):
        registry = Registry(ws)
        info = registry.resolve(model)
        fitted = registry.load(info.ref).model
        label = info.ref
    else:
        fitted = load_model(ws, experiment.id, model)
        label = model
    rows = ws.rows(experiment)
    X, y = (rows.X_test, rows.y_test) if part == "test" else (rows.X_valid, rows.y_valid)
    if unseen_by is not None:
        keep = ~_seen(ws, unseen_by, X, y, test_too=unseen_test_too)
        X, y = X[keep], y[keep]
        if not len(y):
            raise InvalidInputError(
                f"Every {part} row of experiment {experiment.id} was used by experiment {unseen_by}; "
                "give new rows to compare on."
            )
    if experiment.problem_type == "regression":
        prediction = fitted.predict_values(X)
        classes = None
    else:
        prediction = fitted.predict_proba(X)
        classes = list(fitted.classes_ or ())
    try:
        score = score_predictions(experiment.metric, experiment.problem_type, y, prediction, classes)
    except ValueError as exc:
        raise InvalidInputError(f"{label} cannot be scored on experiment {experiment.id}'s rows ({exc}).") from None
    greater = get_metric(experiment.metric, experiment.problem_type).greater_is_better
    return ModelScore(label, experiment.id, part, experiment.metric, score, len(y), greater)


def _row_hashes(X: pd.DataFrame, y: Any, columns: list[str]) -> Any:
    import pandas as pd

    frame = X[columns].copy()
    frame["__target__"] = list(y)
    return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()


def _seen(ws: Workspace, experiment_id: int, X: pd.DataFrame, y: Any, *, test_too: bool = False) -> Any:
    """Which rows of (X, y) experiment `experiment_id` trained or validated on (same values, same target);
    with `test_too`, its test rows as well (a model finalized on all of its rows learned them)."""
    import numpy as np

    other = ws.rows(ws.experiment(experiment_id))
    columns = [c for c in X.columns if c in other.X_train.columns]
    parts = [(other.X_train, other.y_train), (other.X_valid, other.y_valid)]
    if test_too:
        parts.append((other.X_test, other.y_test))
    used = np.concatenate([_row_hashes(X_part, y_part, columns) for X_part, y_part in parts])
    return np.isin(_row_hashes(X, y, columns), used)


@dataclass(frozen=True)
class Challenge:
    """A challenger against the production version on the same rows, and what was done about it."""

    model: str  # the registered name
    alias: str
    production: ModelScore | None  # None: the alias pointed nowhere yet
    challenger: ModelScore
    better: bool
    promoted: Promotion | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "production": self.production.to_dict() if self.production else None,
            "challenger": self.challenger.to_dict(),
            "better": self.better,
            "promoted": self.promoted.to_dict() if self.promoted else None,
            "reason": self.reason,
            "details": to_jsonable(self.details),
        }


def challenge(
    name: str,
    challenger: str,
    experiment_id: int,
    *,
    alias: str = "production",
    min_improvement: float = 0.0,
    promote: bool = True,
    workspace: WorkspaceLike = None,
) -> Challenge:
    """Score `challenger` (a key of experiment `experiment_id`) and `name@alias` on the same held-out rows:
    that experiment's test rows, less any the production version's own experiment trained or validated on
    (retraining on old plus new rows must not let it be scored on rows it learned). Only when the
    challenger is better by more than `min_improvement` is it registered as the next version of `name` and
    `alias` moved to it, after its contract check."""
    from workbench.api._registry import promote as move
    from workbench.api._registry import register_model
    from workbench.registry import Registry

    ws = resolve_workspace(workspace)
    production: ModelScore | None = None
    try:
        current = Registry(ws).resolve(f"{name}@{alias}")
    except NotFoundError:
        current = None
    source = current.source.get("experiment_id") if current is not None else None
    unseen_by = int(source) if source is not None and int(source) != int(experiment_id) else None
    # A production model finalized on all its experiment's rows learned that experiment's test rows too.
    trained_on = current.metrics.get("trained_on") if current is not None else None
    test_too = isinstance(trained_on, dict) and trained_on.get("mode") == "all"
    new = evaluate_model(challenger, experiment_id, unseen_by=unseen_by, unseen_test_too=test_too, workspace=ws)
    if current is not None:
        production = evaluate_model(
            current.ref, experiment_id, unseen_by=unseen_by, unseen_test_too=test_too, workspace=ws
        )
    sign = 1.0 if new.greater_is_better else -1.0
    rows = f"the same {new.rows} held-out row{'s' if new.rows != 1 else ''} of experiment {experiment_id}"
    if production is None:
        better = True
        reason = f"{name}@{alias} did not exist; the challenger ({new.metric} {new.score:.4f}) takes it"
    else:
        gain = sign * (new.score - production.score)
        better = gain > min_improvement
        comparison = f"{new.metric} {new.score:.4f} vs {production.score:.4f} for {production.model}, on {rows}"
        if better:
            reason = f"the challenger is better: {comparison}"
        else:
            needed = f" by more than {min_improvement:g}" if min_improvement else ""
            reason = f"not promoted: the challenger is not better{needed} ({comparison})"
    promotion = None
    if better and promote:
        description = f"retrained challenger {challenger} of experiment {experiment_id}: {reason}"
        version = register_model(challenger, name, description=description[:500], workspace=ws)
        promotion = move(name, version.version, alias, check=True, workspace=ws)
        reason = f"promoted {version.ref} to {alias}: {reason}"
    elif better:
        reason = f"better, not promoted (promote=False): {reason}"
    return Challenge(name, alias, production, new, better, promotion, reason)
