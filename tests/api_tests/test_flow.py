"""The whole flow through `workbench.api` only, on real Dask workers and a real model server:
dataset -> experiment -> background search -> watch -> ensemble -> register -> promote -> serve -> predict."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import workbench.api as wb

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_the_whole_flow_through_the_api(api_env: dict[str, str]) -> None:
    frame = pd.read_csv(REPO / "datasets" / "penguins.csv")
    entry = wb.add_dataset_from_frame("my-penguins", frame, target="species")
    assert (entry.kind, entry.rows, entry.problem_type) == ("workspace", len(frame), "multiclass")
    assert "my-penguins" in [d.name for d in wb.list_datasets()]
    experiment = wb.create_experiment("my-penguins", budget=wb.Budget(n_trials=4))
    config = wb.search_config(engines=("optuna",), families=("linear", "lightgbm"), cluster="local:2")
    search = wb.start_search(experiment.id, config)

    # Watch it the way a widget does: the progress summary and the events, read incrementally.
    events: list[wb.SearchEvent] = []
    deadline = time.monotonic() + 240
    while search.running():
        assert time.monotonic() < deadline, search.log()
        events += search.events(after=events[-1].id if events else 0)
        time.sleep(0.5)
    events += search.events(after=events[-1].id if events else 0)
    ids = [e.id for e in events]
    assert ids == sorted(set(ids))  # nothing read twice, nothing out of order
    assert events[0].kind == "search_started" and events[-1].kind == "search_finished"
    progress = search.progress()
    assert (progress.done, progress.target, progress.job_status, progress.status) == (4, 4, "finished", "finished")
    assert progress.best_candidate_id is not None and progress.running == 0

    board = wb.leaderboard(experiment.id)
    assert [r.rank for r in board.rows] == list(range(1, len(board.rows) + 1)) and len(board.rows) == 4
    scores = [r.valid_score for r in board.rows]
    assert scores == sorted(scores, reverse=True)  # accuracy: higher first
    assert progress.best_score == board.rows[0].valid_score

    top = [r.key for r in board.rows[:2]]
    comparison = wb.compare(experiment.id)
    preview = wb.preview_ensemble(experiment.id, {top[0]: 1, top[1]: 1}, comparison=comparison)
    saved = wb.save_ensemble(experiment.id, {top[0]: 1, top[1]: 1})
    assert saved.valid_score == pytest.approx(preview.valid_score) and saved.predict_row_ms > 0
    assert f"e{saved.id}" in [r.key for r in wb.leaderboard(experiment.id).rows]

    version = wb.register_winner(experiment.id, "penguins-model")
    promotion = wb.promote(version.name, version.version, "production")
    assert promotion.contract is not None and promotion.contract.passed
    assert wb.show_model("penguins-model@production").version == version.version

    endpoint = wb.start_endpoint("penguins-model@production", api_key="s3cret-key")
    try:
        rows = wb.sample_rows(experiment.id, 5)
        answer = wb.endpoint_predict(endpoint.id, rows, api_key="s3cret-key")
        assert answer.predictions == list(wb.predict("penguins-model@production", rows))
        assert answer.classes == ["Adelie", "Chinstrap", "Gentoo"]
        with pytest.raises(wb.WorkbenchError, match="401"):
            wb.endpoint_predict(endpoint.id, rows)
    finally:
        stopped = wb.stop_endpoint(endpoint.id)
    assert stopped.status == "stopped"
    jobs = {j.kind: j for j in wb.list_jobs()}
    assert (jobs["search"].status, jobs["endpoint"].status) == ("finished", "stopped")
    # The key reached the server through its environment only: not the store, not the log.
    assert "s3cret-key" not in str(jobs["endpoint"].to_dict())
    assert "s3cret-key" not in wb.endpoint_logs(endpoint.id, tail=None)
    assert "s3cret-key" not in (Path(api_env["WORKBENCH_HOME"]) / "workbench.db").read_bytes().decode(errors="replace")
