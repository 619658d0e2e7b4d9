"""Writing a bundle's files for a stored candidate or a saved ensemble, from the workspace store."""

from __future__ import annotations

import io
import json
import platform
import time
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError, NotFoundError
from workbench.model import InputSchema, loads_model
from workbench.model._autogluon import META_NAME
from workbench.model._ensemble import _union_schema
from workbench.store import Workspace
from workbench.store import ensembles as ensemble_rows
from workbench.store import experiments as experiment_rows
from workbench.store import trials as records

__all__ = ["PACKAGES", "BundleContent", "candidate_content", "ensemble_content", "package_versions"]

PACKAGES = ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "catboost", "autogluon.tabular", "torch")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in (*PACKAGES, "workbench"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass
class BundleContent:
    """The files of a bundle (relative path -> bytes) and where it came from."""

    files: dict[str, bytes] = field(default_factory=dict)
    source_kind: str = ""
    source_id: int = 0
    experiment_id: int = 0

    def add_json(self, rel: str, value: Any) -> None:
        self.files[rel] = (json.dumps(to_jsonable(value), indent=2, sort_keys=True) + "\n").encode()

    def write(self, folder: Path) -> None:
        for rel, data in self.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            path.write_bytes(data)


def _candidate(workspace: Workspace, candidate_id: int) -> records.CandidateRow:
    candidate = records.get_candidate(workspace.store, candidate_id)
    if candidate is None:
        raise NotFoundError(f"There is no candidate {candidate_id}; see `workbench leaderboard EXPERIMENT`.")
    if not candidate.artifact_key:
        raise InvalidInputError(f"Candidate {candidate_id} has no stored model; register another candidate.")
    return candidate


def _member_files(workspace: Workspace, candidate: records.CandidateRow, prefix: str) -> tuple[dict[str, Any], bytes]:
    """The member spec (format, file, model name) and the artifact bytes, checked against the store's sha256."""
    assert candidate.artifact_key is not None
    blob = workspace.store.read_artifact(candidate.artifact_key)  # raises if it differs from its sha256
    spec: dict[str, Any]
    if candidate.model_in_artifact:
        spec = {"format": "autogluon", "file": f"{prefix}predictor.zip", "model_name": candidate.model_in_artifact}
    else:
        spec = {"format": "pickle", "file": f"{prefix}model.pkl", "model_name": None}
    return spec, blob


def _schema_and_output(spec: dict[str, Any], blob: bytes) -> tuple[InputSchema, str, list[Any] | None]:
    if spec["format"] == "autogluon":
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            meta = json.loads(archive.read(META_NAME))
        return InputSchema.from_dict(meta["input_schema"]), meta["problem_type"], meta["classes"]
    model = loads_model(blob)  # a store artifact this workspace wrote itself
    classes = None if model.classes_ is None else to_jsonable(list(model.classes_))
    return model.input_schema_, model.problem_type, classes


def _lineage(workspace: Workspace, experiment_id: int, **extra: Any) -> dict[str, Any]:
    experiment = experiment_rows.get_experiment(workspace.store, experiment_id) or {}
    return {
        "experiment_id": experiment_id,
        "experiment_name": experiment.get("name"),
        "dataset": experiment.get("dataset"),
        "dataset_hash": experiment.get("dataset_hash"),
        "split_hash": experiment.get("split_hash"),
        "target": experiment.get("target"),
        "packages": package_versions(),
        "registered_at": time.time(),
        **extra,
    }


def _trial_params(workspace: Workspace, trial_id: int | None) -> dict[str, Any] | None:
    trial = records.get_trial(workspace.store, trial_id) if trial_id is not None else None
    return trial.params if trial is not None else None


def _metrics(experiment: dict[str, Any], row: Any, size: int) -> dict[str, Any]:
    return {
        "metric": experiment.get("metric"),
        "valid_score": row.valid_score,
        "test_score": row.test_score,
        "predict_row_ms": row.predict_row_ms,
        "predict_batch_ms": row.predict_batch_ms,
        "size_bytes": size,
    }


def candidate_content(workspace: Workspace, candidate_id: int, description: str) -> BundleContent:
    candidate = _candidate(workspace, candidate_id)
    spec, blob = _member_files(workspace, candidate, "")
    schema, problem_type, classes = _schema_and_output(spec, blob)
    content = BundleContent(source_kind="candidate", source_id=candidate.id, experiment_id=candidate.experiment_id)
    content.files[spec["file"]] = blob
    content.add_json("model.json", {"kind": "candidate", **spec})
    content.add_json("schema.json", schema.to_dict())
    content.add_json("output.json", {"problem_type": problem_type, "classes": classes})
    experiment = experiment_rows.get_experiment(workspace.store, candidate.experiment_id) or {}
    content.add_json("metrics.json", {**_metrics(experiment, candidate, len(blob)), "fit_time_s": candidate.fit_time_s})
    lineage = _lineage(
        workspace,
        candidate.experiment_id,
        source={"kind": "candidate", "id": candidate.id, "name": candidate.name, "model_type": candidate.model_type},
        engine=candidate.engine,
        params=candidate.params,
        trial_params=_trial_params(workspace, candidate.trial_id),
        description=description,
    )
    content.add_json("lineage.json", lineage)
    return content


def ensemble_content(workspace: Workspace, ensemble_id: int, description: str) -> BundleContent:
    row = ensemble_rows.get_ensemble(workspace.store, ensemble_id)
    if row is None:
        raise NotFoundError(f"There is no saved ensemble {ensemble_id}; save one with `workbench compare`.")
    spec: dict[str, Any] = row.spec
    experiment_id = row.experiment_id
    candidates = {c.id: c for c in records.list_candidates(workspace.store, experiment_id)}
    content = BundleContent(source_kind="ensemble", source_id=ensemble_id, experiment_id=experiment_id)
    members, schemas, outputs, lineages = [], [], [], []
    for member in spec["members"]:
        candidate = candidates[member["candidate_id"]]
        if not candidate.artifact_key:
            raise InvalidInputError(f"Ensemble member {candidate.name} has no stored model; it cannot be registered.")
        digest = workspace.store.get_artifact(candidate.artifact_key)
        prefix = f"members/{digest.sha256[:16] if digest else candidate.id}-"
        member_spec, blob = _member_files(workspace, candidate, prefix)
        content.files[member_spec["file"]] = blob  # members sharing an artifact share one file
        schema, problem_type, classes = _schema_and_output(member_spec, blob)
        schemas.append(schema)
        outputs.append((problem_type, classes))
        members.append(
            {**member_spec, "name": member["name"], "weight": member["weight"], "candidate_id": candidate.id}
        )
        lineages.append({"candidate_id": candidate.id, "engine": candidate.engine, "params": candidate.params})
    meta_file = None
    if spec.get("meta_key"):
        meta_file = "meta.pkl"
        content.files[meta_file] = workspace.store.read_artifact(spec["meta_key"])
    experiment = experiment_rows.get_experiment(workspace.store, experiment_id) or {}
    problem_type = experiment.get("problem_type") or outputs[0][0]
    classes = spec.get("classes")
    content.add_json("ensemble.json", {"method": row.method, "members": members, "meta": meta_file})
    content.add_json("model.json", {"kind": "ensemble", "file": "ensemble.json"})
    content.add_json("schema.json", _union_schema(schemas).to_dict())
    content.add_json("output.json", {"problem_type": problem_type, "classes": classes})
    size = sum(len(data) for data in content.files.values())
    content.add_json("metrics.json", _metrics(experiment, row, size))
    lineage = _lineage(
        workspace,
        experiment_id,
        source={"kind": "ensemble", "id": ensemble_id, "name": spec.get("name"), "method": row.method},
        engine="ensemble",
        members=lineages,
        description=description,
    )
    content.add_json("lineage.json", lineage)
    return content
