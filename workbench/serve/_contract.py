"""Contract check before promotion: a real server for the source must answer like the model does in-process."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.model import InputSchema, LoadedModel, ModelSource, columns_to_frame
from workbench.serve._app import ServeSettings
from workbench.serve._factory import factory_env
from workbench.serve._schema import FrameBuilder

__all__ = ["ContractReport", "contract_check", "edge_records", "running_server", "terminate"]


@dataclass(frozen=True)
class ContractReport:
    """passed: every answer equalled the in-process one. latency_ms: "b1" / "b100" -> p50 and p99."""

    passed: bool
    mismatches: list[str] = field(default_factory=list)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "mismatches": list(self.mismatches), "latency_ms": dict(self.latency_ms)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(
    source: ModelSource,
    settings: ServeSettings | None = None,
    ready_timeout_s: float = 120.0,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """A uvicorn subprocess on 127.0.0.1 serving `source` (pickled); yields its base URL once ready."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wb-serve-") as tmp:
        path = Path(tmp) / "source.pkl"
        path.write_bytes(pickle.dumps(source))
        env = {
            **os.environ,
            **(extra_env or {}),
            **factory_env({"pickle": str(path)}, settings or ServeSettings(), None),
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "workbench.serve._factory:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready("127.0.0.1", port, ready_timeout_s, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            terminate(process)
            if process.stderr is not None:
                process.stderr.close()


def terminate(process: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`; reaped either way."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


def wait_ready(host: str, port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
            raise RuntimeError(f"the model server exited with code {process.returncode}: {err}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the model server on port {port} was not ready within {timeout_s:.0f} s")


def edge_records(schema: InputSchema) -> list[dict[str, Any]]:
    """Rows that probe the contract: known and unseen categories, 0 and ±1e30 (extreme, yet finite in the
    float32 arithmetic many model libraries use), optional columns left out."""
    values: dict[str, list[Any]] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            values[spec.name] = [0, 1e30, -1e30, 1.5] if not spec.dtype.startswith("int") else [0, 2**62, -(2**62), 7]
        elif spec.kind == "boolean":
            values[spec.name] = [True, False]
        elif spec.kind == "datetime":
            values[spec.name] = ["2020-01-01T00:00:00", "1999-12-31T23:59:59"]
        else:
            values[spec.name] = [*(spec.categories or ())[:2], "__unseen_category__"]
    width = max((len(v) for v in values.values()), default=1)
    rows = [{name: vs[i % len(vs)] for name, vs in values.items()} for i in range(width)]
    rows.append({c.name: rows[0][c.name] for c in schema.columns if c.required})  # optional columns missing
    return rows


# What a kept-alive connection that the server has closed meanwhile fails with on its next request (uvicorn
# closes one idle for 5 s): the request is sent again once, on a new connection (predictions are idempotent).
DROPPED_CONNECTION = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


def _send(conn: http.client.HTTPConnection, path: str, payload: bytes) -> tuple[int, Any]:
    conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return response.status, json.loads(data) if data else None


def _post(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    payload = json.dumps(body).encode()
    try:
        return _send(conn, path, payload)
    except DROPPED_CONNECTION:
        conn.close()  # the next request opens a new connection
        return _send(conn, path, payload)


def _oip_body(schema: InputSchema, records: list[dict[str, Any]]) -> dict[str, Any]:
    from workbench.serve._schema import oip_datatype

    inputs = [
        {"name": c.name, "shape": [len(records)], "datatype": oip_datatype(c), "data": [r.get(c.name) for r in records]}
        for c in schema.columns
        if any(c.name in r for r in records)
    ]
    return {"inputs": inputs}


def contract_check(
    source: ModelSource,
    loaded: LoadedModel,
    b1_requests: int = 200,
    b100_requests: int = 30,
    ready_timeout_s: float = 120.0,
) -> ContractReport:
    """Serve `source` in a real uvicorn process, compare its answers on edge rows with `loaded` in-process,
    and measure p50/p99 latency at batch sizes 1 and 100."""
    schema = loaded.input_schema
    builder = FrameBuilder(schema, max_rows=10_000)
    records = edge_records(schema)
    frames = [columns_to_frame(builder.from_records([r]).columns, schema) for r in records]
    classification = loaded.problem_type != "regression"
    # The in-process answers first: a model's first prediction can take seconds (loading its library), which
    # between two requests would leave the connection idle long enough for the server to close it.
    if classification:
        expected_answers = [np.asarray(loaded.model.predict_proba(frame), dtype=float) for frame in frames]
    else:
        expected_answers = [np.asarray(loaded.model.predict(frame), dtype=float) for frame in frames]
    expected_pred = [loaded.model.predict(f).tolist()[0] for f in frames]
    mismatches: list[str] = []
    latency: dict[str, dict[str, float]] = {}
    with running_server(source, ready_timeout_s=ready_timeout_s) as url:
        port = int(url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            path = f"/v2/models/{loaded.name}/infer"
            for i, (record, expected) in enumerate(zip(records, expected_answers, strict=True)):
                status, body = _post(conn, path, _oip_body(schema, [record]))
                if status != 200:
                    mismatches.append(f"OIP row {i}: HTTP {status}")
                    continue
                outputs = {o["name"]: o for o in body["outputs"]}
                if classification:
                    got = np.asarray(outputs["probabilities"]["data"], dtype=float).reshape(expected.shape)
                else:
                    got = np.asarray(outputs["prediction"]["data"], dtype=float)
                if not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
                    mismatches.append(f"OIP row {i}: server and in-process predictions differ")
            status, body = _post(conn, "/invocations", {"dataframe_records": records})
            if status != 200:
                mismatches.append(f"/invocations: HTTP {status}")
            elif classification and body["predictions"] != expected_pred:
                mismatches.append("/invocations: labels differ from in-process predict")
            elif not classification and not np.allclose(body["predictions"], expected_pred):
                mismatches.append("/invocations: values differ from in-process predict")
            for label, batch, count in (("b1", 1, b1_requests), ("b100", 100, b100_requests)):
                rows = [records[i % len(records)] for i in range(batch)]
                payload = _oip_body(schema, rows)
                times = []
                for _ in range(count):
                    start = time.perf_counter()
                    status, _ = _post(conn, path, payload)
                    times.append((time.perf_counter() - start) * 1e3)
                    if status != 200:
                        mismatches.append(f"latency {label}: HTTP {status}")
                        break
                latency[label] = {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}
        finally:
            conn.close()
    return ContractReport(passed=not mismatches, mismatches=mismatches, latency_ms=latency)
