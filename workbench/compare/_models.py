"""Loading the fitted model behind a stored candidate or ensemble."""

from __future__ import annotations

import json
from typing import Any

from workbench.model import EnsembleModel, FittedModel, loads_model
from workbench.store import Workspace
from workbench.store import trials as records

__all__ = ["load_candidate_model", "load_ensemble_model"]


def load_candidate_model(workspace: Workspace, candidate: records.CandidateRow) -> FittedModel:
    """The candidate's model from its checksummed artifact (AutoGluon: one model inside a predictor)."""
    if not candidate.artifact_key:
        raise ValueError(f"candidate {candidate.name} has no stored model")
    blob = workspace.store.read_artifact(candidate.artifact_key)
    if candidate.model_in_artifact:
        from workbench.model import AutoGluonModel

        cache = workspace.settings.home / "cache" / "autogluon"
        return AutoGluonModel.from_zip(blob, candidate.model_in_artifact, cache_dir=cache)
    return loads_model(blob)


def _candidates_by_id(workspace: Workspace, experiment_id: int) -> dict[int, records.CandidateRow]:
    return {c.id: c for c in records.list_candidates(workspace.store, experiment_id)}


def load_ensemble_model(workspace: Workspace, ensemble_id: int) -> EnsembleModel:
    row = workspace.store.conn.execute("SELECT * FROM ensembles WHERE id = ?", (ensemble_id,)).fetchone()
    if row is None:
        raise LookupError(f"no ensemble {ensemble_id}")
    spec: dict[str, Any] = json.loads(row["members_json"])
    candidates = _candidates_by_id(workspace, row["experiment_id"])
    members = [load_candidate_model(workspace, candidates[m["candidate_id"]]) for m in spec["members"]]
    meta = loads_meta(workspace.store.read_artifact(spec["meta_key"])) if spec.get("meta_key") else None
    experiment = workspace.experiment(row["experiment_id"])
    return EnsembleModel(
        members,
        [m["name"] for m in spec["members"]],
        experiment.problem_type,
        spec.get("classes"),
        weights=[m["weight"] for m in spec["members"]],
        meta=meta,
    )


def loads_meta(blob: bytes) -> Any:
    import pickle

    return pickle.loads(blob)
