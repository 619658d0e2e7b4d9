"""Against a real uvicorn process on 127.0.0.1: routes, limits, overload, readiness, auth and reload under load."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from serve_support import SUBPROCESS_ENV, FileSource

from workbench.serve import ServeSettings
from workbench.serve._contract import running_server

GOOD = [{"island": "Dream", "bill_length_mm": 40.0, "sex": "male", "year": 2008}]
pytestmark = pytest.mark.slow


def test_live_routes_and_bad_requests(fitted: tuple[Path, pd.DataFrame]) -> None:
    settings = ServeSettings(max_body_bytes=200_000, api_key=None)
    with (
        running_server(FileSource(fitted[0]), settings, 60, SUBPROCESS_ENV) as url,
        httpx.Client(base_url=url, timeout=10) as c,
    ):
        for path in (
            "/v2",
            "/v2/health/live",
            "/v2/health/ready",
            "/ping",
            "/v2/models/penguins",
            "/v2/models/penguins/ready",
            "/metrics",
        ):
            assert c.get(path).status_code == 200, path
        assert c.post("/predict", json=GOOD).status_code == 200
        assert c.post("/invocations", json={"dataframe_records": GOOD}).status_code == 200
        oip = {
            "inputs": [
                {"name": "island", "shape": [1], "datatype": "BYTES", "data": ["Dream"]},
                {"name": "year", "shape": [1], "datatype": "INT64", "data": [2008]},
            ]
        }
        assert c.post("/v2/models/penguins/infer", json=oip).status_code == 200
        assert c.post("/v2/models/penguins/versions/1/infer", json=oip).status_code == 200
        assert c.post("/predict", content=b"[{", headers={"Content-Type": "application/json"}).status_code == 400
        assert c.post("/predict", content="[" * 50 + "]" * 50).status_code == 400
        assert c.post("/predict", json=[{"island": "Dream", "year": "x"}]).status_code == 422
        assert c.post("/predict", content=b"[" + b" " * 300_000 + b"]").status_code == 413

        def chunks() -> Any:  # no Content-Length: counted on the bytes streamed
            yield b"["
            for _ in range(50):
                yield b" " * 10_000

        response = c.post("/predict", content=chunks())
        assert response.status_code == 413
        text = c.get("/metrics").text
        assert "workbench_unhandled_errors_total 0" in text


def test_live_readiness_and_auth(fitted: tuple[Path, pd.DataFrame]) -> None:
    # The server is reachable before the slow load ends: live 200, ready 503 until then.
    from workbench.serve._contract import free_port, wait_ready  # noqa: F401

    source = FileSource(fitted[0], load_delay_s=2.0)
    env = {**SUBPROCESS_ENV, "WB_TEST_KEY": "k-123"}
    import os
    import pickle
    import subprocess
    import sys
    import tempfile

    from workbench.serve._factory import factory_env

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.pkl"
        path.write_bytes(pickle.dumps(source))
        full_env = {**os.environ, **env, **factory_env({"pickle": str(path)}, ServeSettings(), "WB_TEST_KEY")}
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "workbench.serve._factory:create_app_from_env",
            "--port",
            str(port),
        ]
        process = subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            seen_503 = False
            while True:
                assert time.monotonic() < deadline
                try:
                    live = httpx.get(base + "/v2/health/live", timeout=2)
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                assert live.status_code == 200
                ready = httpx.get(base + "/v2/health/ready", timeout=2)
                if ready.status_code == 200:
                    break
                assert ready.status_code == 503 and ready.headers["retry-after"] == "1"
                seen_503 = True
                time.sleep(0.05)
            assert seen_503
            assert httpx.post(base + "/predict", json=GOOD).status_code == 401
            assert httpx.post(base + "/predict", json=GOOD, headers={"X-API-Key": "wrong"}).status_code == 401
            assert (
                httpx.post(base + "/predict", json=GOOD, headers={"Authorization": "Bearer k-123"}).status_code == 200
            )
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_live_overload_then_recovery(fitted: tuple[Path, pd.DataFrame]) -> None:
    settings = ServeSettings(max_in_flight=1)
    with running_server(FileSource(fitted[0], predict_delay_s=0.5), settings, 60, SUBPROCESS_ENV) as url:
        results: list[httpx.Response] = []

        def send() -> None:
            results.append(httpx.post(url + "/predict", json=GOOD, timeout=10))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        statuses = Counter(r.status_code for r in results)
        assert statuses[200] >= 1 and statuses[503] >= 1, statuses
        assert all(r.headers["retry-after"] == "1" for r in results if r.status_code == 503)
        assert httpx.get(url + "/v2/health/ready", timeout=5).status_code == 200  # health is never limited
        assert httpx.post(url + "/predict", json=GOOD, timeout=10).status_code == 200  # recovered


def test_live_reload_under_load(tmp_path: Path, fitted: tuple[Path, pd.DataFrame]) -> None:
    version = tmp_path / "version"
    version.write_text("1")
    source = FileSource(fitted[0], version_file=version)
    key_env = {"WORKBENCH_SERVE_API_KEY_ENV": "RELOAD_TEST_KEY", "RELOAD_TEST_KEY": "k-reload"}
    key = {"X-API-Key": "k-reload"}
    with running_server(source, ServeSettings(), 60, {**SUBPROCESS_ENV, **key_env}) as url:
        stop = threading.Event()
        statuses: Counter[int] = Counter()
        versions: set[str] = set()
        oip = {
            "inputs": [
                {"name": "island", "shape": [1], "datatype": "BYTES", "data": ["Dream"]},
                {"name": "year", "shape": [1], "datatype": "INT64", "data": [2008]},
            ]
        }

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=10, headers=key) as c:
                while not stop.is_set():
                    r = c.post("/v2/models/penguins/infer", json=oip)
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        versions.add(r.json()["model_version"])

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            for v in ("2", "3"):
                version.write_text(v)
                loaded = httpx.post(url + "/v2/repository/models/penguins/load", timeout=30, headers=key)
                assert loaded.json()["version"] == v
                time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=20)
        assert set(statuses) == {200}, statuses
        assert sum(statuses.values()) > 20
        assert {"1", "3"} <= versions
