"""`workbench datasets ...`: list, show, profile, add and delete datasets."""

from __future__ import annotations

import typer
from rich.table import Table

import workbench.api as wb
from workbench.cli._render import print_datasets
from workbench.cli._util import JSON_OPTION, console, print_json, styled, user_errors

__all__ = ["datasets_app"]

datasets_app = typer.Typer(help="List, describe, profile, register and delete datasets.", no_args_is_help=True)


@datasets_app.command("list")
@user_errors
def datasets_list(as_json: bool = JSON_OPTION) -> None:
    """List bundled and registered datasets."""
    entries = wb.list_datasets()
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    print_datasets(console, entries)


@datasets_app.command("show")
@user_errors
def datasets_show(name: str = typer.Argument(..., help="Dataset name."), as_json: bool = JSON_OPTION) -> None:
    """Describe one dataset: source, licence, target and metric."""
    entry = wb.show_dataset(name)
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
    profile = wb.profile_dataset(name, target=target, problem_type=problem_type, metric=metric)
    if as_json:
        print_json(profile.to_dict())
        return
    from workbench.cli._render import render_profile

    render_profile(console, profile)


@datasets_app.command("notebook")
@user_errors
def datasets_notebook(
    name: str = typer.Argument(..., help="Dataset name."),
    path: str = typer.Option(".", help="The notebook to write, or a folder (then search-NAME.ipynb, -2, ... in it)."),
    cluster: str = typer.Option("local:2", help="The search's cluster: auto, local:N, tcp://HOST:PORT."),
) -> None:
    """Write a search notebook for a dataset (the widget flow, its parameters cell filled in); never overwrites."""
    written = wb.write_search_notebook(name, path, cluster=cluster)
    console.print(styled("Wrote ", (str(written), "bold"), ": open it in JupyterLab (make lab)."), highlight=False)


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
    entry = wb.add_dataset(name, path, url=url, query=query, target=target)
    if as_json:
        print_json(entry.to_dict())
        return
    console.print(styled("Registered dataset ", (entry.name, "bold"), f" ({entry.format})."), highlight=False)


@datasets_app.command("delete")
@user_errors
def datasets_delete(name: str = typer.Argument(..., help="A registered dataset's name.")) -> None:
    """Unregister a dataset (bundled ones stay; refused while experiments use it)."""
    entry = wb.delete_dataset(name)
    console.print(styled("Deleted dataset ", (entry.name, "bold"), "."), highlight=False)
