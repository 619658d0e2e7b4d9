"""`workbench demo` (and `make demo`): the main job, end to end, through the public API.

Profile a bundled dataset, search it with both engines on a local Dask cluster, print the leaderboard,
build the best cross-engine ensemble and write the HTML report; then register the winner, promote it to
`production` after a contract check against a real server, serve it on 127.0.0.1, send it real rows and
stop it.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console

import workbench.api as wb
from workbench.cli._render import print_leaderboard, render_profile
from workbench.cli._util import console, user_errors

__all__ = ["demo_command"]

DEFAULT_DATASET = "breast_cancer"


def _serve(console: Console, experiment_id: int) -> None:
    version = wb.register_winner(experiment_id)
    console.print(f"registered {version.ref} ({version.source['kind']} {version.source['id']})", highlight=False)
    promotion = wb.promote(version.name, version.version, "production")
    if promotion.contract is not None:
        figures = ", ".join(
            f"{k}: p50 {v['p50']:.2f} ms, p99 {v['p99']:.2f} ms" for k, v in promotion.contract.latency_ms.items()
        )
        console.print(f"contract check passed ({figures}); {version.name}@production -> v{version.version}")
    endpoint = wb.start_endpoint(f"{version.name}@production")
    try:
        rows = wb.sample_rows(experiment_id, 2)
        answer = wb.endpoint_predict(endpoint.id, rows)
        console.print(f"POST {endpoint.url}/predict ({len(rows)} test rows) ->", highlight=False)
        console.print_json(data=answer.to_dict())
    finally:
        wb.stop_endpoint(endpoint.id)
        console.print(f"endpoint {endpoint.id} stopped")


@user_errors
def demo_command(
    dataset: str = typer.Argument(DEFAULT_DATASET, help="A bundled or registered dataset."),
    trials: int = typer.Option(int(os.environ.get("WORKBENCH_DEMO_TRIALS", "8")), help="Trials to run."),
    time_limit: float = typer.Option(float(os.environ.get("WORKBENCH_DEMO_TIME_LIMIT", "150")), help="Seconds."),
) -> None:
    """Run the main job end to end: profile, search, compare, ensemble, report, register, promote, serve."""
    console.rule(f"[bold]1. Profile: {dataset}")
    render_profile(console, wb.profile_dataset(dataset))
    console.rule("[bold]2. Search: AutoGluon and Optuna trials as Dask tasks")
    config = wb.search_config(engines=("optuna", "autogluon"), n_trials=trials, time_limit_s=time_limit)
    experiment = wb.prepare_search(dataset, config)
    from workbench.cli._progress import SearchProgress

    with SearchProgress(console, trials) as progress:
        summary = wb.run_search(experiment.id, config, on_event=progress.on_event)
    console.rule(f"[bold]3. Leaderboard of experiment {summary.experiment_id}")
    print_leaderboard(console, wb.leaderboard(summary.experiment_id), 12)
    console.print(
        f"{summary.status}: {summary.complete} trials complete, {summary.pruned} pruned, "
        f"{summary.failed} failed in {summary.elapsed_s:.0f} s. Workspace: {wb.open_workspace().settings.home}",
        highlight=False,
    )
    console.rule("[bold]4. Compare: the best cross-engine ensemble and the report")
    built = wb.build_ensemble(experiment.id)
    members = ", ".join(f"{n} x{w:.2f}" for n, w in zip(built.member_names, built.weights, strict=True))
    console.print(
        f"{built.name} ({built.method}): valid {built.valid_score:.4f}, test {built.test_score:.4f}, "
        f"{built.predict_row_ms:.2f} ms per row; members: {members}",
        highlight=False,
    )
    home = wb.open_workspace().settings.home
    report = wb.write_report(experiment.id, home / f"report-experiment-{experiment.id}.html")
    console.print(f"Report: {report}", highlight=False)
    console.rule("[bold]5. Export and serve: registry, contract check, HTTP endpoint")
    _serve(console, experiment.id)
