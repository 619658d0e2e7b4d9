"""`workbench models ...`: register, alias (promote), list, show, export, import and delete models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

import workbench.api as wb
from workbench.cli._table import Column, print_table
from workbench.cli._util import JSON_OPTION, console, error_console, print_json, styled, user_errors
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.api import VersionInfo

__all__ = ["models_app"]

models_app = typer.Typer(help="Register, alias, export and import models.", no_args_is_help=True)


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def _trust(info: VersionInfo) -> str:
    """Where the version came from, in a few words."""
    p = info.provenance
    if p.get("origin") != "imported":
        return "registered here"
    if info.trusted:
        return f"imported, signed by {p.get('signed_by')}"
    return f"UNTRUSTED: imported with --trust ({p.get('reason')})"


def _trust_cell(info: VersionInfo) -> str:
    if info.provenance.get("origin") != "imported":
        return "here"
    return f"signed: {info.provenance.get('signed_by')}" if info.trusted else "UNTRUSTED"


def _trained_on(info: VersionInfo) -> str:
    trained = info.metrics.get("trained_on")
    if not isinstance(trained, dict):
        return "-"
    text = f"{trained.get('rows')} rows ({trained.get('mode')}{wb.final_note(trained)})"
    if info.metrics.get("finalize_error"):
        text += f"; finalize failed: {info.metrics['finalize_error']}"
    elif trained.get("mode") != "train":
        text += "; valid/test scores measured before finalize"
    return text


def _source(source: dict[str, Any]) -> str:
    """ "candidate 3 of experiment 1"; the source as JSON when it is not a candidate or an ensemble."""
    kind, number, experiment = source.get("kind"), source.get("id"), source.get("experiment_id")
    if kind in ("candidate", "ensemble") and number is not None:
        return f"{kind} {number}" + (f" of experiment {experiment}" if experiment is not None else "")
    return json.dumps(source)


def _metric_text(key: str, value: Any) -> str:
    """A recorded metric as a person reads it: scores to 4 decimals, times and sizes with their units."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value if isinstance(value, str) else json.dumps(value)
    if key.endswith("_ms"):
        return f"{value:.2f} ms"
    if key.endswith("_s"):
        return f"{value:.1f} s"
    if key.endswith("_bytes"):
        return f"{value / 1e6:.1f} MB"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _pickles(info: VersionInfo) -> str:
    if info.pickled_files is None:
        return "not listed (bundle made before workbench listed them)"
    return ", ".join(info.pickled_files) or "none (native model files only)"


@models_app.command("list")
@user_errors
def models_list(as_json: bool = JSON_OPTION) -> None:
    """List registered model versions."""
    versions = wb.list_models()
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    columns = [
        Column("ref", fold_to=24),
        Column("aliases", fold_to=16),
        Column("source"),
        Column("trust", fold_to=16),
        Column("metric"),
        *(Column(name, right=True) for name in ("valid", "test", "row ms")),
    ]
    rows = [
        (
            v.ref,
            ", ".join(v.aliases),
            f"{v.source.get('kind')} {v.source.get('id')}",
            styled((_trust_cell(v), "bold red")) if not v.trusted else _trust_cell(v),
            str(v.metrics.get("metric") or "-"),
            _score(v.metrics.get("valid_score")),
            _score(v.metrics.get("test_score")),
            _score(v.metrics.get("predict_row_ms")),
        )
        for v in versions
    ]
    # An untrusted version's trust cell stays, in red, whatever the width (`models show` has the rest).
    optional = ("source", "row ms", "metric") + (("trust",) if all(v.trusted for v in versions) else ())
    print_table(console, "Registered models", columns, rows, optional)


def _show(info: VersionInfo, as_json: bool) -> None:
    if as_json:
        print_json(info.to_dict())
        return
    table = Table(title=f"Model {info.ref}", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")  # a path or a digest is copied whole, never cut short
    rows = {
        "aliases": ", ".join(info.aliases) or "-",
        "source": _source(info.source),
        "provenance": _trust(info),
        "pickled files": _pickles(info),
        "trained on": _trained_on(info),
        "path": str(info.path),
        "manifest sha256": info.manifest_sha256,
        "description": info.description or "-",
        # "trained on" above says what trained_on and finalize_error hold
        **{k: _metric_text(k, v) for k, v in sorted(info.metrics.items()) if k not in ("trained_on", "finalize_error")},
    }
    for key, value in rows.items():
        table.add_row(key, styled((value, "bold red")) if key == "provenance" and not info.trusted else value)
    console.print(table)


@models_app.command("show")
@user_errors
def models_show(
    ref: str = typer.Argument(..., help="name, name@VERSION or name@ALIAS."), as_json: bool = JSON_OPTION
) -> None:
    """Describe one version: aliases, source, metrics, bundle path and manifest sha256."""
    _show(wb.show_model(ref), as_json)


@models_app.command("schema")
@user_errors
def models_schema(
    ref: str = typer.Argument(..., help="name, name@VERSION or name@ALIAS."), as_json: bool = JSON_OPTION
) -> None:
    """The input columns a version expects: kind, dtype, whether required, and the categories seen."""
    schema = wb.model_schema(ref)
    if as_json:
        print_json(schema.to_dict())
        return
    columns = [
        Column("column", fold_to=24),
        *(Column(name) for name in ("kind", "dtype", "required")),
        Column("categories", fold_to=24),
    ]
    rows = [
        (c.name, c.kind, c.dtype, "yes" if c.required else "no", ", ".join(c.categories or ())) for c in schema.columns
    ]
    print_table(console, f"Input of {ref}", columns, rows)


@models_app.command("register")
@user_errors
def models_register(
    name: str = typer.Argument(..., help="Model name."),
    candidate: int | None = typer.Option(None, "--candidate", help="A candidate id (see `workbench leaderboard`)."),
    ensemble: int | None = typer.Option(None, "--ensemble", help="A saved ensemble id."),
    winner: int | None = typer.Option(None, "--winner", help="An experiment id: register its best model."),
    description: str = typer.Option("", help="A note kept with the version."),
    finalize: str = typer.Option(
        "all",
        help="Register the model refitted on all its experiment's rows, on train+valid (keeps the test rows "
        "unseen), or as selected (none).",
        metavar="all|train+valid|none",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a candidate, a saved ensemble or an experiment's winner as the next version of NAME."""
    given = [x for x in (candidate, ensemble, winner) if x is not None]
    if len(given) != 1:
        raise InvalidInputError(
            "Register either a candidate (--candidate ID), an ensemble (--ensemble ID) or --winner EXPERIMENT."
        )
    if winner is not None:
        info = wb.register_winner(winner, name, finalize=finalize)
    else:
        key = f"c{candidate}" if candidate is not None else f"e{ensemble}"
        info = wb.register_model(key, name, description=description, finalize=finalize)
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
    as_json: bool = JSON_OPTION,
) -> None:
    """Point ALIAS of NAME at VERSION, after a contract check against a real server of that version."""
    promotion = wb.promote(name, version, alias, check=check)
    if as_json:
        print_json(promotion.to_dict())
        return
    console.print(f"{name}@{alias} -> {promotion.version.ref}", highlight=False)
    if promotion.contract is not None:
        for batch, figures in promotion.contract.latency_ms.items():
            console.print(
                f"  contract passed; {batch}: p50 {figures['p50']:.2f} ms, p99 {figures['p99']:.2f} ms", highlight=False
            )


@models_app.command("export")
@user_errors
def models_export(
    ref: str = typer.Argument(..., help="name, name@VERSION or name@ALIAS."),
    path: Path = typer.Argument(..., help="The archive to write (or a folder to write it into)."),
) -> None:
    """Write one .tar.gz holding the version's bundle, signed with this workspace's key."""
    info = wb.show_model(ref)
    console.print(str(wb.export_model(ref, path)))
    if not info.trusted:
        error_console().print(
            f"Note: {info.ref} was imported untrusted, so the archive is not signed; its importer needs --trust.",
            highlight=False,
        )


@models_app.command("import")
@user_errors
def models_import(
    path: Path = typer.Argument(..., help="An archive written by `workbench models export`."),
    name: str | None = typer.Option(None, "--name", help="Register under this name (default: the archive's)."),
    trust: bool = typer.Option(
        False,
        "--trust",
        help="Import an unsigned archive, or one signed by a key this workspace does not trust; "
        "the version stays marked untrusted. A model archive can run code when it is loaded.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Verify an archive's signature and content, and register it as the next version of its model."""
    _show(wb.import_model(path, name=name, trust=trust), as_json)


@models_app.command("delete")
@user_errors
def models_delete(
    ref: str = typer.Argument(..., help="name@VERSION or name@ALIAS."),
    force: bool = typer.Option(False, "--force", help="Delete even when aliases point to it (they are removed)."),
) -> None:
    """Remove a version (its number is not reused)."""
    info = wb.delete_model(ref, force=force)
    console.print(f"deleted {info.ref}")
