"""Serving overhead: single-row latency and throughput over HTTP vs in-process predict_proba, and vs a bare
FastAPI JSON endpoint under the same load. wrk runs as a second process; everything stays on 127.0.0.1.

    .venv/bin/python bench/serve.py [--seconds 10]

Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class PickledSource:
    path: Path

    def load(self) -> Any:
        from workbench.model import LoadedModel, loads_model

        model = loads_model(self.path.read_bytes())
        return LoadedModel("penguins", 1, model, model.input_schema_, model.problem_type, model.classes_)

    def describe(self) -> str:
        return str(self.path)


def bare_app() -> Any:
    """The baseline: a FastAPI endpoint that parses JSON and answers JSON, no model."""
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"predictions": [len(body)]}

    return app


def fit(tmp: Path) -> tuple[Path, Any]:
    from workbench.config import Settings
    from workbench.search import TrialData, WorkerResources
    from workbench.search.families import LocalReporter, fit_candidate
    from workbench.store import ExperimentSpec, Workspace

    with Workspace(Settings(home=tmp / "home", data_roots=(tmp,), datasets_dir=REPO / "datasets")) as ws:
        experiment = ws.create_experiment(ExperimentSpec("penguins"))
        frame, split = ws.experiment_frame(experiment), ws.split(experiment)
    X, y = frame.drop(columns=[experiment.target]), frame[experiment.target].to_numpy()
    data = TrialData(
        X.iloc[split.train], y[split.train], X.iloc[split.valid], y[split.valid], X.iloc[split.test], y[split.test],
        problem_type=experiment.problem_type, metric=experiment.metric,
        classes=tuple(sorted(set(y.tolist()))), split_hash=experiment.split_hash,
    )  # fmt: skip
    _, blob = fit_candidate("lightgbm", {}, data, WorkerResources(cpus=1), LocalReporter(), 0)
    path = tmp / "model.pkl"
    path.write_bytes(blob)
    return path, data.X_test


def wrk(url: str, body: str, connections: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
        )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout  # fmt: skip
    Path(script.name).unlink()

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m is not None, out
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _answers(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/docs")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    sys.path.insert(0, str(HERE))
    import serve as this  # the same classes under an importable name, so the server can unpickle them

    from workbench.serve import ServeSettings
    from workbench.serve._contract import free_port, running_server

    with tempfile.TemporaryDirectory() as tmp:
        path, rows = fit(Path(tmp))
        source = this.PickledSource(path)
        model = source.load().model
        row = rows.iloc[:1]
        times = []
        end = time.perf_counter() + args.seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            model.predict_proba(row)
            times.append((time.perf_counter() - start) * 1e3)
        local = {
            "p50": float(np.percentile(times, 50)),
            "p99": float(np.percentile(times, 99)),
            "rps": len(times) / args.seconds,
        }
        record = {k: (None if v != v else v) for k, v in rows.iloc[0].to_dict().items()}
        body = json.dumps([record])
        env = {"PYTHONPATH": str(HERE)}
        with running_server(source, ServeSettings(max_in_flight=1024), 120, env) as url:
            served1 = wrk(url + "/predict", body, 1, args.seconds)
            served16 = wrk(url + "/predict", body, 16, args.seconds)
        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "serve:bare_app", "--port", str(port), "--log-level", "warning", "--no-access-log"],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not _answers(port):
                if time.monotonic() > deadline:
                    raise TimeoutError("the bare FastAPI server did not start")
                time.sleep(0.1)
            bare16 = wrk(f"http://127.0.0.1:{port}/echo", body, 16, args.seconds)
        finally:
            bare.terminate()
            bare.wait(timeout=10)
    print(
        f"in-process predict_proba, 1 row:  p50 {local['p50']:.3f} ms  p99 {local['p99']:.3f} ms  {local['rps']:.0f}/s"
    )
    print(
        f"HTTP /predict, 1 connection:       p50 {served1['p50']:.3f} ms  p99 {served1['p99']:.3f} ms  {served1['rps']:.0f}/s"
    )
    print(
        f"HTTP /predict, 16 connections:     p50 {served16['p50']:.3f} ms  p99 {served16['p99']:.3f} ms  {served16['rps']:.0f}/s  non-2xx {served16['non2xx']:.0f}"
    )
    print(
        f"bare FastAPI /echo, 16 connections: p50 {bare16['p50']:.3f} ms  p99 {bare16['p99']:.3f} ms  {bare16['rps']:.0f}/s"
    )
    print(f"ratio HTTP p50 / in-process p50 (1 conn): {served1['p50'] / local['p50']:.1f}x")
    print(f"ratio served throughput / bare FastAPI (16 conn): {served16['rps'] / bare16['rps']:.2f}")


if __name__ == "__main__":
    main()
