"""`workbench experiments ...`: create, list, show and delete experiments."""

from __future__ import annotations

import typer

import workbench.api as wb
from workbench.cli._table import Column, print_table
from workbench.cli._util import CV_FOLDS_HELP, JSON_OPTION, console, parse_cv_folds, parse_id, print_json, user_errors

__all__ = ["experiments_app"]

experiments_app = typer.Typer(help="Create, list, show and delete experiments.", no_args_is_help=True)


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
    cv_folds: str = typer.Option("auto", metavar="auto|K", help=CV_FOLDS_HELP),
    time_limit: float | None = typer.Option(None, help="Search budget in seconds."),
    trials: int | None = typer.Option(None, help="Search budget in trials."),
    name: str | None = typer.Option(None, help="Experiment name (default: DATASET-TARGET)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an experiment: a dataset, target, metric, seeded split and budget. Prints the id last."""
    experiment = wb.create_experiment(
        dataset,
        target=target,
        problem_type=problem_type,
        metric=metric,
        split=wb.SplitSpec(seed, valid_fraction, test_fraction, group_column, time_column, parse_cv_folds(cv_folds)),
        budget=wb.Budget(time_limit, trials),
        name=name,
    )
    if as_json:
        print_json(experiment.to_dict())
        return
    from workbench.cli._render import render_experiment

    render_experiment(console, experiment)
    typer.echo(experiment.id)


@experiments_app.command("list")
@user_errors
def experiments_list(as_json: bool = JSON_OPTION) -> None:
    """List experiments."""
    experiments = wb.list_experiments()
    if as_json:
        print_json([e.to_dict() for e in experiments])
        return
    columns = [
        Column("id", right=True),
        Column("name", fold_to=24),
        Column("dataset", fold_to=16),
        Column("target", fold_to=16),
        *(Column(name) for name in ("problem", "metric", "split", "status")),
    ]
    rows = [
        (
            str(e.id),
            e.name,
            e.dataset,
            e.target,
            e.problem_type,
            e.metric,
            "/".join(str(e.split_sizes[k]) for k in ("train", "valid", "test")),
            e.status,
        )
        for e in experiments
    ]
    # An experiment's default name is its dataset and target; its split sizes are in `experiments show`.
    print_table(console, "Experiments", columns, rows, optional=("split", "target", "dataset", "problem"))


@experiments_app.command("show")
@user_errors
def experiments_show(
    experiment_id: str = typer.Argument(..., metavar="ID", help="Experiment id."), as_json: bool = JSON_OPTION
) -> None:
    """Show one experiment: dataset hash, target, metric, split and budget."""
    experiment = wb.show_experiment(parse_id(experiment_id))
    if as_json:
        print_json(experiment.to_dict())
        return
    from workbench.cli._render import render_experiment

    render_experiment(console, experiment)


@experiments_app.command("delete")
@user_errors
def experiments_delete(experiment_id: str = typer.Argument(..., metavar="ID", help="Experiment id.")) -> None:
    """Delete an experiment with its trials, candidates, ensembles and artifacts (registered models stay)."""
    experiment = wb.delete_experiment(parse_id(experiment_id))
    console.print(f"Deleted experiment {experiment.id} ({experiment.name}).", highlight=False)
