"""Loading the fitted model behind a stored candidate or ensemble."""

from __future__ import annotations

import pickle
from typing import Any

from workbench.errors import InvalidInputError, NotFoundError
from workbench.model import AutoGluonModel, Calibration, EnsembleModel, FittedModel, autogluon_cache_dir, loads_model
from workbench.store import Workspace
from workbench.store import ensembles as ensemble_rows
from workbench.store import trials as records

__all__ = ["load_candidate_model", "load_ensemble_model", "load_model"]


def load_candidate_model(workspace: Workspace, candidate: records.CandidateRow) -> FittedModel:
    """The candidate's model from its checksummed artifact (AutoGluon: one model inside a predictor), with
    the calibration decided for it."""
    if not candidate.artifact_key:
        raise InvalidInputError(f"Candidate {candidate.name} has no stored model.")
    blob = workspace.store.read_artifact(candidate.artifact_key)
    model: FittedModel
    if candidate.model_in_artifact:
        cache = autogluon_cache_dir(workspace.settings.home)
        model = AutoGluonModel.from_zip(blob, candidate.model_in_artifact, cache_dir=cache)
    else:
        model = loads_model(blob)
    if candidate.calibration is not None:  # an AutoGluon zip holds several candidates: the row holds it
        model.calibration_ = Calibration.from_dict(candidate.calibration)
    return model


def load_ensemble_model(workspace: Workspace, ensemble_id: int) -> EnsembleModel:
    row = ensemble_rows.get_ensemble(workspace.store, ensemble_id)
    if row is None:
        raise NotFoundError(f"There is no saved ensemble {ensemble_id}.")
    candidates = {c.id: c for c in records.list_candidates(workspace.store, row.experiment_id)}
    members = [load_candidate_model(workspace, candidates[m["candidate_id"]]) for m in row.members]
    meta_key = row.spec.get("meta_key")
    meta = _loads_meta(workspace.store.read_artifact(meta_key)) if meta_key else None
    experiment = workspace.experiment(row.experiment_id)
    return EnsembleModel(
        members,
        [m["name"] for m in row.members],
        experiment.problem_type,
        row.spec.get("classes"),
        weights=[m["weight"] for m in row.members],
        meta=meta,
    )


def load_model(workspace: Workspace, experiment_id: int, key: str) -> FittedModel:
    """The model behind a leaderboard key of the experiment: "c12" (a candidate) or "e3" (an ensemble)."""
    kind, number = key[:1], key[1:]
    if kind not in ("c", "e") or not number.isdigit():
        raise InvalidInputError(f"{key!r} is not a model key; keys look like c12 (a candidate) or e3 (an ensemble).")
    if kind == "e":
        row = ensemble_rows.get_ensemble(workspace.store, int(number))
        if row is None or row.experiment_id != experiment_id:
            raise NotFoundError(f"Experiment {experiment_id} has no ensemble {key}.")
        return load_ensemble_model(workspace, row.id)
    candidate = records.get_candidate(workspace.store, int(number))
    if candidate is None or candidate.experiment_id != experiment_id:
        raise NotFoundError(f"Experiment {experiment_id} has no candidate {key}.")
    return load_candidate_model(workspace, candidate)


def _loads_meta(blob: bytes) -> Any:
    """A stacking meta-model this workspace pickled itself (a checksummed artifact)."""
    return pickle.loads(blob)
