"""The `workbench` command line: typer for parsing, rich for people, `--json` for scripts."""

from __future__ import annotations

import os
import signal
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from workbench._cliutil import JSON_OPTION, print_json, user_errors
from workbench._version import __version__
from workbench.compute._cli import cluster_app
from workbench.errors import InvalidInputError
from workbench.registry._cli import models_app
from workbench.serve._cli import serve_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="workbench",
    help="An AutoML workbench: datasets, searches, comparisons and served models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
datasets_app = typer.Typer(help="List, describe, profile and register datasets.", no_args_is_help=True)
experiments_app = typer.Typer(help="Create, list and show experiments.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(experiments_app, name="experiments")
app.add_typer(cluster_app, name="cluster")
app.add_typer(models_app, name="models")

console = Console()


def _workspace() -> Any:
    from workbench.store import Workspace

    return Workspace()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"workbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """An AutoML workbench: datasets, searches, comparisons and served models."""


# datasets ----------------------------------------------------------------------------------------


@datasets_app.command("list")
@user_errors
def datasets_list(as_json: bool = JSON_OPTION) -> None:
    """List bundled and registered datasets."""
    entries = _workspace().datasets()
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table = Table(title="Datasets")
    for column in ("name", "kind", "task", "target", "metric", "rows", "description"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            e.name, e.kind, e.task or "", e.target or "", e.metric or "", str(e.rows or ""), e.description or ""
        )
    console.print(table)


@datasets_app.command("show")
@user_errors
def datasets_show(name: str = typer.Argument(..., help="Dataset name."), as_json: bool = JSON_OPTION) -> None:
    """Describe one dataset: source, licence, target and metric."""
    entry = _workspace().dataset(name)
    if as_json:
        print_json(entry.to_dict())
        return
    table = Table(title=f"Dataset {entry.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in entry.to_dict().items():
        if value is not None:
            table.add_row(key, str(value))
    console.print(table)


@datasets_app.command("profile")
@user_errors
def datasets_profile(
    name: str = typer.Argument(..., help="Dataset name."),
    target: str | None = typer.Option(None, help="Column to predict (default: the dataset's own target)."),
    problem_type: str | None = typer.Option(None, help="binary, multiclass or regression (default: inferred)."),
    metric: str | None = typer.Option(None, help="Metric name (default: from the problem type)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Profile a dataset: columns, missing values, cardinality, target distribution and warnings."""
    profile = _workspace().profile(name, target=target, problem_type=problem_type, metric=metric)
    if as_json:
        print_json(profile.to_dict())
        return
    from workbench._render import render_profile

    render_profile(console, profile)


@datasets_app.command("add")
@user_errors
def datasets_add(
    name: str = typer.Argument(..., help="Name to register the dataset under."),
    path: str | None = typer.Argument(None, help="A CSV, TSV, Parquet or Excel file."),
    url: str | None = typer.Option(None, help="Database URL: sqlite:///file.db or duckdb:///file.duckdb."),
    query: str | None = typer.Option(None, help="SELECT query to run against --url."),
    target: str | None = typer.Option(None, help="Default column to predict."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a local file, or a SQL query against a SQLite or DuckDB file, under a name."""
    entry = _workspace().add_dataset(name, path, url=url, query=query, target=target)
    if as_json:
        print_json(entry.to_dict())
        return
    console.print(f"Registered dataset [bold]{entry.name}[/] ({entry.format}).", highlight=False)


# experiments -------------------------------------------------------------------------------------


@experiments_app.command("create")
@user_errors
def experiments_create(
    dataset: str = typer.Argument(..., help="Dataset name."),
    target: str | None = typer.Option(None, help="Column to predict (default: the dataset's own target)."),
    problem_type: str | None = typer.Option(None, help="binary, multiclass or regression (default: inferred)."),
    metric: str | None = typer.Option(None, help="Metric (default: the dataset's, or the problem type's)."),
    seed: int = typer.Option(0, help="Seed of the train/valid/test split."),
    valid_fraction: float = typer.Option(0.2, help="Share of rows for validation."),
    test_fraction: float = typer.Option(0.2, help="Share of rows for the final test."),
    group_column: str | None = typer.Option(None, help="Keep each group's rows in one part."),
    time_column: str | None = typer.Option(None, help="Split in time order: train, then valid, then test."),
    time_limit: float | None = typer.Option(None, help="Search budget in seconds."),
    trials: int | None = typer.Option(None, help="Search budget in trials."),
    name: str | None = typer.Option(None, help="Experiment name (default: DATASET-TARGET)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an experiment: a dataset, target, metric, seeded split and budget."""
    from workbench.data import SplitSpec
    from workbench.store import Budget, ExperimentSpec

    spec = ExperimentSpec(
        dataset=dataset,
        target=target,
        problem_type=problem_type,
        metric=metric,
        split=SplitSpec(seed, valid_fraction, test_fraction, group_column, time_column),
        budget=Budget(time_limit, trials),
        name=name,
    )
    experiment = _workspace().create_experiment(spec)
    if as_json:
        print_json(experiment.to_dict())
        return
    from workbench._render import render_experiment

    render_experiment(console, experiment)
    typer.echo(experiment.id)


@experiments_app.command("list")
@user_errors
def experiments_list(as_json: bool = JSON_OPTION) -> None:
    """List experiments."""
    experiments = _workspace().experiments()
    if as_json:
        print_json([e.to_dict() for e in experiments])
        return
    table = Table(title="Experiments")
    for column in ("id", "name", "dataset", "target", "problem", "metric", "split", "status"):
        table.add_column(column)
    for e in experiments:
        sizes = "/".join(str(e.split_sizes[k]) for k in ("train", "valid", "test"))
        table.add_row(str(e.id), e.name, e.dataset, e.target, e.problem_type, e.metric, sizes, e.status)
    console.print(table)


@experiments_app.command("show")
@user_errors
def experiments_show(
    experiment_id: str = typer.Argument(..., metavar="ID", help="Experiment id."), as_json: bool = JSON_OPTION
) -> None:
    """Show one experiment: dataset hash, target, metric, split and budget."""
    experiment = _workspace().experiment(experiment_id)
    if as_json:
        print_json(experiment.to_dict())
        return
    from workbench._render import render_experiment

    render_experiment(console, experiment)


# search ------------------------------------------------------------------------------------------


@app.command("search")
@user_errors
def search(
    dataset: str | None = typer.Argument(None, help="Dataset name (leave out with --resume)."),
    target: str | None = typer.Option(None, help="Column to predict (default: the dataset's own target)."),
    metric: str | None = typer.Option(None, help="Metric (default: the dataset's, or the problem type's)."),
    problem_type: str | None = typer.Option(None, help="binary, multiclass or regression (default: inferred)."),
    time_limit: float | None = typer.Option(None, help="Wall-clock budget of this run, in seconds."),
    trials: int | None = typer.Option(None, help="Finished trials to reach (earlier runs count)."),
    engines: str = typer.Option("autogluon,optuna", help="Comma-separated engines: autogluon, optuna."),
    cluster: str = typer.Option("auto", help="auto, local:N, tcp://HOST:PORT or a scheduler file."),
    families: str | None = typer.Option(None, help="Optuna model families, comma-separated (default: all)."),
    multi_objective: bool = typer.Option(False, help="Optuna: optimise the metric and predict latency together."),
    trial_timeout: float = typer.Option(900.0, help="Fail a trial that runs longer than this, in seconds."),
    on_stop: str = typer.Option("cancel", help="At the end of the budget: cancel or finish running trials."),
    seed: int = typer.Option(0, help="Seed of the samplers and of the split."),
    resume: str | None = typer.Option(None, metavar="EXPERIMENT", help="Continue this experiment."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of progress."),
) -> None:
    """Search for models: AutoGluon and Optuna trials as Dask tasks. Prints the experiment id last."""
    from workbench.search import EventBus, SearchRequest, run_search

    resume_id = None
    if resume is not None:
        if not resume.isdigit():
            raise InvalidInputError(f"{resume!r} is not an experiment id; ids are numbers.")
        resume_id = int(resume)
    request = SearchRequest(
        dataset=dataset,
        target=target,
        problem_type=problem_type,
        metric=metric,
        split_seed=seed,
        engines=tuple(e.strip() for e in engines.split(",") if e.strip()),
        n_trials=trials,
        time_limit_s=time_limit,
        trial_timeout_s=trial_timeout,
        on_stop=on_stop,
        multi_objective=multi_objective,
        families=tuple(f.strip() for f in families.split(",")) if families else None,
        seed=seed,
        cluster=cluster,
        resume=resume_id,
    )
    from workbench.jobs import JOB_ENV, finish_job

    workspace = _workspace()
    bus = EventBus(workspace.store, buffered=True)
    job_id = os.environ.get(JOB_ENV)
    status = "failed"
    try:
        if as_json:
            summary = run_search(workspace, request, bus, on_driver=_stop_on_sigterm)
        else:
            from workbench._progress import SearchProgress

            with SearchProgress(console, trials) as progress:
                bus.subscribe(progress.on_event)
                summary = run_search(
                    workspace,
                    request,
                    bus,
                    on_experiment=lambda e: console.print(f"experiment {e.id}: {e.name} ({e.metric})", highlight=False),
                    on_driver=_stop_on_sigterm,
                )
        status = summary.status
    finally:
        if job_id and job_id.isdigit():
            finish_job(workspace, int(job_id), status)
    from workbench._render import print_leaderboard
    from workbench.search import leaderboard as board

    if as_json:
        from dataclasses import asdict

        print_json(
            {**asdict(summary), "leaderboard": board(workspace, workspace.experiment(summary.experiment_id))[:10]}
        )
        return
    print_leaderboard(console, board(workspace, workspace.experiment(summary.experiment_id)), limit=10)
    console.print(
        f"{summary.status}: {summary.complete} complete, {summary.pruned} pruned, {summary.failed} failed, "
        f"{summary.cancelled} cancelled in {summary.elapsed_s:.1f} s. {summary.message}",
        highlight=False,
    )
    typer.echo(summary.experiment_id)


@app.command("compare")
@user_errors
def compare_command(
    experiment_id: str = typer.Argument(..., metavar="EXPERIMENT", help="Experiment id."),
    html: str | None = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    ensemble: str | None = typer.Option(
        None,
        "--ensemble",
        help="Build and save the best cross-engine ensemble under these constraints, e.g. "
        "'max_latency_ms=2,max_members=5,max_size_mb=50' ('' for none).",
    ),
    methods: str = typer.Option("greedy,stacking", help="Ensemble methods to try: greedy, stacking."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare an experiment's models: build ensembles across engines and write an HTML report."""
    from pathlib import Path

    from workbench.compare import EnsembleConstraints, build_ensemble, save_ensemble, write_comparison_report

    workspace = _workspace()
    experiment = workspace.experiment(experiment_id)
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    if not chosen or any(m not in ("greedy", "stacking") for m in chosen):
        raise InvalidInputError(f"Unknown ensemble method in {methods!r}; use greedy, stacking or both.")
    output: dict[str, Any] = {"experiment_id": experiment.id}
    if ensemble is not None:
        constraints = EnsembleConstraints.parse(ensemble)
        built = save_ensemble(workspace, experiment, build_ensemble(workspace, experiment, constraints, chosen))  # type: ignore[arg-type]
        output["ensemble"] = built.summary()
        if not as_json:
            members = ", ".join(f"{n} x{w:.2f}" for n, w in zip(built.member_names, built.weights, strict=True))
            console.print(
                f"Saved {built.name} ({built.method}): valid {built.valid_score:.4f}, test {built.test_score:.4f}, "
                f"{built.predict_row_ms:.2f} ms per row, {built.size_bytes / 1e6:.1f} MB; members: {members}",
                highlight=False,
            )
    if html is not None:
        path = write_comparison_report(workspace, experiment, Path(html).expanduser().absolute())
        output["report"] = str(path)
        if not as_json:
            console.print(f"Report written to {path}", highlight=False)
    if as_json:
        print_json(output)
    elif ensemble is None and html is None:
        from workbench._render import print_leaderboard
        from workbench.search import leaderboard

        print_leaderboard(console, leaderboard(workspace, experiment), 20)
        console.print("Add --ensemble CONSTRAINTS to build an ensemble, --html FILE for a report.")


endpoints_app = typer.Typer(help="Start, list and stop served models running in the background.", no_args_is_help=True)
app.add_typer(endpoints_app, name="endpoints")


@endpoints_app.command("list")
@user_errors
def endpoints_list(as_json: bool = JSON_OPTION) -> None:
    """List endpoints with their URLs, ports, status and logs."""
    from workbench.serve._endpoints import list_endpoints

    endpoints = list_endpoints(_workspace())
    if as_json:
        print_json([e.to_dict() for e in endpoints])
        return
    table = Table(title="Endpoints")
    for column in ("id", "model", "version", "url", "pid", "status", "log"):
        table.add_column(column, overflow="fold")
    for e in endpoints:
        table.add_row(str(e.id), e.model, str(e.version), e.url, str(e.pid or ""), e.status, e.log_path or "")
    console.print(table)


@endpoints_app.command("start")
@user_errors
def endpoints_start(
    ref: str = typer.Argument(..., metavar="MODEL", help="name, name@VERSION or name@ALIAS."),
    port: int | None = typer.Option(None, help="Port on 127.0.0.1 (default: a free one)."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the API key."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve a registered model in the background on 127.0.0.1 and wait until it is ready."""
    from workbench.serve._endpoints import start_endpoint

    endpoint = start_endpoint(_workspace(), ref, port, api_key_env)
    if as_json:
        print_json(endpoint.to_dict())
        return
    console.print(f"Endpoint {endpoint.id}: {endpoint.model} v{endpoint.version} at {endpoint.url}", highlight=False)


@endpoints_app.command("stop")
@user_errors
def endpoints_stop(endpoint_id: int = typer.Argument(..., metavar="ID", help="Endpoint id.")) -> None:
    """Stop a background endpoint."""
    from workbench.serve._endpoints import stop_endpoint

    endpoint = stop_endpoint(_workspace(), endpoint_id)
    console.print(f"Endpoint {endpoint.id} stopped.", highlight=False)


def _stop_on_sigterm(driver: Any) -> None:
    """SIGTERM (from `SearchHandle.stop()` or a job manager) stops the search cleanly."""
    signal.signal(signal.SIGTERM, lambda signum, frame: driver.stop())


@app.command("leaderboard")
@user_errors
def leaderboard_command(
    experiment_id: str = typer.Argument(..., metavar="EXPERIMENT", help="Experiment id."),
    limit: int = typer.Option(20, help="Rows to show (0 for all)."),
    show_trials: bool = typer.Option(False, "--trials", help="Show the trials with their states and errors."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an experiment's candidates from both engines, best first (rebuilt from the store)."""
    from workbench._render import print_leaderboard
    from workbench.search import leaderboard, trial_table

    workspace = _workspace()
    experiment = workspace.experiment(experiment_id)
    rows = trial_table(workspace, experiment) if show_trials else leaderboard(workspace, experiment)
    if as_json:
        print_json(rows)
        return
    if show_trials:
        table = Table(title=f"Trials of experiment {experiment.id}")
        for column in ("engine", "number", "state", "values", "worker", "attempts", "error"):
            table.add_column(column, overflow="fold")
        for t in rows:
            values = ", ".join(f"{v:.4g}" for v in t["values"]) if t["values"] else ""
            table.add_row(
                t["engine"],
                str(t["number"]),
                t["state"],
                values,
                t["worker"] or "",
                str(t["attempts"]),
                t["error"] or "",
            )
        console.print(table)
        return
    print_leaderboard(console, rows, limit)


app.command("serve")(user_errors(serve_command))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
