"""`workbench models ...`: list, show, register, alias, export, import and delete registered models.

Imported by `workbench.cli` on every command, so the registry (and the store) load only when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.registry._registry import Registry, VersionInfo

from workbench._cliutil import JSON_OPTION, print_json, user_errors

__all__ = ["models_app"]


models_app = typer.Typer(help="Register, alias, export and import models.", no_args_is_help=True)


def _registry() -> Registry:
    from workbench.registry._registry import Registry
    from workbench.store import Workspace

    return Registry(Workspace())


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


@models_app.command("list")
@user_errors
def models_list(as_json: bool = JSON_OPTION) -> None:
    """List registered model versions."""
    versions = _registry().list()
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    table = Table(title="Registered models")
    for column in ("ref", "aliases", "source", "metric", "valid", "test", "row ms"):
        table.add_column(column)
    for v in versions:
        m = v.metrics
        table.add_row(
            v.ref,
            ", ".join(v.aliases),
            f"{v.source.get('kind')} {v.source.get('id')}",
            str(m.get("metric") or "-"),
            _score(m.get("valid_score")),
            _score(m.get("test_score")),
            _score(m.get("predict_row_ms")),
        )
    Console().print(table)


def _show(info: VersionInfo, as_json: bool) -> None:
    if as_json:
        print_json(info.to_dict())
        return
    table = Table(title=f"Model {info.ref}", show_header=False)
    rows = {
        "aliases": ", ".join(info.aliases) or "-",
        "source": json.dumps(info.source),
        "path": str(info.path),
        "manifest sha256": info.manifest_sha256,
        "description": info.description or "-",
        **{k: str(v) for k, v in sorted(info.metrics.items())},
    }
    for key, value in rows.items():
        table.add_row(key, escape(value))
    Console().print(table)


@models_app.command("show")
@user_errors
def models_show(
    ref: str = typer.Argument(..., help="name, name@VERSION or name@ALIAS."), as_json: bool = JSON_OPTION
) -> None:
    """Describe one version: aliases, source, metrics, bundle path and manifest sha256."""
    _show(_registry().resolve(ref), as_json)


@models_app.command("register")
@user_errors
def models_register(
    name: str = typer.Argument(..., help="Model name."),
    candidate: int | None = typer.Option(None, "--candidate", help="A candidate id (see `workbench leaderboard`)."),
    ensemble: int | None = typer.Option(None, "--ensemble", help="A saved ensemble id."),
    description: str = typer.Option("", help="A note kept with the version."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a candidate or a saved ensemble as the next version of NAME."""
    info = _registry().register(name, candidate_id=candidate, ensemble_id=ensemble, description=description)
    _show(info, as_json)


@models_app.command("alias")
@user_errors
def models_alias(
    name: str = typer.Argument(..., help="Model name."),
    version: int = typer.Argument(..., help="Version number."),
    alias: str = typer.Argument(..., help="Alias, e.g. production or staging."),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Serve the version for real and check its answers first (default)."
    ),
) -> None:
    """Point ALIAS of NAME at VERSION, after a contract check against a real server of that version."""
    from workbench.serve._promote import promote

    info, report = promote(_registry(), name, version, alias, check=check)
    Console().print(f"{escape(name)}@{escape(alias)} -> {info.ref}")
    if report is not None:
        for batch, figures in report.latency_ms.items():
            Console().print(
                f"  contract passed; {batch}: p50 {figures['p50']:.2f} ms, p99 {figures['p99']:.2f} ms", highlight=False
            )


@models_app.command("export")
@user_errors
def models_export(
    ref: str = typer.Argument(..., help="name, name@VERSION or name@ALIAS."),
    path: Path = typer.Argument(..., help="The archive to write (or a folder to write it into)."),
) -> None:
    """Write one .tar.gz holding the version's bundle."""
    if not path.parent.is_dir():
        raise InvalidInputError(f"The folder {path.parent} does not exist; create it first.")
    Console().print(str(_registry().export(ref, path)))


@models_app.command("import")
@user_errors
def models_import(
    path: Path = typer.Argument(..., help="An archive written by `workbench models export`."),
    name: str | None = typer.Option(None, "--name", help="Register under this name (default: the archive's)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Verify an archive and register it as the next version of its model."""
    if not path.is_file():
        raise InvalidInputError(f"There is no file {path}; give the path of an exported archive.")
    _show(_registry().import_archive(path, name=name), as_json)


@models_app.command("delete")
@user_errors
def models_delete(
    ref: str = typer.Argument(..., help="name@VERSION or name@ALIAS."),
    force: bool = typer.Option(False, "--force", help="Delete even when aliases point to it (they are removed)."),
) -> None:
    """Remove a version (its number is not reused)."""
    info = _registry().delete(ref, force=force)
    Console().print(f"deleted {info.ref}")
