"""`workbench search`, `workbench leaderboard` and `workbench compare`."""

from __future__ import annotations

import time
from typing import Any

import typer

import workbench.api as wb
from workbench.cli._table import Column, print_table
from workbench.cli._util import CV_FOLDS_HELP, JSON_OPTION, console, parse_cv_folds, parse_id, print_json, split_list
from workbench.errors import InvalidInputError

__all__ = ["compare_command", "leaderboard_command", "search_command"]


def search_command(
    dataset: str | None = typer.Argument(None, help="Dataset name (leave out with --resume)."),
    target: str | None = typer.Option(None, help="Column to predict (default: the dataset's own target)."),
    metric: str | None = typer.Option(None, help="Metric (default: the dataset's, or the problem type's)."),
    problem_type: str | None = typer.Option(None, help="binary, multiclass or regression (default: inferred)."),
    time_limit: float | None = typer.Option(
        None, help="Wall-clock budget of this whole command, in seconds: cluster start, trials and finalize."
    ),
    trials: int | None = typer.Option(None, help="Finished trials to reach (earlier runs count)."),
    engines: str = typer.Option("autogluon,optuna", help="Comma-separated engines: autogluon, optuna."),
    cluster: str | None = typer.Option(
        None, help="auto, local:N, tcp://HOST:PORT or a scheduler file [WORKBENCH_CLUSTER, else auto]."
    ),
    families: str | None = typer.Option(None, help="Optuna model families, comma-separated (default: all)."),
    multi_objective: bool = typer.Option(False, help="Optuna: optimise the metric and predict latency together."),
    trial_timeout: float | None = typer.Option(None, help="Fail a trial that runs longer than this [900 s]."),
    on_stop: str | None = typer.Option(None, help="At the end of the budget: cancel or finish running trials."),
    seed: int = typer.Option(0, help="Seed of the samplers and of the split."),
    cv_folds: str = typer.Option("auto", metavar="auto|K", help=CV_FOLDS_HELP),
    finalize: str = typer.Option(
        "all",
        help="Refit the winner after the search on all rows, on train+valid (keeps the test rows unseen), or none.",
        metavar="all|train+valid|none",
    ),
    ensemble: bool = typer.Option(
        True,
        "--ensemble/--no-ensemble",
        help="After the trials, build an ensemble of the best candidates; kept when it beats its best member "
        "out of fold.",
    ),
    resume: str | None = typer.Option(None, metavar="EXPERIMENT", help="Continue this experiment."),
    background: bool = typer.Option(False, "--background", help="Run as a background job and return at once."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of progress."),
) -> None:
    """Search for models: AutoGluon and Optuna trials as Dask tasks. Prints the experiment id last."""
    started = time.monotonic()
    if resume is not None:
        experiment = wb.show_experiment(parse_id(resume))
        config = wb.resume_config(
            experiment.id,
            n_trials=trials,
            time_limit_s=time_limit,
            cluster=cluster,
            trial_timeout_s=trial_timeout,
            on_stop=_stop_mode(on_stop),
            finalize=finalize,
        )
    else:
        if not dataset:
            raise InvalidInputError("Name a dataset to search, or an experiment to continue with --resume.")
        config = wb.search_config(
            engines=split_list(engines) or (),
            families=split_list(families),
            n_trials=trials,
            time_limit_s=time_limit,
            cluster=cluster,
            trial_timeout_s=trial_timeout if trial_timeout is not None else 900.0,
            on_stop=_stop_mode(on_stop) or "cancel",
            multi_objective=multi_objective,
            seed=seed,
            finalize=finalize,
            ensemble=ensemble,
        )
        experiment = wb.prepare_search(
            dataset,
            config,
            target=target,
            problem_type=problem_type,
            metric=metric,
            split=wb.SplitSpec(seed=seed, cv_folds=parse_cv_folds(cv_folds)),
        )
    if background:
        handle = wb.start_search(experiment.id, config)
        if as_json:
            print_json(handle.to_dict())
        else:
            console.print(f"experiment {experiment.id}: search running as job {handle.job_id}", highlight=False)
            typer.echo(experiment.id)
        return
    if as_json:
        summary = wb.run_search(experiment.id, config, started_at=started)
    else:
        from workbench.cli._progress import SearchProgress

        console.print(f"experiment {experiment.id}: {experiment.name} ({experiment.metric})", highlight=False)
        target_trials = config.budget_for(experiment).n_trials
        with SearchProgress(console, target_trials) as progress:
            summary = wb.run_search(experiment.id, config, on_event=progress.on_event, started_at=started)
    board = wb.leaderboard(summary.experiment_id)
    if as_json:
        print_json(
            {**summary.to_dict(), "selection": board.selection, "leaderboard": [r.to_dict() for r in board.rows[:10]]}
        )
        return
    from workbench.cli._render import print_leaderboard

    print_leaderboard(console, board, limit=10)
    console.print(
        f"{summary.status}: {summary.complete} complete, {summary.pruned} pruned, {summary.failed} failed, "
        f"{summary.cancelled} cancelled in {summary.elapsed_s:.1f} s. {summary.message[:1].upper()}{summary.message[1:]}",
        highlight=False,
    )
    if summary.ensemble is not None:
        console.print(_ensemble_line(summary.ensemble), highlight=False)
    console.print(_finalize_line(summary.finalized, config.finalize, time.monotonic() - started), highlight=False)
    typer.echo(summary.experiment_id)


def _ensemble_line(ensemble: dict[str, Any]) -> str:
    if ensemble.get("kept"):
        return f"Ensemble {ensemble['name']} ({ensemble['key']}): {ensemble['reason']}"
    reason = str(ensemble.get("reason") or "see `workbench compare`")
    for said in ("Not kept: ", "Not saved: "):  # the line says it first
        reason = reason.removeprefix(said)
    return f"No ensemble kept: {reason}"


def _finalize_line(finalized: dict[str, Any] | None, mode: str, wall_s: float) -> str:
    if mode == "none":
        return f"Not finalized (--finalize none): the winner stays trained on the train rows. Wall time {wall_s:.1f} s."
    if finalized is None:
        return f"Not finalized: the search did not end on its budget. Wall time {wall_s:.1f} s."
    if not finalized["finalized"]:
        return f"Winner {finalized['name']} not finalized: {finalized['reason']}. Wall time {wall_s:.1f} s."
    made = wb.final_note(finalized)
    instead_of = finalized.get("instead_of")
    if instead_of:
        number = finalized["key"][1:]
        return (
            f"Winner {instead_of['name']} not finalized: {instead_of['reason']}. Finalized instead: "
            f"{finalized['name']}, the best model whose refit fits, on {finalized['rows']} rows ({mode}{made}) in "
            f"{finalized['seconds']:.1f} s, as {finalized['why']} "
            f"(`workbench models register NAME --candidate {number}` registers it); "
            f"its scores above were measured before finalize. Wall time {wall_s:.1f} s."
        )
    return (
        f"Winner {finalized['name']} finalized on {finalized['rows']} rows ({mode}{made}) in "
        f"{finalized['seconds']:.1f} s; "
        f"its scores above were measured before finalize. Wall time {wall_s:.1f} s."
    )


def _stop_mode(text: str | None) -> Any:
    if text is None:
        return None
    if text not in wb.STOP_MODES:
        raise InvalidInputError(f"--on-stop must be 'cancel' or 'finish', not {text!r}.")
    return text


def leaderboard_command(
    experiment_id: str = typer.Argument(..., metavar="EXPERIMENT", help="Experiment id."),
    limit: int = typer.Option(20, help="Rows to show (0 for all)."),
    show_trials: bool = typer.Option(False, "--trials", help="Show the trials with their states and errors."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an experiment's candidates from both engines and its ensembles, best first."""
    number = parse_id(experiment_id)
    if show_trials:
        trials = wb.list_trials(number)
        if as_json:
            print_json([t.to_dict() for t in trials])
            return
        columns = [
            Column("engine"),
            Column("number", right=True),
            Column("state"),
            Column("values", fold_to=12),
            Column("worker", fold_to=24),
            Column("attempts", right=True),
            Column("error", fold_to=32),
        ]
        rows = [
            (
                t.engine,
                str(t.number),
                t.state,
                ", ".join(f"{v:.4g}" for v in t.values) if t.values else "",
                t.worker or "",
                str(t.attempts),
                t.error or "",
            )
            for t in trials
        ]
        print_table(console, f"Trials of experiment {number}", columns, rows, optional=("worker", "attempts"))
        return
    board = wb.leaderboard(number)
    if as_json:
        print_json([r.to_dict() for r in board.rows[: limit or None]])
        return
    from workbench.cli._render import print_leaderboard

    print_leaderboard(console, board, limit)


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
    number = parse_id(experiment_id)
    wb.show_experiment(number)
    output: dict[str, Any] = {"experiment_id": number}
    if ensemble is not None:
        built = wb.build_ensemble(number, wb.EnsembleConstraints.parse(ensemble), methods=split_list(methods) or ())
        output["ensemble"] = built.to_dict()
        if not as_json:
            members = ", ".join(f"{n} x{w:.2f}" for n, w in zip(built.member_names, built.weights, strict=True))
            console.print(
                f"Saved {built.name} ({built.method}): valid {built.valid_score:.4f}, test {built.test_score:.4f}, "
                f"{built.predict_row_ms:.2f} ms per row, {built.size_bytes / 1e6:.1f} MB; members: {members}",
                highlight=False,
            )
            if built.selection is not None:
                console.print(built.selection.reason, highlight=False)
    if html is not None:
        path = wb.write_report(number, html)
        output["report"] = str(path)
        if not as_json:
            console.print(f"Report written to {path}", highlight=False)
    if as_json:
        print_json(output)
    elif ensemble is None and html is None:
        from workbench.cli._render import print_leaderboard

        print_leaderboard(console, wb.leaderboard(number), 20)
        console.print("Add --ensemble CONSTRAINTS to build an ensemble, --html FILE for a report.")
