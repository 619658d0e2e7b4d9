"""The `workbench` command line: typer for parsing, rich for people, `--json` for scripts.

A front end over `workbench.api` only: every command is one or two API calls and their rendering.
"""

from __future__ import annotations

import typer

from workbench import __version__
from workbench.cli._cluster import cluster_app
from workbench.cli._datasets import datasets_app
from workbench.cli._demo import demo_command
from workbench.cli._endpoints import endpoints_app, serve_command
from workbench.cli._experiments import experiments_app
from workbench.cli._jobs import jobs_app
from workbench.cli._keys import keys_app
from workbench.cli._models import models_app
from workbench.cli._predict import predict_command
from workbench.cli._run import RUN_CONTEXT, run_command
from workbench.cli._search import compare_command, leaderboard_command, search_command
from workbench.cli._util import user_errors

__all__ = ["app", "main"]

app = typer.Typer(
    name="workbench",
    help="An AutoML workbench: datasets, searches, comparisons, served models and notebooks run as jobs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.add_typer(datasets_app, name="datasets")
app.add_typer(experiments_app, name="experiments")
app.add_typer(cluster_app, name="cluster")
app.add_typer(models_app, name="models")
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(jobs_app, name="jobs")
app.add_typer(keys_app, name="keys")


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


app.command("search")(user_errors(search_command))
app.command("leaderboard")(user_errors(leaderboard_command))
app.command("compare")(user_errors(compare_command))
app.command("serve")(user_errors(serve_command))
app.command("predict")(user_errors(predict_command))
app.command("run", context_settings=RUN_CONTEXT)(user_errors(run_command))
app.command("demo")(demo_command)


def main(argv: list[str] | None = None) -> None:
    app(args=argv)
