"""Bundles hold native model files where a safer format than pickle exists, and say which files are pickles."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from registry_helpers import Searched, settings_for

from workbench.compare import load_candidate_model, load_ensemble_model
from workbench.model import AutoGluonModel, FittedModel, probe_columns, verified_fast_path
from workbench.registry import BundleIntegrityError, Registry, RegistrySource, load_bundle
from workbench.registry._bundle import write_manifest
from workbench.search import TrialSpec, WorkerResources
from workbench.search.engines import ARTIFACT_NAME, run_autogluon_trial
from workbench.search.families import LocalReporter, fit_candidate
from workbench.store import ExperimentSpec, Workspace, trial_data
from workbench.store import trials as records

pytestmark = pytest.mark.slow

PICKLE_OPCODE = b"\x80"  # the PROTO opcode every pickle of protocol 2 or later starts with
NATIVE_FILES = {"lightgbm": "model.txt", "xgboost": "model.ubj", "catboost": "model.cbm"}


def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)


def model_json(folder: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((folder / "model.json").read_text())
    return spec


def candidate_row(searched: Searched, family: str) -> records.CandidateRow:
    rows = records.list_candidates(searched.workspace.store, searched.experiment.id)
    return next(c for c in rows if c.id == searched.candidates[family])


def assert_same_model(loaded: FittedModel, original: FittedModel, X: Any) -> None:
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    np.testing.assert_array_equal(loaded.prediction(X), original.prediction(X))
    fast, original_fast = verified_fast_path(loaded), verified_fast_path(original)
    assert (fast is None) == (original_fast is None)
    if fast is not None and original_fast is not None:
        columns, n = probe_columns(loaded.input_schema_)
        np.testing.assert_array_equal(fast(columns, n), original_fast(columns, n))


def test_a_native_bundle_holds_no_pickle(searched: Searched, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("native", candidate_id=searched.candidates["lightgbm"])
    original = load_candidate_model(searched.workspace, candidate_row(searched, "lightgbm"))
    assert model_json(info.path) == {
        "kind": "candidate",
        "format": "native",
        "library": "lightgbm",
        "file": "model.txt",
        "prep": "prep.json",
        "meta": "model-meta.json",
        "pickled_files": [],
    }
    files = [p for p in info.path.rglob("*") if p.is_file()]
    assert files and not [p.name for p in files if p.read_bytes().startswith(PICKLE_OPCODE)]
    with monkeypatch.context() as patch:
        no_unpickling(patch)
        loaded = registry.load("native")
        served = RegistrySource(searched.home, "native").load()
    for model in (loaded.model, served.model):
        assert type(model) is type(original)
        assert_same_model(model, original, searched.data.X_test)
        assert verified_fast_path(model) is not None


def test_pickled_files_of_pickle_and_ensemble_bundles(searched: Searched, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(searched.workspace)
    linear = registry.register("pickled", candidate_id=searched.candidates["linear"])
    spec = model_json(linear.path)
    assert (spec["format"], spec["file"], spec["pickled_files"]) == ("pickle", "model.pkl", ["model.pkl"])

    info = registry.register("mixed", ensemble_id=searched.ensemble_id)
    ensemble = json.loads((info.path / "ensemble.json").read_text())
    formats = {m["format"] for m in ensemble["members"]}
    assert formats == {"native", "pickle"}, formats  # the search made linear and LightGBM members
    pickled = sorted({m["file"] for m in ensemble["members"] if m["format"] == "pickle"} | {"meta.pkl"})
    assert model_json(info.path) == {"kind": "ensemble", "file": "ensemble.json", "pickled_files": pickled}
    for member in ensemble["members"]:
        if member["format"] == "native":
            assert member["file"].startswith("members/") and member["file"].endswith(NATIVE_FILES["lightgbm"])
            assert not (info.path / member["file"]).read_bytes().startswith(PICKLE_OPCODE)
    # What loading unpickles is exactly the listed files' bytes.
    unpickled: list[bytes] = []
    loads = pickle.loads

    def recording(data: bytes, *args: Any, **kwargs: Any) -> Any:
        unpickled.append(bytes(data))
        return loads(data, *args, **kwargs)

    original = load_ensemble_model(searched.workspace, searched.ensemble_id)
    with monkeypatch.context() as patch:
        patch.setattr(pickle, "loads", recording)
        loaded = registry.load("mixed")
    assert {bytes(d) for d in unpickled} == {(info.path / rel).read_bytes() for rel in pickled}
    np.testing.assert_array_equal(
        loaded.model.predict_proba(searched.data.X_test), original.predict_proba(searched.data.X_test)
    )


def _old_bundle(searched: Searched, folder: Path, target: Path) -> Path:
    """`folder` as the registry wrote it before native files: every family model pickled, no pickled_files."""
    shutil.copytree(folder, target)
    spec = model_json(target)
    spec.pop("pickled_files")
    ids = {c.id: c for c in records.list_candidates(searched.workspace.store, searched.experiment.id)}

    def pickled(member: dict[str, Any], candidate_id: int) -> dict[str, Any]:
        if member["format"] != "native":
            return member
        prefix = member["file"].removesuffix(NATIVE_FILES[member["library"]])
        for key in ("file", "prep", "meta"):
            (target / member[key]).unlink(missing_ok=True)
        artifact = ids[candidate_id].artifact_key
        assert artifact is not None
        (target / f"{prefix}model.pkl").write_bytes(searched.workspace.store.read_artifact(artifact))
        rest = {k: v for k, v in member.items() if k not in ("format", "library", "file", "prep", "meta")}
        return {"format": "pickle", "file": f"{prefix}model.pkl", "model_name": None, **rest}

    if spec["kind"] == "ensemble":
        ensemble = json.loads((target / "ensemble.json").read_text())
        ensemble["members"] = [pickled(m, m["candidate_id"]) for m in ensemble["members"]]
        (target / "ensemble.json").write_text(json.dumps(ensemble))
    else:
        spec = pickled(spec, json.loads((target / "lineage.json").read_text())["source"]["id"])
    (target / "model.json").write_text(json.dumps(spec))
    write_manifest(target)
    return target


def test_bundles_written_before_pickled_files_still_load(searched: Searched, tmp_path: Path) -> None:
    registry = Registry(searched.workspace)
    native = registry.register("before", candidate_id=searched.candidates["lightgbm"])
    mixed = registry.register("before-ensemble", ensemble_id=searched.ensemble_id)
    old = _old_bundle(searched, native.path, tmp_path / "candidate")
    assert model_json(old) == {"kind": "candidate", "format": "pickle", "file": "model.pkl", "model_name": None}
    X = searched.data.X_test
    original = load_candidate_model(searched.workspace, candidate_row(searched, "lightgbm"))
    assert_same_model(load_bundle(old).model, original, X)
    old_ensemble = _old_bundle(searched, mixed.path, tmp_path / "ensemble")
    members = json.loads((old_ensemble / "ensemble.json").read_text())["members"]
    assert {m["format"] for m in members} == {"pickle"} and "pickled_files" not in model_json(old_ensemble)
    original_ensemble = load_ensemble_model(searched.workspace, searched.ensemble_id)
    np.testing.assert_array_equal(load_bundle(old_ensemble).model.predict_proba(X), original_ensemble.predict_proba(X))


def test_a_file_model_json_does_not_list_is_never_unpickled(searched: Searched, tmp_path: Path) -> None:
    info = Registry(searched.workspace).register("unlisted", candidate_id=searched.candidates["linear"])
    folder = tmp_path / "unlisted"
    shutil.copytree(info.path, folder)
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (Path.write_text, (str(marker), "unpickled"))  # type: ignore[return-value]

    (folder / "model.pkl").write_bytes(pickle.dumps(Evil()))
    (folder / "model.json").write_text(json.dumps({**model_json(folder), "pickled_files": []}))
    write_manifest(folder)  # a consistent manifest: only model.json's list stops it
    with pytest.raises(BundleIntegrityError, match=r"model\.pkl"):
        load_bundle(folder)
    assert not marker.exists()
    spec = {**model_json(folder), "format": "onnx", "pickled_files": ["model.pkl"]}
    (folder / "model.json").write_text(json.dumps(spec))
    write_manifest(folder)
    with pytest.raises(BundleIntegrityError, match="onnx"):
        load_bundle(folder)
    assert not marker.exists()


def _add_candidate(ws: Workspace, experiment_id: int, number: int, blob: bytes, **row: Any) -> int:
    key = ws.store.put_artifact(f"experiments/{experiment_id}/test-{number}.bin", blob).key
    trial = records.create_trial(ws.store, experiment_id, row["engine"], number, {})
    fields = {
        "valid_score": 0.5, "test_score": 0.5, "fit_time_s": 1.0, "predict_row_ms": 1.0, "predict_batch_ms": 1.0,
        "size_bytes": len(blob), "params": {}, "artifact_key": key, **row,
    }  # fmt: skip
    records.finish_trial(ws.store, trial.id, "COMPLETE", [0.5], candidates=[fields])
    return records.list_candidates(ws.store, experiment_id)[-1].id


def test_autogluon_xgboost_and_catboost_bundles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Workspace(settings_for(tmp_path / "home")) as ws:
        experiment = ws.create_experiment(ExperimentSpec("breast_cancer"))
        data = trial_data(ws, experiment)
        params = {"space": "test", "presets": "medium_quality", "hyperparameters": {"GBM": {}}, "time_limit_s": 30.0}
        spec = TrialSpec(experiment_id=experiment.id, engine="autogluon", number=0, params=params, seed=0)
        result = run_autogluon_trial(spec, data, WorkerResources(cpus=1), LocalReporter())
        assert result.status == "complete"
        zipped, name = result.artifacts[ARTIFACT_NAME], result.candidates[0].name
        ids = {"autogluon": _add_candidate(ws, experiment.id, 0, zipped, engine="autogluon", name=name,
                                           model_type=name, model_in_artifact=name)}  # fmt: skip
        originals: dict[str, FittedModel] = {"autogluon": AutoGluonModel.from_zip(zipped, name)}
        for number, family in enumerate(("xgboost", "catboost"), start=1):
            _, blob = fit_candidate(family, {}, data, WorkerResources(cpus=1), LocalReporter(), seed=0)
            ids[family] = _add_candidate(
                ws, experiment.id, number, blob, engine="optuna", name=family, model_type=family
            )
            row = records.get_candidate(ws.store, ids[family])
            assert row is not None
            originals[family] = load_candidate_model(ws, row)
        registry = Registry(ws)
        bundles = {kind: registry.register(kind, candidate_id=ids[kind]).path for kind in ids}
        assert model_json(bundles["autogluon"]) == {
            "kind": "candidate",
            "format": "autogluon",
            "file": "predictor.zip",
            "model_name": name,
            "pickled_files": ["predictor.zip"],
        }
        X = data.X_test
        assert_same_model(registry.load("autogluon").model, originals["autogluon"], X)
        for family in ("xgboost", "catboost"):
            spec_json = model_json(bundles[family])
            assert (spec_json["format"], spec_json["library"]) == ("native", family)
            assert spec_json["file"] == NATIVE_FILES[family] and spec_json["pickled_files"] == []
            with monkeypatch.context() as patch:
                no_unpickling(patch)
                loaded = registry.load(family).model
            assert_same_model(loaded, originals[family], X)
