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

from workbench.api import list_endpoints, register_winner, start_endpoint, stop_endpoint
from workbench.cli import app
from workbench.errors import NotFoundError
from workbench.registry import Registry
from workbench.serve._promote import promote

pytestmark = pytest.mark.slow


def _post(url: str, body: object) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_promote_runs_the_contract_and_records_latency(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    version = registry.register("promoted", candidate_id=searched.candidates["lightgbm"])
    info, report = promote(registry, "promoted", version.version, "production")
    assert report is not None and report.passed and not report.mismatches
    assert set(report.latency_ms) == {"b1", "b100"} and report.latency_ms["b1"]["p50"] > 0
    assert "production" in info.aliases
    stored = registry.info("promoted", version.version).metrics["serving_latency_ms"]
    assert stored == report.latency_ms
    with pytest.raises(NotFoundError):
        promote(registry, "promoted", 99, "production")
    assert registry.resolve("promoted@production").version == version.version


def test_register_winner_picks_the_best_valid_model(searched: Searched) -> None:
    version = register_winner(searched.workspace, searched.experiment.id, name="winner")
    assert version.name == "winner" and version.version == 1
    assert version.source["kind"] in ("candidate", "ensemble")


def test_endpoint_lifecycle(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    registry.register("served", candidate_id=searched.candidates["linear"])
    endpoint = start_endpoint(searched.workspace, "served")
    try:
        assert endpoint.status == "ready" and endpoint.host == "127.0.0.1"
        rows = searched.data.X_test.head(3)
        records = json.loads(rows.to_json(orient="records"))
        answer = _post(f"{endpoint.url}/invocations", {"dataframe_records": records})
        expected = registry.load("served").model.predict(rows)
        assert answer == {"predictions": list(expected)}  # type: ignore[comparison-overlap]
        listed = {e.id: e for e in list_endpoints(searched.workspace)}
        assert listed[endpoint.id].status == "ready"
        shown = CliRunner().invoke(app, ["endpoints", "list", "--json"], env={"WORKBENCH_HOME": str(searched.home)})
        assert shown.exit_code == 0 and any(e["url"] == endpoint.url for e in json.loads(shown.stdout))
    finally:
        stopped = stop_endpoint(searched.workspace, endpoint.id)
    assert stopped.status == "stopped"
    assert not _alive(endpoint.pid)


def test_a_dead_endpoint_is_listed_as_stopped(searched: Searched) -> None:
    Registry(searched.workspace).register("crashy", candidate_id=searched.candidates["linear"])
    endpoint = start_endpoint(searched.workspace, "crashy")
    assert endpoint.pid is not None
    os.killpg(endpoint.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _alive(endpoint.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    listed = {e.id: e for e in list_endpoints(searched.workspace)}
    assert listed[endpoint.id].status == "stopped"


def test_unknown_model_is_refused_before_starting(searched: Searched) -> None:
    before = len(list_endpoints(searched.workspace))
    with pytest.raises(NotFoundError):
        start_endpoint(searched.workspace, "no-such-model")
    assert len(list_endpoints(searched.workspace)) == before


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_predictions_through_an_endpoint_equal_in_process(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    registry.register("exact", candidate_id=searched.candidates["lightgbm"])
    endpoint = start_endpoint(searched.workspace, "exact")
    try:
        rows = searched.data.X_valid.head(20)
        records = json.loads(rows.to_json(orient="records"))
        answer = _post(f"{endpoint.url}/predict", records)
        expected = registry.load("exact").model.predict_proba(rows)
        np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-9)  # type: ignore[index]
    finally:
        stop_endpoint(searched.workspace, endpoint.id)
