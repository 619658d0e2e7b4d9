"""Serving speed: the exported winner through HTTP vs AutoGluon's own in-process predict of the same model.

One AutoGluon search (its default model list) runs on a bundled dataset; its LightGBM model (the tree-model
case) and its WeightedEnsemble (the ensemble case) are registered, and each is served by `workbench serve`
in its own process, pinned to one core. From the other core, `wrk` sends single-row OIP v2 requests that
cycle through the test rows, for a bounded time:

- latency: 1 connection, p50/p99 vs `TabularPredictor.predict(row, model=...)` in-process on the same rows;
- throughput: 16 connections vs a bare FastAPI JSON endpoint given the same bodies and the same load.

Before timing, every test row is sent once and the answer compared with the in-process prediction.

With `--against DIR` (another checkout of the repository, e.g. `git worktree add /tmp/wt-base HEAD`), each
model is then also served by that checkout's code and by this one's in turn, `--rounds` times, with the
same bodies and load, so a change to the server is compared on one model with the machine's drift spread
over both sides.

    .venv/bin/python bench/serve.py [--dataset penguins] [--seconds 10] [--fit-seconds 120] [--against DIR]

Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common  # noqa: E402

from workbench.serve._contract import free_port, terminate  # noqa: E402

GOAL_TREE_LATENCY = 0.2  # HTTP p50 / AutoGluon in-process p50, tree model
GOAL_ENSEMBLE_LATENCY = 0.1  # the same, ensemble
GOAL_THROUGHPUT = 0.5  # served / bare FastAPI requests per second, tree model, 16 connections
WARM_UP_S = 2  # a discarded wrk run before each measured server


def bare_app() -> Any:
    """The baseline: a FastAPI endpoint that parses the JSON body and answers JSON, no model.

    (FastAPI and Request are imported at module level: FastAPI resolves the string annotations this
    module's `from __future__ import annotations` makes from the module's globals.)
    """
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"model_name": "echo", "outputs": [{"name": "n", "data": [len(body)]}]}

    return app


def _cores() -> tuple[list[str], list[str]]:
    """taskset prefixes pinning the server to core 0 and the load generator to core 1 (when there are two)."""
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return [], []
    return ["taskset", "-c", "0"], ["taskset", "-c", "1"]


def wrk(url: str, bodies: list[str], connections: int, seconds: int) -> dict[str, float]:
    """wrk cycling through `bodies` (one POST each); latency percentiles, requests/s and errors."""
    entries = ",\n".join(f"[==[{b}]==]" for b in bodies)
    script_text = f"""
local bodies = {{
{entries}
}}
local i = 0
local headers = {{["Content-Type"] = "application/json"}}
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[i])
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    _, client_core = _cores()
    command = [*client_core, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    Path(script.name).unlink()

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m is not None, out
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(g) for g in sockets.groups()) if sockets else 0)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50": ms("50"), "p99": ms("99"), "errors": float(errors)}


def _answers(port: int, path: str) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int, ready_path: str) -> Iterator[None]:
    server_core, _ = _cores()
    proc = subprocess.Popen(
        [*server_core, *command], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 180
        while not _answers(port, ready_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not become ready")
            time.sleep(0.2)
        yield
    finally:
        terminate(proc, 15)


def oip_body(model: str, rows: pd.DataFrame, datatypes: dict[str, str]) -> str:
    record = json.loads(rows.to_json(orient="records"))[0]
    inputs = [{"name": c, "shape": [1], "datatype": datatypes[c], "data": [record[c]]} for c in rows.columns]
    return json.dumps({"inputs": inputs})


def in_process(predictor: Any, model_name: str, rows: list[pd.DataFrame], seconds: float) -> dict[str, float]:
    """TabularPredictor.predict on one row at a time, cycling through `rows`, for about `seconds`."""
    times: list[float] = []
    end = time.perf_counter() + seconds
    i = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor.predict(rows[0], model=model_name)
        while time.perf_counter() < end or len(times) < 20:
            start = time.perf_counter()
            predictor.predict(rows[i % len(rows)], model=model_name)
            times.append((time.perf_counter() - start) * 1e3)
            i += 1
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99)), "rps": len(times) / seconds}


def check_answers(port: int, name: str, bodies: list[str], expected: np.ndarray, classification: bool) -> float:
    """Largest |served - in-process| over the rows."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    worst = 0.0
    try:
        for body, want in zip(bodies, expected, strict=True):
            conn.request("POST", f"/v2/models/{name}/infer", body, {"Content-Type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            outputs = {o["name"]: o["data"] for o in answer["outputs"]}
            got = np.asarray(outputs["probabilities" if classification else "prediction"], dtype=float)
            worst = max(worst, float(np.max(np.abs(got - np.ravel(want)))))
    finally:
        conn.close()
    return worst


def alternate(
    serve: list[str],
    env: dict[str, str],
    url_path: str,
    bodies: list[str],
    roots: dict[str, Path],
    rounds: int,
    seconds: int,
) -> dict[str, list[dict[str, float]]]:
    """wrk at 1 and 16 connections against the same model served by each checkout in `roots`, in turn (the
    order flips every round, so neither side always runs first)."""
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in roots}
    for turn in range(rounds):
        for side, root in list(roots.items())[:: 1 if turn % 2 == 0 else -1]:
            port = free_port()
            with process([*serve, "--port", str(port)], {**env, "PYTHONPATH": str(root)}, port, "/v2/health/ready"):
                url = f"http://127.0.0.1:{port}{url_path}"
                wrk(url, bodies, 1, WARM_UP_S)
                one, many = wrk(url, bodies, 1, seconds), wrk(url, bodies, 16, seconds)
            runs[side].append({"p50": one["p50"], "p99": one["p99"], "rps1": one["rps"], "rps16": many["rps"]})
    return runs


def metadata(port: int, name: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/v2/models/{name}")
        result: dict[str, Any] = json.loads(conn.getresponse().read())
        return result
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="penguins")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--fit-seconds", type=float, default=120.0)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--against", type=Path, help="another checkout whose server is timed in turn with this one's")
    parser.add_argument("--rounds", type=int, default=3, help="turns per checkout with --against")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    from autogluon.tabular import TabularPredictor

    import workbench.api as wb
    from workbench.registry import Registry
    from workbench.store import trial_data
    from workbench.store import trials as records

    ws = _common.workspace()
    config = wb.search_config(engines=("autogluon",), n_trials=1, time_limit_s=args.fit_seconds, cluster="local:1")
    summary = wb.run_search(wb.prepare_search(args.dataset, config, workspace=ws).id, config, workspace=ws)
    experiment = ws.experiment(summary.experiment_id)
    data = trial_data(ws, experiment)
    candidates = {c.model_in_artifact or c.name: c for c in records.list_candidates(ws.store, experiment.id)}
    winner = max(candidates.values(), key=lambda c: c.valid_score or -np.inf)
    cases = [("tree", "LightGBM"), ("ensemble", "WeightedEnsemble_L2")]
    registry = Registry(ws)
    rows = [data.X_test.iloc[[i]] for i in range(min(args.rows, len(data.X_test)))]
    classification = experiment.problem_type != "regression"
    env = {"WORKBENCH_HOME": str(ws.settings.home), "WORKBENCH_DATASETS_DIR": str(_common.REPO / "datasets")}
    results: dict[str, dict[str, Any]] = {}
    turns: dict[str, dict[str, list[dict[str, float]]]] = {}
    for case, model_name in cases:
        if model_name not in candidates:
            print(f"{case}: the search made no {model_name} (it made {sorted(candidates)}); skipped")
            continue
        version = registry.register(f"bench-{case}", candidate_id=candidates[model_name].id)
        loaded = registry.load(version.ref)
        folder = loaded.model.path  # type: ignore[attr-defined]
        predictor = TabularPredictor.load(str(folder), verbosity=0, require_py_version_match=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predictor.persist(models=[model_name], with_ancestors=True)
        local = in_process(predictor, model_name, rows, args.seconds)
        expected = np.vstack([np.atleast_2d(loaded.model.prediction(r)) for r in rows])
        port = free_port()
        serve = [sys.executable, "-m", "workbench", "serve", version.ref, "--max-in-flight", "1024"]
        with process([*serve, "--port", str(port)], env, port, "/v2/health/ready"):
            meta = metadata(port, version.name)
            datatypes = {i["name"]: i["datatype"] for i in meta["inputs"]}
            bodies = [oip_body(version.name, r, datatypes) for r in rows]
            worst = check_answers(port, version.name, bodies, expected, classification)
            url = f"http://127.0.0.1:{port}/v2/models/{version.name}/infer"
            wrk(url, bodies, 1, WARM_UP_S)  # steady state: first requests fill caches and allocators
            one = wrk(url, bodies, 1, args.seconds)
            many = wrk(url, bodies, 16, args.seconds)
        if args.against is not None:
            roots = {"this": _common.REPO, "against": args.against.resolve()}
            path = f"/v2/models/{version.name}/infer"
            turns[case] = alternate(serve, env, path, bodies, roots, args.rounds, args.seconds)
        results[case] = {
            "model": model_name,
            "local": local,
            "one": one,
            "many": many,
            "worst": worst,
            "fast": meta["parameters"].get("fast_path"),
            "bodies": bodies,
        }
    port = free_port()
    bare_command = [sys.executable, "-m", "uvicorn", "--factory", "serve:bare_app", "--port", str(port)]
    bare_command += ["--log-level", "warning", "--no-access-log"]
    if not results:
        sys.exit("nothing to compare")
    with process(bare_command, {"PYTHONPATH": str(HERE)}, port, "/docs"):
        tree_bodies = results.get("tree", next(iter(results.values())))["bodies"]
        check = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        check.request("POST", "/echo", tree_bodies[0], {"Content-Type": "application/json"})
        status = check.getresponse().status
        check.close()
        if status != 200:
            sys.exit(f"the bare FastAPI endpoint answered {status}; it must answer 200 to be a baseline")
        wrk(f"http://127.0.0.1:{port}/echo", tree_bodies, 1, WARM_UP_S)
        bare = wrk(f"http://127.0.0.1:{port}/echo", tree_bodies, 16, args.seconds)

    print(
        f"\ndataset {args.dataset}: {len(data.X_test)} test rows, {len(rows)} cycled; winner by valid score: {winner.name}"
    )
    print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    for case, r in results.items():
        label = f"{case} ({r['model']})"
        print(
            f"{label + ' AutoGluon in-process':34}{r['local']['p50']:9.3f}{r['local']['p99']:9.3f}{r['local']['rps']:9.0f}"
        )
        for key, what in (("one", "HTTP, 1 conn"), ("many", "HTTP, 16 conn")):
            w = r[key]
            print(f"{label + ' ' + what:34}{w['p50']:9.3f}{w['p99']:9.3f}{w['rps']:9.0f}{w['errors']:8.0f}")
    print(
        f"{'bare FastAPI /echo, 16 conn':34}{bare['p50']:9.3f}{bare['p99']:9.3f}{bare['rps']:9.0f}{bare['errors']:8.0f}"
    )
    print()
    for case, r in results.items():
        goal = GOAL_TREE_LATENCY if case == "tree" else GOAL_ENSEMBLE_LATENCY
        ratio = r["one"]["p50"] / r["local"]["p50"]
        print(
            f"{case}: HTTP p50 / AutoGluon in-process p50 = {ratio:.3f} (goal <= {goal}); "
            f"fast path {r['fast']}; served vs in-process max |diff| {r['worst']:.2e}"
        )
    if "tree" in results:
        ratio = results["tree"]["many"]["rps"] / bare["rps"]
        errors = results["tree"]["many"]["errors"]
        print(f"tree: throughput / bare FastAPI = {ratio:.2f} (goal >= {GOAL_THROUGHPUT}), errors {errors:.0f}")
    if turns:
        print(f"\nin turn, {args.rounds} rounds: this checkout ({_common.REPO}) vs {args.against}; medians [all runs]")
        print(f"{'':30}{'p50 ms':>9}{'p99 ms':>9}{'req/s 1':>9}{'req/s 16':>10}")
        for case, sides in turns.items():
            for side, runs in sides.items():
                cells = [float(np.median([r[key] for r in runs])) for key in ("p50", "p99", "rps1", "rps16")]
                print(f"{case + ' ' + side:30}{cells[0]:9.3f}{cells[1]:9.3f}{cells[2]:9.0f}{cells[3]:10.0f}")
                print(f"{'':30}p50 {[round(r['p50'], 3) for r in runs]} req/s 16 {[round(r['rps16']) for r in runs]}")


if __name__ == "__main__":
    main()
