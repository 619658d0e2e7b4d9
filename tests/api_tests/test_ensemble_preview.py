"""An ensemble editor's answer comes from stored predictions alone: the dataset is never read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench.api as wb
from workbench.model import score_predictions
from workbench.store import Workspace
from workbench.store import trials as records


def _candidate(ws: Workspace, experiment_id: int, number: int, valid: np.ndarray, test: np.ndarray) -> int:
    """A finished trial whose one candidate has stored predictions (what a search leaves)."""
    buffer = io.BytesIO()
    np.savez(buffer, valid=valid, test=test)
    key = ws.store.put_artifact(f"experiments/{experiment_id}/predictions/c{number}.npz", buffer.getvalue()).key
    model = ws.store.put_artifact(f"experiments/{experiment_id}/m{number}.pkl", b"x" * (1000 * (number + 1))).key
    trial = records.create_trial(ws.store, experiment_id, "fn", number, {})
    row = {
        "engine": "fn", "name": f"m{number}", "model_type": "m", "valid_score": 0.0, "test_score": 0.0,
        "fit_time_s": 1.0, "predict_row_ms": 0.5 + number, "predict_batch_ms": 2.0, "size_bytes": 1,
        "params": {}, "artifact_key": model, "predictions_key": key,
    }  # fmt: skip
    records.finish_trial(ws.store, trial.id, "COMPLETE", [0.0], candidates=[row])
    return records.list_candidates(ws.store, experiment_id)[-1].id


def test_preview_scores_weights_without_reading_the_dataset(workspace: Workspace, data_dir: Path) -> None:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.choice(["a", "b", "c"], size=n)})
    frame.to_csv(data_dir / "rows.csv", index=False)
    workspace.add_dataset("rows", str(data_dir / "rows.csv"), target="y")
    experiment = wb.create_experiment("rows", workspace=workspace)
    targets = workspace.targets(experiment)
    n_valid, n_test = len(targets.y_valid), len(targets.y_test)
    ids = [
        _candidate(workspace, experiment.id, i, rng.dirichlet([1, 1, 1], n_valid), rng.dirichlet([1, 1, 1], n_test))
        for i in range(3)
    ]
    (data_dir / "rows.csv").unlink()  # any read of the dataset would fail from here on
    fresh = Workspace(workspace.settings)  # no rows cached in memory either
    comparison = wb.compare(experiment.id, workspace=fresh)
    preview = wb.preview_ensemble(experiment.id, {f"c{ids[0]}": 1, f"c{ids[2]}": 3}, comparison=comparison)
    stored = {m.id: m for m in comparison.data.candidates()}
    expected = 0.25 * stored[ids[0]].valid + 0.75 * stored[ids[2]].valid
    assert preview.valid_score == pytest.approx(
        score_predictions("accuracy", "multiclass", targets.y_valid, expected, targets.classes)
    )
    assert [(k, w) for k, _, w in preview.members] == [(f"c{ids[0]}", 0.25), (f"c{ids[2]}", 0.75)]
    assert preview.estimated_row_ms == pytest.approx(0.5 + 2.5) and preview.size_bytes == 1000 + 3000
    assert preview.to_dict()["members"][1]["weight"] == 0.75
    again = wb.preview_ensemble(experiment.id, {ids[1]: 1.0, f"c{ids[1]}": 0.0, f"c{ids[0]}": 0}, workspace=fresh)
    assert [k for k, _, _ in again.members] == [f"c{ids[1]}"]  # zero weights leave, the same member counts once
    for weights, message in (
        ({}, "at least one member"),
        ({"c999": 1}, "not a candidate"),
        ({f"c{ids[0]}": -1}, "at least 0"),
        ({f"c{ids[0]}": float("nan")}, "finite"),
        ({f"c{ids[0]}": 0}, "above 0"),
    ):
        with pytest.raises(wb.WorkbenchError, match=message):
            wb.preview_ensemble(experiment.id, weights, comparison=comparison)
    fresh.close()
