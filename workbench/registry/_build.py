"""Writing a bundle's files for a stored candidate or a saved ensemble, from the workspace store.

A family model is written in its library's native format when it has one that rebuilds it exactly
(LightGBM, XGBoost, CatBoost: `workbench.model._native`), otherwise as the store's pickle (`model.pkl`);
an AutoGluon candidate as its predictor's zip. model.json lists under `pickled_files` every file that
loading unpickles (the formats and `pickled_files` are described in `workbench.registry._bundle`).
"""

from __future__ import annotations

import io
import json
import platform
import time
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError, NotFoundError
from workbench.model import InputSchema, loads_model
from workbench.model._autogluon import META_NAME
from workbench.model._ensemble import _union_schema
from workbench.model._native import native_files
from workbench.registry._bundle import pickled_files
from workbench.store import Workspace
from workbench.store import ensembles as ensemble_rows
from workbench.store import experiments as experiment_rows
from workbench.store import trials as records

if TYPE_CHECKING:
    from workbench.registry._registry import Finalization
    from workbench.store import FinalRow

__all__ = ["PACKAGES", "BundleContent", "candidate_content", "ensemble_content", "member_ids", "package_versions"]

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


@dataclass
class _Member:
    """A candidate as bundle files: its spec (format, file, ...), the files and its input and output schema."""

    spec: dict[str, Any]
    files: dict[str, bytes]
    schema: InputSchema
    problem_type: str
    classes: list[Any] | None


def _member(
    workspace: Workspace, candidate: records.CandidateRow, prefix: str, final: FinalRow | None = None
) -> _Member:
    """The candidate's model files under `prefix`, from its artifact (checked against the store's sha256),
    or from its final's when `final` is given."""
    artifact_key = final.artifact_key if final is not None else candidate.artifact_key
    model_in_artifact = final.model_in_artifact if final is not None else candidate.model_in_artifact
    assert artifact_key is not None
    blob = workspace.store.read_artifact(artifact_key)  # raises if it differs from its sha256
    # The candidate's calibration (a final keeps it): in the spec for every format, since an AutoGluon
    # zip cannot hold it; pickles and native files hold it too.
    calibration = {"calibration": candidate.calibration} if candidate.calibration is not None else {}
    spec: dict[str, Any]
    if model_in_artifact:
        spec = {"format": "autogluon", "file": f"{prefix}predictor.zip", "model_name": model_in_artifact}
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            meta = json.loads(archive.read(META_NAME))
        schema = InputSchema.from_dict(meta["input_schema"])
        return _Member({**spec, **calibration}, {spec["file"]: blob}, schema, meta["problem_type"], meta["classes"])
    model = loads_model(blob)  # a store artifact this workspace wrote itself
    classes = None if model.classes_ is None else to_jsonable(list(model.classes_))
    native = native_files(model, prefix)
    if native is None:
        spec = {"format": "pickle", "file": f"{prefix}model.pkl", "model_name": None}
        files = {spec["file"]: blob}
    else:
        spec, files = native
    return _Member({**spec, **calibration}, files, model.input_schema_, model.problem_type, classes)


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


def member_ids(workspace: Workspace, ensemble_id: int) -> list[int]:
    """The candidate ids of a saved ensemble's members."""
    row = ensemble_rows.get_ensemble(workspace.store, ensemble_id)
    if row is None:
        raise NotFoundError(f"There is no saved ensemble {ensemble_id}; save one with `workbench compare`.")
    return sorted({int(m["candidate_id"]) for m in row.spec["members"]})


def _train_rows(workspace: Workspace, experiment_id: int) -> int:
    return len(workspace.split(workspace.experiment(experiment_id)).train)


def _finalized(finalization: Finalization | None) -> dict[str, Any] | None:
    if finalization is None or finalization.mode == "none":
        return None
    finals = [f.to_dict() for f in finalization.finals.values()]
    return {"mode": finalization.mode, "finals": finals, "error": finalization.error}


def _metrics(experiment: dict[str, Any], row: Any, size: int) -> dict[str, Any]:
    return {
        "metric": experiment.get("metric"),
        "valid_score": row.valid_score,
        "test_score": row.test_score,
        "predict_row_ms": row.predict_row_ms,
        "predict_batch_ms": row.predict_batch_ms,
        "size_bytes": size,
    }


def candidate_content(
    workspace: Workspace, candidate_id: int, description: str, finalization: Finalization | None = None
) -> BundleContent:
    """The bundle of a candidate: its final's model when `finalization` holds one, else the model as selected."""
    candidate = _candidate(workspace, candidate_id)
    final = finalization.final(candidate.id) if finalization is not None else None
    member = _member(workspace, candidate, "", final)
    content = BundleContent(source_kind="candidate", source_id=candidate.id, experiment_id=candidate.experiment_id)
    content.files.update(member.files)
    content.add_json("model.json", {"kind": "candidate", **member.spec, "pickled_files": pickled_files(member.spec)})
    content.add_json("schema.json", member.schema.to_dict())
    content.add_json("output.json", {"problem_type": member.problem_type, "classes": member.classes})
    experiment = experiment_rows.get_experiment(workspace.store, candidate.experiment_id) or {}
    size = sum(len(data) for data in member.files.values())
    trained = (finalization or _no_finalization()).record(_train_rows(workspace, candidate.experiment_id))
    metrics = {**_metrics(experiment, candidate, size), "fit_time_s": candidate.fit_time_s, **trained}
    if candidate.calibration is not None:
        metrics["calibration"] = candidate.calibration
    content.add_json("metrics.json", metrics)
    lineage = _lineage(
        workspace,
        candidate.experiment_id,
        source={"kind": "candidate", "id": candidate.id, "name": candidate.name, "model_type": candidate.model_type},
        engine=candidate.engine,
        params=candidate.params,
        trial_params=_trial_params(workspace, candidate.trial_id),
        description=description,
        finalized=_finalized(finalization),
    )
    content.add_json("lineage.json", lineage)
    return content


def _no_finalization() -> Finalization:
    from workbench.registry._registry import Finalization

    return Finalization()


def ensemble_content(
    workspace: Workspace, ensemble_id: int, description: str, finalization: Finalization | None = None
) -> BundleContent:
    """The bundle of a saved ensemble: its members' finals when `finalization` holds them (weights kept)."""
    row = ensemble_rows.get_ensemble(workspace.store, ensemble_id)
    if row is None:
        raise NotFoundError(f"There is no saved ensemble {ensemble_id}; save one with `workbench compare`.")
    spec: dict[str, Any] = row.spec
    experiment_id = row.experiment_id
    candidates = {c.id: c for c in records.list_candidates(workspace.store, experiment_id)}
    content = BundleContent(source_kind="ensemble", source_id=ensemble_id, experiment_id=experiment_id)
    members, schemas, outputs, lineages, pickled = [], [], [], [], set()
    built: dict[str, _Member] = {}  # members sharing an artifact share its files
    for member in spec["members"]:
        candidate = candidates[member["candidate_id"]]
        if not candidate.artifact_key:
            raise InvalidInputError(f"Ensemble member {candidate.name} has no stored model; it cannot be registered.")
        final = finalization.final(candidate.id) if finalization is not None else None
        artifact_key = final.artifact_key if final is not None else candidate.artifact_key
        digest = workspace.store.get_artifact(artifact_key)
        prefix = f"members/{digest.sha256[:16] if digest else candidate.id}-"
        if prefix not in built:
            built[prefix] = _member(workspace, candidate, prefix, final)
        part = built[prefix]
        content.files.update(part.files)
        pickled.update(pickled_files(part.spec))
        schemas.append(part.schema)
        outputs.append((part.problem_type, part.classes))
        members.append({**part.spec, "name": member["name"], "weight": member["weight"], "candidate_id": candidate.id})
        lineages.append({"candidate_id": candidate.id, "engine": candidate.engine, "params": candidate.params})
    meta_file = None
    if spec.get("meta_key"):
        meta_file = "meta.pkl"
        content.files[meta_file] = workspace.store.read_artifact(spec["meta_key"])
        pickled.add(meta_file)
    experiment = experiment_rows.get_experiment(workspace.store, experiment_id) or {}
    problem_type = experiment.get("problem_type") or outputs[0][0]
    classes = spec.get("classes")
    content.add_json("ensemble.json", {"method": row.method, "members": members, "meta": meta_file})
    content.add_json("model.json", {"kind": "ensemble", "file": "ensemble.json", "pickled_files": sorted(pickled)})
    content.add_json("schema.json", _union_schema(schemas).to_dict())
    content.add_json("output.json", {"problem_type": problem_type, "classes": classes})
    size = sum(len(data) for data in content.files.values())
    trained = (finalization or _no_finalization()).record(_train_rows(workspace, experiment_id))
    content.add_json("metrics.json", {**_metrics(experiment, row, size), **trained})
    lineage = _lineage(
        workspace,
        experiment_id,
        source={"kind": "ensemble", "id": ensemble_id, "name": spec.get("name"), "method": row.method},
        engine="ensemble",
        members=lineages,
        description=description,
        finalized=_finalized(finalization),
    )
    content.add_json("lineage.json", lineage)
    return content
