"""The main job, run by `make demo`: profile a bundled dataset, search it with both engines on a local
Dask cluster, print the leaderboard, build the best cross-engine ensemble and write the HTML report.

Later steps (export, serve) are added here as they land.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

from workbench._progress import SearchProgress
from workbench._render import print_leaderboard, render_profile
from workbench.compare import build_ensemble, save_ensemble, write_comparison_report
from workbench.errors import WorkbenchError
from workbench.search import EventBus, SearchRequest, leaderboard, run_search
from workbench.store import Workspace

DEFAULT_DATASET = "breast_cancer"
# A couple of minutes on 2 cores: AutoGluon configurations and Optuna trials side by side.
DEMO_TRIALS = int(os.environ.get("WORKBENCH_DEMO_TRIALS", "8"))
DEMO_TIME_LIMIT_S = float(os.environ.get("WORKBENCH_DEMO_TIME_LIMIT", "150"))


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
    except WorkbenchError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]Error:[/] {exc.message}", highlight=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
