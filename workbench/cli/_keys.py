"""`workbench keys ...`: the workspace's signing key and the keys it trusts to sign imported models."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

import workbench.api as wb
from workbench.cli._util import JSON_OPTION, console, print_json, user_errors
from workbench.errors import InvalidInputError

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Signing keys: exported model archives are signed; imports accept the keys trusted here.",
    no_args_is_help=True,
)


@keys_app.command("show")
@user_errors
def keys_show(as_json: bool = JSON_OPTION) -> None:
    """Print this workspace's public key: give it to whoever imports models exported from here."""
    key = wb.workspace_key()
    if as_json:
        print_json(key.to_dict())
        return
    console.print(key.public_key, highlight=False, soft_wrap=True)


@keys_app.command("list")
@user_errors
def keys_list(as_json: bool = JSON_OPTION) -> None:
    """List this workspace's own key and the keys it trusts."""
    keys = wb.list_trusted_keys()
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    table = Table(title="Signing keys")
    for column in ("key id", "name", "trusted since"):
        table.add_column(column)
    for key in keys:
        since = "this workspace's own" if key.own else time.strftime("%Y-%m-%d %H:%M", time.localtime(key.added_at))
        table.add_row(key.key_id, key.name, since)
    console.print(table)


@keys_app.command("trust")
@user_errors
def keys_trust(
    key: str = typer.Argument(..., help="The public key line from `workbench keys show`, or a file holding it."),
    name: str | None = typer.Option(None, "--name", help="A name for the key (default: the one in the line)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Trust a public key to sign the model archives this workspace imports."""
    text = key
    if not key.lstrip().startswith("workbench-") and Path(key).expanduser().is_file():
        path = Path(key).expanduser()
        if path.stat().st_size > 4096:
            raise InvalidInputError(f"{path} is not a public key file: it is larger than a key line.")
        text = path.read_text(errors="replace")
    trusted = wb.trust_key(text, name=name)
    if as_json:
        print_json(trusted.to_dict())
        return
    console.print(f"trusted {trusted.name} (key {trusted.key_id})", highlight=False)


@keys_app.command("remove")
@user_errors
def keys_remove(key_id: str = typer.Argument(..., help="The key id (see `workbench keys list`).")) -> None:
    """Stop trusting a key; versions it signed stay in the registry."""
    wb.untrust_key(key_id)
    console.print(f"key {key_id} is no longer trusted", highlight=False)
