"""A log-loss search calibrates its candidates on the valid rows: each candidate records the decision, its
model's probabilities are the temperature-scaled ones everywhere (stored predictions, scores, registry
bundle, served fast path, finalized refit), and another metric leaves candidates uncalibrated."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from search_support import optuna_search

from workbench.compare import leaderboard, load_candidate_model
from workbench.config import Settings
from workbench.model import (
    AutoGluonModel,
    Calibration,
    apply_floor,
    apply_temperature,
    probability_floor,
    probe_columns,
    score_predictions,
    verified_fast_path,
)
from workbench.registry import Registry, RegistrySource
from workbench.search import TrialSpec, WorkerResources
from workbench.search.engines import ARTIFACT_NAME, run_autogluon_trial
from workbench.search.families import LocalReporter, fit_candidate
from workbench.serve import create_app
from workbench.store import Experiment, ExperimentSpec, TrialData, Workspace, trial_data
from workbench.store import trials as records

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CalibratedSearch:
    """The log-loss search: where it ran, its rows, and every candidate it made."""

    experiment: Experiment
    data: TrialData
    rows: list[records.CandidateRow]
    home: Path
    workspace: Workspace


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalibratedSearch]:
    """Two Optuna trials (LightGBM and forest families; the seeded sampler picks forests, whose timid
    probabilities the decision sharpens) on penguins with metric log_loss, on one in-process worker."""
    home = tmp_path_factory.mktemp("calibrated-search")
    settings = Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets")
    ws = Workspace(settings)
    experiment = ws.create_experiment(ExperimentSpec("penguins", metric="log_loss"))
    rows = optuna_search(ws, experiment, ("lightgbm", "forest"), 2)
    assert rows, "the search made no candidate"
    yield CalibratedSearch(experiment, trial_data(ws, experiment), rows, home, ws)
    ws.close()


def _stored_predictions(ws: Workspace, row: records.CandidateRow) -> tuple[np.ndarray, np.ndarray]:
    assert row.predictions_key is not None
    saved = np.load(io.BytesIO(ws.store.read_artifact(row.predictions_key)))
    return saved["valid"], saved["test"]


def test_every_candidate_records_its_decision_and_predicts_calibrated(searched: CalibratedSearch) -> None:
    data = searched.data
    for row in searched.rows:
        assert row.calibration is not None, row.name
        decision = Calibration.from_dict(row.calibration)
        # decided on the selection rows: with cross-validated selection, every train and valid row out of fold
        assert data.cv_folds == 4 and decision.rows == len(data.y_selection) and decision.folds == 5
        assert decision.oof_before is not None and decision.oof_after is not None and decision.reason
        assert row.to_dict()["calibration"] == row.calibration
        model = load_candidate_model(searched.workspace, row)
        assert model.calibration_ == decision
        calibrated = model.predict_proba(data.X_test)
        model.calibration_ = None
        raw = model.predict_proba(data.X_test)
        # the temperature when one was kept, then the floor of the selection rows
        assert decision.floor == probability_floor(len(data.y_selection))
        tempered = apply_temperature(raw, decision.temperature) if decision.method == "temperature" else raw
        np.testing.assert_allclose(calibrated, apply_floor(tempered, decision.floor), rtol=0, atol=0)
        model.calibration_ = decision
        valid, test = _stored_predictions(searched.workspace, row)
        assert len(valid) == len(data.y_selection)
        np.testing.assert_allclose(valid[len(data.y_train) :], model.predict_proba(data.X_valid), rtol=1e-12)
        np.testing.assert_allclose(test, calibrated, rtol=1e-12)
        expected = score_predictions("log_loss", "multiclass", data.y_test, calibrated, data.classes)
        assert row.test_score == pytest.approx(expected, rel=1e-9)
    notes = {r.key: r.calibration for r in leaderboard(searched.workspace, searched.experiment).rows}
    for row in searched.rows:
        decision = Calibration.from_dict(row.calibration or {})
        temperature = f"calibrated T={decision.temperature:.2f}, " if decision.method == "temperature" else ""
        assert notes[row.key] == f"{temperature}floor {decision.floor:.2g}"


def _calibrated_row(searched: CalibratedSearch) -> records.CandidateRow:
    active = [r for r in searched.rows if Calibration.from_dict(r.calibration or {}).active]
    assert active, [r.calibration for r in searched.rows]
    return active[0]


def test_the_registered_bundle_serves_the_calibrated_probabilities(searched: CalibratedSearch) -> None:
    row = _calibrated_row(searched)
    registry = Registry(searched.workspace)
    info = registry.register("calibrated", candidate_id=row.id)
    assert info.metrics["calibration"] == row.calibration
    spec = json.loads((info.path / "model.json").read_text())
    assert spec["calibration"] == row.calibration
    in_process = load_candidate_model(searched.workspace, row)
    X = searched.data.X_test.reset_index(drop=True)
    expected = in_process.predict_proba(X)
    loaded = RegistrySource(searched.home, "calibrated").load().model
    assert loaded.calibration_ == in_process.calibration_
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert verified_fast_path(loaded) is not None
    records_ = json.loads(X.to_json(orient="records"))
    with TestClient(base_url="http://127.0.0.1", app=create_app(RegistrySource(searched.home, "calibrated"))) as c:
        deadline = time.monotonic() + 30
        while c.get("/v2/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the model never became ready"
            time.sleep(0.05)
        answer = c.post("/predict", json=records_)
        singles = [c.post("/predict", json=[record]) for record in records_[:5]]  # the single-row path too
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["classes"] == list(searched.data.classes or ())
    np.testing.assert_allclose(np.asarray(body["probabilities"]), expected, rtol=1e-9, atol=1e-12)
    one_by_one = np.vstack([np.asarray(single.json()["probabilities"]) for single in singles])
    np.testing.assert_allclose(one_by_one, expected[:5], rtol=1e-9, atol=1e-12)


def test_a_finalized_candidate_keeps_its_temperature(searched: CalibratedSearch) -> None:
    row = _calibrated_row(searched)
    info = Registry(searched.workspace).register("calibrated-final", candidate_id=row.id, finalize="all")
    assert info.metrics["trained_on"]["mode"] == "all"
    final = Registry(searched.workspace).load(info.ref).model
    assert final.calibration_ == Calibration.from_dict(row.calibration or {})


def test_other_metrics_leave_candidates_uncalibrated(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        data = trial_data(ws, ws.create_experiment(ExperimentSpec("penguins")))  # accuracy
    record, _ = fit_candidate("linear", {}, data, WorkerResources(cpus=1), LocalReporter(), 0)
    assert data.metric == "accuracy" and record.calibration is None


def test_an_autogluon_candidate_gets_its_calibration_from_its_row(tmp_path: Path) -> None:
    """An AutoGluon zip holds several candidates, so the row and the bundle's spec carry the calibration."""
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        experiment = ws.create_experiment(ExperimentSpec("penguins", metric="log_loss"))
        data = trial_data(ws, experiment)
        params = {"space": "test", "presets": "medium_quality", "hyperparameters": {"GBM": {}}, "time_limit_s": 30.0}
        spec = TrialSpec(experiment_id=experiment.id, engine="autogluon", number=0, params=params, seed=0)
        result = run_autogluon_trial(spec, data, WorkerResources(cpus=1), LocalReporter())
        assert result.status == "complete" and all(c.calibration is not None for c in result.candidates)
        candidate = result.candidates[0]
        zipped = result.artifacts[ARTIFACT_NAME]
        raw = AutoGluonModel.from_zip(zipped, candidate.name).predict_proba(data.X_test)
        forced = Calibration("temperature", 1.6, reason="set by the test")
        key = ws.store.put_artifact(f"experiments/{experiment.id}/ag.zip", zipped).key
        trial = records.create_trial(ws.store, experiment.id, "autogluon", 0, {})
        row = {
            "engine": "autogluon", "name": candidate.name, "model_type": candidate.model_type,
            "valid_score": candidate.valid_score, "test_score": candidate.test_score, "fit_time_s": 1.0,
            "predict_row_ms": 1.0, "predict_batch_ms": 1.0, "size_bytes": len(zipped), "params": {},
            "artifact_key": key, "model_in_artifact": candidate.name, "calibration": forced.to_dict(),
        }  # fmt: skip
        records.finish_trial(ws.store, trial.id, "COMPLETE", [0.5], candidates=[row])
        stored = records.list_candidates(ws.store, experiment.id)[-1]
        model = load_candidate_model(ws, stored)
        expected = apply_temperature(raw, 1.6)
        np.testing.assert_allclose(model.predict_proba(data.X_test), expected, rtol=1e-12)
        registry = Registry(ws)
        info = registry.register("ag-calibrated", candidate_id=stored.id)
        loaded = registry.load(info.ref).model
        assert isinstance(loaded, AutoGluonModel) and loaded.calibration_ == forced
        np.testing.assert_allclose(loaded.predict_proba(data.X_test), expected, rtol=1e-12)
        fast = verified_fast_path(loaded)
        if fast is not None:  # AutoGluon versions the fast path was verified with (and models it compiles)
            columns, n = probe_columns(loaded.input_schema_)
            loaded.calibration_ = None
            raw_fast = verified_fast_path(loaded)
            assert raw_fast is not None
            np.testing.assert_allclose(fast(columns, n), apply_temperature(raw_fast(columns, n), 1.6), rtol=1e-12)
