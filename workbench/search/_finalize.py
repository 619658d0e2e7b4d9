"""Finalizing: after selection, the chosen candidate is refitted on more rows with what was selected.

Selection uses the train rows to fit and the valid rows to choose; the test rows only measure. Once a
model is chosen, those held-out rows are worth more as training rows (as PyCaret's `finalize_model` and
H2O's final models use them): a final is the same candidate refitted with the same hyperparameters on
"all" rows (train + valid + test) or on "train+valid" (which keeps the test score an exact measure).

- Optuna candidates: the family refitted with its parameters, boosting rounds (and MLP epochs) fixed to
  the number early stopping chose, scaled by the ratio of rows (`families.refit_model`).
- AutoGluon candidates: AutoGluon's own refit_full of that model (`_autogluon_refit`). A bag (a
  cross-validated trial's) whose refit as a bag is quick (REBAG_S) is refitted as a bag of as many
  children on the new rows; a slower one as refit_full's one child.

An MLP whose refit is quick (small tables) is refitted with several seeds, as many as fit in a few
seconds, and its final averages them: on a few hundred rows one refit's score depends on its seed as much
as on its hyperparameters. On grunfeld (176 rows), 5 refits each of the 8 best MLPs of a search scored
0.79-0.99 r2 on rows none of them saw (mean 0.953); each MLP's 5-seed average scored 0.95-0.98 (mean 0.974).

A final keeps its candidate's probability calibration (the temperature decided on the valid rows at
selection): a family final carries it in its pickle, an AutoGluon final gets it from the candidate's row
when it is loaded or registered.

A final is stored beside its candidate (the `finals` table and an artifact); the candidate's scores stay
those measured at selection. With a Dask client the refit runs as a task on the cluster, else here.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from workbench.data import Split
from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.metrics import get_metric
from workbench.search._protocol import TrialData, WorkerResources
from workbench.store import Experiment, FinalRow, Store, Workspace, trial_data
from workbench.store import finals as final_rows
from workbench.store import trials as records

__all__ = [
    "FINALIZE_MODES",
    "FinalizeMode",
    "Refit",
    "RefitStopped",
    "best_candidate",
    "best_candidates",
    "check_finalize_mode",
    "estimated_refit_s",
    "final_data",
    "finalize_candidate",
    "finalize_candidates",
    "rebags",
    "refit_candidate",
    "refit_scale",
]

FinalizeMode = Literal["all", "train+valid", "none"]
# How often a refit on a cluster looks for a stop request while it waits.
STOP_POLL_S = 0.5


class Refit(NamedTuple):
    """A candidate refitted (`refit_candidate`): the artifact's bytes and the model's name in it (None: the
    pickle is the model), the fit's seconds, for an AutoGluon model the names in the artifact of the models
    it is built on (refitted with it), the number of seeds averaged, and the refitted models that are bags
    of more than one child, with how many (the folds they were refitted over)."""

    blob: bytes
    name: str | None
    fit_time_s: float
    ancestors: dict[str, str]
    seeds: int
    bag_folds: dict[str, int]


class RefitStopped(WorkbenchError):
    """A refit on a cluster cancelled by a stop request before it ended; nothing was recorded."""


# Loading a candidate's artifact and storing its final, besides the refit itself.
REFIT_OVERHEAD_S = 2.0
# A refit's time as a share of its candidate's fit time (per child) times the rows' scale, as measured
# (see `_refit_s`): Optuna boosting and forests 0.25-0.65; AutoGluon bags and ensembles 0.5-0.7, and up
# to 1.05 on small ones that the fixed overhead covers. AutoGluon's boosting models refit with their
# rounds scaled by the rows too (`_autogluon_refit`): their share is also times the scale (measured with
# a scale of 1.67 on flights and nyc_weather_precip: 0.94-1.16 of the fit time per child times the scale).
OPTUNA_REFIT_SHARE = 0.7
AUTOGLUON_REFIT_SHARE = 0.6
AUTOGLUON_BOOSTED_REFIT_SHARE = 0.7
AUTOGLUON_BOOSTING = ("LightGBM", "XGBoost", "CatBoost")  # AutoGluon's names for them start so
FINALIZE_MODES: tuple[FinalizeMode, ...] = ("all", "train+valid", "none")
# Families whose final averages several seeds' refits: at most SEED_BAG of them, and after the first only
# while they fit in SEED_BAG_S seconds in all (an ensemble's members share it), timed as they are made.
SEED_BAG_FAMILIES = ("mlp",)
SEED_BAG = 5
SEED_BAG_S = 3.0
# Seed k of a bag is the candidate's seed + k x SEED_STRIDE (seed 0 of the bag is the candidate's own).
SEED_STRIDE = 1000
# An AutoGluon bag is refitted as a bag (k children, `_autogluon_refit`) when that is expected to take at
# most REBAG_S seconds (`_rebag_s`), else as one child.
REBAG_S = 5.0


def check_finalize_mode(mode: str) -> FinalizeMode:
    if mode not in FINALIZE_MODES:
        raise InvalidInputError(
            f"finalize must be 'all' (every row), 'train+valid' (keeps the test rows unseen) or 'none', not {mode!r}."
        )
    return mode


def final_data(data: TrialData, mode: FinalizeMode) -> TrialData:
    """`data` whose train rows are the rows a final of `mode` trains on (its valid and test rows as they were)."""
    frames = [data.X_train, data.X_valid] + ([data.X_test] if mode == "all" else [])
    targets = [data.y_train, data.y_valid] + ([data.y_test] if mode == "all" else [])
    return replace(data, X_train=pd.concat(frames, ignore_index=True), y_train=np.concatenate(targets))


def refit_candidate(
    engine: str,
    model_type: str,
    params: dict[str, Any],
    model_in_artifact: str | None,
    blob: bytes,
    data: TrialData,
    seed: int,
    scale: float,
    seeds: int = 1,
    seeds_s: float = 0.0,
    rebag: bool = False,
) -> Refit:
    """Refit one stored candidate on data's train rows (see `Refit`). A family model is refitted with
    `seed`, then with seed + SEED_STRIDE, ... up to `seeds` times while the refits after the first, and one
    more as long as the last, take at most `seeds_s` seconds; several refits make an EnsembleModel of equal
    weights. An AutoGluon model's bags are refitted as bags with `rebag` (see `_autogluon_refit`).

    A plain function of its arguments, so that it runs as a Dask task on a worker as well as here."""
    # Finalize runs once the trials are over: the host's other cores are idle, so the refit takes them all.
    current = WorkerResources.current()
    resources = replace(current, cpus=max(current.cpus, os.cpu_count() or 1))
    start = time.perf_counter()
    if engine == "autogluon":
        from workbench.search.engines._autogluon_refit import refit_autogluon

        assert model_in_artifact is not None
        zipped, name, ancestors, bags = refit_autogluon(blob, model_in_artifact, data, resources, rebag)
        return Refit(zipped, name, time.perf_counter() - start, ancestors, 1, bags)
    from workbench.model import EnsembleModel, FittedModel, dumps_model, loads_model
    from workbench.search.families import get_family, refit_model

    selected = loads_model(blob)
    # Imported before the first refit is timed: the first seed's time decides whether others fit in
    # `seeds_s`, and importing torch in a new process takes longer than an MLP refit on a small table.
    get_family(model_type).import_modules()

    def refit_with(k: int) -> tuple[FittedModel, float]:
        """The refit with seed + k x SEED_STRIDE, and how long it took."""
        began = time.perf_counter()
        refit = refit_model(model_type, selected, params, data, resources, seed + SEED_STRIDE * k, scale)
        if selected.calibration_ is not None:  # the temperature decided on the valid rows at selection is kept
            refit.calibration_ = selected.calibration_
        return refit, time.perf_counter() - began

    # The first refit is made whatever its time; the others only while they fit in `seeds_s`.
    first, last_s = refit_with(0)
    refits = [first]
    more_since = time.perf_counter()
    while len(refits) < seeds and time.perf_counter() - more_since + last_s <= seeds_s:
        refit, last_s = refit_with(len(refits))
        refits.append(refit)
    model: FittedModel = refits[0]
    if len(refits) > 1:
        names = [f"seed {seed + SEED_STRIDE * k}" for k in range(len(refits))]
        model = EnsembleModel(refits, names, selected.problem_type, selected.classes_)
    return Refit(dumps_model(model), None, time.perf_counter() - start, {}, len(refits), {})


def best_candidates(workspace: Workspace, experiment: Experiment, n: int) -> list[records.CandidateRow]:
    """The experiment's `n` best candidates by valid score (ties: the older first), as the leaderboard
    ranks them."""
    greater = get_metric(experiment.metric, experiment.problem_type).greater_is_better
    return records.best_candidates(workspace.store, experiment.id, n, greater)


def best_candidate(workspace: Workspace, experiment: Experiment) -> records.CandidateRow | None:
    """The experiment's best candidate by valid score (ties: the older), as the leaderboard ranks them."""
    best = best_candidates(workspace, experiment, 1)
    return best[0] if best else None


def refit_scale(split: Split, mode: FinalizeMode) -> float:
    """How many times the train rows of `split` a refit in `mode` fits on."""
    n_train, n_valid, n_test = (len(split.train), len(split.valid), len(split.test))
    return (n_train + n_valid + (n_test if mode == "all" else 0)) / max(1, n_train)


def estimated_refit_s(
    workspace: Workspace,
    candidates: records.CandidateRow | Sequence[records.CandidateRow],
    mode: FinalizeMode,
    scale: float | None = None,
) -> float:
    """About how long finalizing a candidate (or an ensemble's members) takes: the fit times scaled by the
    rows added (`scale`, default `refit_scale`), plus loading and storing artifacts."""
    rows = [candidates] if isinstance(candidates, records.CandidateRow) else list(candidates)
    if not rows:
        return 0.0
    if scale is None:
        scale = refit_scale(workspace.split(workspace.experiment(rows[0].experiment_id)), mode)
    seeds_s = _seeds_share_s(len(rows))
    return sum(_final_s(c, scale, seeds_s) for c in rows if not _within_another(c, rows)) + REFIT_OVERHEAD_S


def _seeds_share_s(members: int) -> float:
    """The seconds each of `members` candidates finalized together has for its seeds after the first."""
    return SEED_BAG_S / max(1, members)


def _bag_seeds(candidate: records.CandidateRow) -> int:
    """The most seeds the final of `candidate` may average."""
    return SEED_BAG if candidate.engine != "autogluon" and candidate.model_type in SEED_BAG_FAMILIES else 1


def _final_s(candidate: records.CandidateRow, scale: float, seeds_s: float) -> float:
    """A candidate's final: one refit (`_refit_s`), and for a seed bag the others made in `seeds_s`."""
    one = _refit_s(candidate, scale)
    if _bag_seeds(candidate) == 1 or one > seeds_s:
        return one
    return one + min((_bag_seeds(candidate) - 1) * one, seeds_s)


def rebags(candidate: records.CandidateRow, scale: float) -> bool:
    """Whether the final of `candidate` refits its AutoGluon bags as bags: a cross-validated AutoGluon
    candidate whose refit so is expected within REBAG_S."""
    if candidate.engine != "autogluon" or int(candidate.params.get("ag_cv_folds") or 1) < 2:
        return False
    return _rebag_s(candidate, scale) <= REBAG_S


def _rebag_s(candidate: records.CandidateRow, scale: float) -> float:
    """About how long refitting an AutoGluon candidate's bags as bags takes: each child on k-1 folds of the
    new rows, as each was on k-1 folds of the rows it was fitted on (early stopping on its fold decides its
    rounds, as it did)."""
    return (candidate.fit_time_s or 0.0) * scale * AUTOGLUON_REFIT_SHARE


def _within_another(candidate: records.CandidateRow, rows: Sequence[records.CandidateRow]) -> bool:
    """Whether `candidate` is an AutoGluon model that another of `rows` (from the same fit) is built on: an
    AutoGluon fit time counts its ancestors', and refitting the other refits it too."""
    if candidate.engine != "autogluon" or candidate.trial_id is None:
        return False
    return any(
        other is not candidate
        and other.trial_id == candidate.trial_id
        and candidate.model_in_artifact in (other.params.get("ag_ancestors") or ())
        for other in rows
    )


def _refit_s(candidate: records.CandidateRow, scale: float) -> float:
    """One candidate's refit: its fit time times the rows' `scale`, times a share measured on refits
    (flights, nyc_weather_precip, seattle_weather). A bagged AutoGluon model's fit time is its k children's
    (its ancestors' included) and its refit_full fits one child, with every core where the fit had its
    trial's (AUTOGLUON_REFIT_SHARE); one that is or is built on a boosting model also trains more rounds
    (AUTOGLUON_BOOSTED_REFIT_SHARE, times the scale).
    An Optuna candidate's fit time includes its early stopping (scoring the valid rows every round, rounds
    past the best), which its refit, with the rounds fixed, does not (OPTUNA_REFIT_SHARE). A bag refitted as
    a bag (`rebags`) refits all k children (`_rebag_s`)."""
    if rebags(candidate, scale):
        return _rebag_s(candidate, scale)
    if candidate.engine == "autogluon":
        bag = max(1, int(candidate.params.get("ag_cv_folds") or 1))
        names = [candidate.model_in_artifact or "", *(candidate.params.get("ag_ancestors") or ())]
        boosted = any(name.startswith(AUTOGLUON_BOOSTING) for name in names)
        share = AUTOGLUON_BOOSTED_REFIT_SHARE * max(1.0, scale) if boosted else AUTOGLUON_REFIT_SHARE
        return (candidate.fit_time_s or 0.0) / bag * scale * share
    return (candidate.fit_time_s or 0.0) * scale * OPTUNA_REFIT_SHARE


def _where_fitted(store: Store, candidate: records.CandidateRow) -> dict[str, Any]:
    """Dask's placement of a candidate's refit: preferably the worker its trial ran on, which has imported
    what the refit imports (torch takes seconds to import in a new process, more than a small table's MLP
    refit and more than its estimate allows); any worker when that one is busy or gone."""
    trial = records.get_trial(store, candidate.trial_id) if candidate.trial_id is not None else None
    if trial is None or not trial.worker:
        return {}
    return {"workers": [trial.worker], "allow_other_workers": True}


def _result(future: Any, stop: Callable[[], bool] | None, name: str) -> Refit:
    """The refit's result, once its task ends; cancelled as soon as `stop` says so."""
    from distributed import wait

    while stop is not None:
        try:
            wait(future, timeout=STOP_POLL_S)
            break
        except TimeoutError:
            if stop():
                future.cancel()
                raise RefitStopped(f"The refit of {name} was stopped by request before it ended.") from None
    result: Refit = future.result()
    return result


def _seed(workspace: Workspace, experiment: Experiment, candidate: records.CandidateRow) -> int:
    """The seed the candidate was fitted with: the search's seed plus its trial's number (as the driver gives)."""
    trial = records.get_trial(workspace.store, candidate.trial_id) if candidate.trial_id is not None else None
    search_seed = int((experiment.search or {}).get("seed") or 0)
    return search_seed + (trial.number if trial is not None else 0)


def finalize_candidates(
    workspace: Workspace,
    candidate_ids: Sequence[int],
    mode: FinalizeMode,
    *,
    client: Any = None,
    stop: Callable[[], bool] | None = None,
) -> list[FinalRow]:
    """The finals of several candidates (an ensemble's members), in the order given. AutoGluon models built
    on others are refitted first: their refit refits those others too, which then need no refit of their
    own (`finalize_candidate`). Seed bags share SEED_BAG_S."""
    store = workspace.store

    def ancestors(candidate_id: int) -> int:
        row = records.get_candidate(store, candidate_id)
        return len(row.params.get("ag_ancestors") or ()) if row is not None and row.engine == "autogluon" else 0

    done = {
        i: finalize_candidate(workspace, i, mode, client=client, stop=stop, seeds_s=_seeds_share_s(len(candidate_ids)))
        for i in sorted(candidate_ids, key=ancestors, reverse=True)
    }
    return [done[i] for i in candidate_ids]


def finalize_candidate(
    workspace: Workspace,
    candidate_id: int,
    mode: FinalizeMode,
    *,
    client: Any = None,
    data: TrialData | None = None,
    stop: Callable[[], bool] | None = None,
    seeds_s: float = SEED_BAG_S,
) -> FinalRow:
    """The final of candidate `candidate_id` in `mode` ("all" or "train+valid"), made now unless it exists.

    client: a Dask client to refit on a worker (default: in this process); while it waits, `stop` is asked
    every STOP_POLL_S seconds, and when it says so the refit is cancelled (`RefitStopped`). data: the
    experiment's rows when the caller has them already. seeds_s: the seconds a seed bag's refits after the
    first may take (see `refit_candidate`). Raises what the refit raises; nothing is recorded then."""
    check_finalize_mode(mode)
    if mode == "none":
        raise InvalidInputError("finalize='none' keeps the model as selected; there is nothing to refit.")
    store = workspace.store
    existing = final_rows.get_final(store, candidate_id, mode)
    if existing is not None:
        return existing
    candidate = records.get_candidate(store, candidate_id)
    if candidate is None:
        raise NotFoundError(f"There is no candidate {candidate_id}; see `workbench leaderboard EXPERIMENT`.")
    if not candidate.artifact_key:
        raise InvalidInputError(f"Candidate {candidate_id} has no stored model, so it cannot be refitted.")
    experiment = workspace.experiment(candidate.experiment_id)
    data = data if data is not None else trial_data(workspace, experiment)
    rows = final_data(data, mode)
    scale = len(rows.X_train) / max(1, len(data.X_train))
    args = (
        candidate.engine,
        candidate.model_type,
        candidate.params,
        candidate.model_in_artifact,
        store.read_artifact(candidate.artifact_key),
        rows,
        _seed(workspace, experiment, candidate),
        scale,
        _bag_seeds(candidate),
        seeds_s,
        rebags(candidate, scale),
    )
    if client is not None:
        # The artifact and the rows travel as data, not inside the task's graph (a predictor is megabytes,
        # and Dask warns on the console about large graphs). Keys of their own (hash=False): content-hashed
        # keys are shared by the next member's refit, whose data Dask then loses when this call releases it.
        artifact, rows_data = client.scatter([args[4], args[5]], hash=False)
        remote = (*args[:4], artifact, rows_data, *args[6:])
        future = client.submit(refit_candidate, *remote, pure=False, retries=0, **_where_fitted(store, candidate))
        refit = _result(future, stop, candidate.name)
    else:
        refit = refit_candidate(*args)
    blob, ancestors = refit.blob, refit.ancestors
    digest = hashlib.sha256(blob).hexdigest()[:12]
    filename = "predictor.zip" if candidate.engine == "autogluon" else "model.pkl"
    key = f"experiments/{experiment.id}/finals/{candidate.id}-{mode.replace('+', '-')}-{digest}/{filename}"
    stored = store.put_artifact(key, blob)
    n_rows = len(rows.X_train)
    # The models an AutoGluon model is built on were refitted with it: the candidates of the same fit
    # that are those models get their finals from the same artifact (made once, not refitted again).
    for other in records.list_candidates(store, experiment.id) if ancestors else []:
        full = ancestors.get(other.model_in_artifact or "") if other.trial_id == candidate.trial_id else None
        if full is not None and other.id != candidate.id and final_rows.get_final(store, other.id, mode) is None:
            bag_folds = refit.bag_folds.get(full, 1)
            final_rows.add_final(store, other.id, mode, experiment.id, n_rows, stored.key, full, 0.0, 1, bag_folds)
    # The artifact holds the candidate's model and the models it is built on: its bags are all of these.
    bag_folds = max(refit.bag_folds.values(), default=1)
    return final_rows.add_final(
        store,
        candidate.id,
        mode,
        experiment.id,
        n_rows,
        stored.key,
        refit.name,
        refit.fit_time_s,
        refit.seeds,
        bag_folds,
    )
