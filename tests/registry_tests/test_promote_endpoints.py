"""Promotion through a real contract check, and endpoints as managed background servers."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import numpy as np
import pytest
from registry_helpers import Searched
from typer.testing import CliRunner

import workbench.api as wb
from workbench.cli import app
from workbench.errors import NotFoundError
from workbench.registry import Registry
from workbench.store import pid_alive

pytestmark = pytest.mark.slow


def _post(url: str, body: object) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_promote_runs_the_contract_and_records_latency(searched: Searched) -> None:
    ws = searched.workspace
    version = wb.register_model(f"c{searched.candidates['lightgbm']}", "promoted", workspace=ws)
    promotion = wb.promote("promoted", version.version, "production", workspace=ws)
    report = promotion.contract
    assert report is not None and report.passed and not report.mismatches
    assert set(report.latency_ms) == {"b1", "b100"}
    assert all(set(figures) == {"p50", "p99"} for figures in report.latency_ms.values())
    assert "production" in promotion.version.aliases
    stored = wb.show_model(f"promoted@{version.version}", workspace=ws).metrics["serving_latency_ms"]
    assert stored == report.latency_ms
    with pytest.raises(NotFoundError):
        wb.promote("promoted", 99, "production", workspace=ws)
    assert wb.show_model("promoted@production", workspace=ws).version == version.version


def test_register_winner_picks_the_best_valid_model(searched: Searched) -> None:
    version = wb.register_winner(searched.experiment.id, "winner", workspace=searched.workspace)
    best = wb.leaderboard(searched.experiment.id, workspace=searched.workspace).rows[0]
    assert version.name == "winner" and version.version == 1
    assert (version.source["kind"], version.source["id"]) == (best.kind, best.id)


def test_endpoint_lifecycle(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    registry.register("served", candidate_id=searched.candidates["linear"])
    endpoint = wb.start_endpoint("served", workspace=searched.workspace)
    try:
        assert endpoint.status == "ready" and endpoint.host == "127.0.0.1"
        rows = searched.data.X_test.head(3)
        records = json.loads(rows.to_json(orient="records"))
        answer = _post(f"{endpoint.url}/invocations", {"dataframe_records": records})
        expected = registry.load("served").model.predict(rows)
        assert answer == {"predictions": list(expected)}  # type: ignore[comparison-overlap]
        listed = {e.id: e for e in wb.list_endpoints(workspace=searched.workspace)}
        assert listed[endpoint.id].status == "ready"
        shown = CliRunner().invoke(app, ["endpoints", "list", "--json"], env={"WORKBENCH_HOME": str(searched.home)})
        assert shown.exit_code == 0 and any(e["url"] == endpoint.url for e in json.loads(shown.stdout))
    finally:
        stopped = wb.stop_endpoint(endpoint.id, workspace=searched.workspace)
    assert stopped.status == "stopped"
    assert not pid_alive(endpoint.pid)
    assert wb.show_job(endpoint.job_id or 0, workspace=searched.workspace).status == "stopped"


def test_a_dead_endpoint_is_listed_as_stopped(searched: Searched) -> None:
    Registry(searched.workspace).register("crashy", candidate_id=searched.candidates["linear"])
    endpoint = wb.start_endpoint("crashy", workspace=searched.workspace)
    assert endpoint.pid is not None
    os.killpg(endpoint.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid_alive(endpoint.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    listed = {e.id: e for e in wb.list_endpoints(workspace=searched.workspace)}
    assert listed[endpoint.id].status == "stopped"
    assert wb.show_job(endpoint.job_id or 0, workspace=searched.workspace).status == "failed"


def test_unknown_model_is_refused_before_starting(searched: Searched) -> None:
    before = len(wb.list_endpoints(workspace=searched.workspace))
    jobs = len(wb.list_jobs(workspace=searched.workspace))
    with pytest.raises(NotFoundError):
        wb.start_endpoint("no-such-model", workspace=searched.workspace)
    assert len(wb.list_endpoints(workspace=searched.workspace)) == before
    assert len(wb.list_jobs(workspace=searched.workspace)) == jobs


def test_predictions_through_an_endpoint_equal_in_process(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    registry.register("exact", candidate_id=searched.candidates["lightgbm"])
    endpoint = wb.start_endpoint("exact", workspace=searched.workspace)
    try:
        rows = searched.data.X_valid.head(20)
        records = json.loads(rows.to_json(orient="records"))
        answer = _post(f"{endpoint.url}/predict", records)
        expected = registry.load("exact").model.predict_proba(rows)
        np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-9)  # type: ignore[index]
    finally:
        wb.stop_endpoint(endpoint.id, workspace=searched.workspace)


def test_an_endpoint_that_cannot_start_says_why(searched: Searched) -> None:
    import socket

    ws = searched.workspace
    version = Registry(ws).register("blocked", candidate_id=searched.candidates["linear"])
    with socket.socket() as taken:  # a user's mistake: refused before anything starts
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = len(wb.list_jobs(workspace=ws))
        with pytest.raises(wb.WorkbenchError, match=f"Port {port} on 127.0.0.1 is in use"):
            wb.start_endpoint("blocked", port=port, workspace=ws)
        assert len(wb.list_jobs(workspace=ws)) == before
    model_file = version.path / "model.pkl"
    model_file.write_bytes(model_file.read_bytes() + b"changed")  # the server refuses to load it
    with pytest.raises(wb.WorkbenchError, match="did not become ready") as raised:
        wb.start_endpoint("blocked", workspace=ws, ready_timeout_s=60)
    assert "does not match its manifest" in raised.value.message  # the reason, from the server's log
    endpoint = wb.list_endpoints(workspace=ws)[-1]
    assert (endpoint.model, endpoint.status) == ("blocked", "failed")
    job = wb.show_job(endpoint.job_id or 0, workspace=ws)
    assert job.status == "failed" and "does not match its manifest" in (job.error or "")
    assert not pid_alive(job.pid, job.pid_start)
