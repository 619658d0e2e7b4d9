"""`workbench demo` (and `make demo`): the main job, end to end, through the public API.

The quickstart notebook runs headless as a notebook job (`workbench run`): a search of both engines on a
local Dask cluster, its leaderboard, the winner registered. Then the winner is promoted to `production`
after a contract check against a real server, served on 127.0.0.1, sent one real row, and stopped.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

import workbench.api as wb
from workbench.cli._render import print_leaderboard
from workbench.cli._util import console, styled, user_errors

__all__ = ["demo_command"]

# In a clone's folder, its own copy (which a user may have edited); elsewhere the one installed with workbench.
CLONE_NOTEBOOK = Path("notebooks/01_quickstart.ipynb")


def _serve(console: Console, experiment_id: int, model: str) -> None:
    version = wb.show_model(model)
    console.print(f"{version.ref}: {version.source['kind']} {version.source['id']} of the search", highlight=False)
    promotion = wb.promote(version.name, version.version, "production")
    if promotion.contract is not None:
        figures = ", ".join(
            f"{k}: p50 {v['p50']:.2f} ms, p99 {v['p99']:.2f} ms" for k, v in promotion.contract.latency_ms.items()
        )
        console.print(f"contract check passed ({figures}); {version.name}@production -> v{version.version}")
    endpoint = wb.start_endpoint(f"{version.name}@production")
    try:
        rows = wb.sample_rows(experiment_id, 1)
        answer = wb.endpoint_predict(endpoint.id, rows)
        console.print(f"POST {endpoint.url}/predict (a test row: {rows[0]}) ->", highlight=False)
        console.print_json(data=answer.to_dict())
    finally:
        wb.stop_endpoint(endpoint.id)
        console.print(f"endpoint {endpoint.id} stopped")


@user_errors
def demo_command(
    notebook: Path | None = typer.Argument(
        None, help="The notebook to run as the main job (default: the quickstart that comes with workbench)."
    ),
    trials: int = typer.Option(int(os.environ.get("WORKBENCH_DEMO_TRIALS", "6")), help="Trials to run."),
    time_limit: float = typer.Option(float(os.environ.get("WORKBENCH_DEMO_TIME_LIMIT", "90")), help="Seconds."),
    cluster: str = typer.Option(os.environ.get("WORKBENCH_DEMO_CLUSTER", "local:2"), help="The search's cluster."),
) -> None:
    """Run the main job end to end: the quickstart notebook headless as a job (search, leaderboard, register),
    then promote the winner after its contract check, serve it, send it one prediction and stop it."""
    if notebook is None:
        notebook = CLONE_NOTEBOOK if CLONE_NOTEBOOK.is_file() else wb.example_notebook("01_quickstart.ipynb")
    console.rule(styled((f"1. {notebook.name}, headless, as a job (workbench run)", "bold")))
    values = wb.parse_parameters(
        notebook, {"n_trials": str(trials), "time_limit_s": str(time_limit), "cluster": cluster}
    )
    run = wb.run_notebook(notebook, values)
    job = run.follow()
    if job.status != "finished":
        raise wb.WorkbenchError(f"The notebook job {job.id} ended {job.status}: {job.error or 'see its log'}.")
    recorded = run.values
    experiment_id, model = int(recorded["experiment"]), str(recorded["model"])
    console.rule(styled((f"2. Leaderboard of experiment {experiment_id}", "bold")))
    print_leaderboard(console, wb.leaderboard(experiment_id), 8)
    console.print(f"Workspace: {wb.open_workspace().settings.home}; output notebook: {run.output}", highlight=False)
    console.rule(styled(("3. Export and serve: contract check, alias, HTTP endpoint", "bold")))
    _serve(console, experiment_id, model)
