"""The main job, run by `make demo`: profile a bundled dataset, search it with both engines on a local
Dask cluster, print the leaderboard, build the best cross-engine ensemble and write the HTML report.

Finally it registers the winner, promotes it to `production` after a contract check against a real
server, serves it on 127.0.0.1, sends one OIP v2 and one MLflow `/invocations` request and stops it.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

from rich.console import Console

from workbench._progress import SearchProgress
from workbench._render import print_leaderboard, render_profile
from workbench.compare import build_ensemble, save_ensemble, write_comparison_report
from workbench.errors import WorkbenchError
from workbench.search import EventBus, SearchRequest, leaderboard, run_search
from workbench.store import Experiment, Workspace

DEFAULT_DATASET = "breast_cancer"
# A couple of minutes on 2 cores: AutoGluon configurations and Optuna trials side by side.
DEMO_TRIALS = int(os.environ.get("WORKBENCH_DEMO_TRIALS", "8"))
DEMO_TIME_LIMIT_S = float(os.environ.get("WORKBENCH_DEMO_TIME_LIMIT", "150"))


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _serve(console: Console, workspace: Workspace, experiment: Experiment) -> None:
    from workbench.api import register_winner, start_endpoint, stop_endpoint
    from workbench.registry import Registry
    from workbench.search.families import trial_data
    from workbench.serve._promote import promote

    version = register_winner(workspace, experiment.id)
    console.print(f"registered {version.ref} ({version.source['kind']} {version.source['id']})", highlight=False)
    _, report = promote(Registry(workspace), version.name, version.version, "production")
    if report is not None:
        figures = ", ".join(f"{k}: p50 {v['p50']:.2f} ms, p99 {v['p99']:.2f} ms" for k, v in report.latency_ms.items())
        console.print(f"contract check passed ({figures}); {version.name}@production -> v{version.version}")
    endpoint = start_endpoint(workspace, f"{version.name}@production")
    try:
        rows = trial_data(workspace, experiment).X_test.head(2)
        records = json.loads(rows.to_json(orient="records"))
        with urllib.request.urlopen(f"{endpoint.url}/v2/models/{version.name}", timeout=30) as response:
            datatypes = {i["name"]: i["datatype"] for i in json.loads(response.read())["inputs"]}
        inputs = [
            {"name": c, "shape": [len(records)], "datatype": datatypes[c], "data": [r[c] for r in records]}
            for c in rows.columns
        ]
        oip = _post(f"{endpoint.url}/v2/models/{version.name}/infer", {"inputs": inputs})
        console.print(f"POST {endpoint.url}/v2/models/{version.name}/infer ->", highlight=False)
        console.print_json(data={"outputs": oip.get("outputs")})
        mlflow = _post(f"{endpoint.url}/invocations", {"dataframe_records": records})
        console.print(f"POST {endpoint.url}/invocations -> {json.dumps(mlflow)}", highlight=False)
    finally:
        stop_endpoint(workspace, endpoint.id)
        console.print(f"endpoint {endpoint.id} stopped")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dataset = args[0] if args else DEFAULT_DATASET
    console = Console()
    try:
        with Workspace() as workspace:
            console.rule(f"[bold]1. Profile: {dataset}")
            render_profile(console, workspace.profile(dataset))
            console.rule("[bold]2. Search: AutoGluon and Optuna trials as Dask tasks")
            request = SearchRequest(
                dataset=dataset,
                engines=("optuna", "autogluon"),
                n_trials=DEMO_TRIALS,
                time_limit_s=DEMO_TIME_LIMIT_S,
                cluster="auto",
            )
            bus = EventBus(workspace.store, buffered=True)
            with SearchProgress(console, request.n_trials) as progress:
                bus.subscribe(progress.on_event)
                summary = run_search(workspace, request, bus)
            console.rule(f"[bold]3. Leaderboard of experiment {summary.experiment_id}")
            print_leaderboard(console, leaderboard(workspace, workspace.experiment(summary.experiment_id)), 12)
            console.print(
                f"{summary.status}: {summary.complete} trials complete, {summary.pruned} pruned, "
                f"{summary.failed} failed in {summary.elapsed_s:.0f} s. Workspace: {workspace.settings.home}",
                highlight=False,
            )
            experiment = workspace.experiment(summary.experiment_id)
            console.rule("[bold]4. Compare: the best cross-engine ensemble and the report")
            built = save_ensemble(workspace, experiment, build_ensemble(workspace, experiment))
            members = ", ".join(f"{n} x{w:.2f}" for n, w in zip(built.member_names, built.weights, strict=True))
            console.print(
                f"{built.name} ({built.method}): valid {built.valid_score:.4f}, test {built.test_score:.4f}, "
                f"{built.predict_row_ms:.2f} ms per row; members: {members}",
                highlight=False,
            )
            report = write_comparison_report(
                workspace, experiment, workspace.settings.home / f"report-experiment-{experiment.id}.html"
            )
            console.print(f"Report: {report}", highlight=False)
            console.rule("[bold]5. Export and serve: registry, contract check, HTTP endpoint")
            _serve(console, workspace, experiment)
    except WorkbenchError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]Error:[/] {exc.message}", highlight=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
