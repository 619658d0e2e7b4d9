"""The registry_versions and registry_aliases tables.

Every function takes a `sqlite3.Connection`, so a model server can read through a read-only connection
(`open_readonly`) without opening the workspace. Importing this module imports only the standard library
and `workbench.errors`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import NotFoundError, StoreError

__all__ = [
    "add_version",
    "aliases_of",
    "delete_version",
    "list_versions",
    "merge_metrics",
    "open_readonly",
    "remove_alias",
    "resolve_version",
    "set_alias",
]

DB_NAME = "workbench.db"  # as `_store` names it; not imported from there, which would pull in workbench.data
LIVE = "deleted_at IS NULL"


def open_readonly(home: Path) -> sqlite3.Connection:
    """The workspace catalog at `home`, opened read-only."""
    db = home / DB_NAME
    if not db.is_file():
        raise NotFoundError(f"There is no workspace catalog at {db}; check WORKBENCH_HOME.")
    try:
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise StoreError(f"The workspace catalog {db} cannot be opened read-only ({exc}).") from None
    conn.row_factory = sqlite3.Row
    return conn


def _ref(name: str, version: int) -> str:
    return f"{name}@{version}"


def resolve_version(conn: sqlite3.Connection, name: str, selector: int | str | None) -> dict[str, Any]:
    """The live row that `name` and `selector` name: a version number, an alias, or None for the latest."""
    if selector is None:
        row = conn.execute(
            f"SELECT * FROM registry_versions WHERE name = ? AND {LIVE} ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no model {name!r} in the registry; see `workbench models list`.")
        return dict(row)
    if isinstance(selector, int):
        version = selector
    else:
        alias = conn.execute(
            "SELECT version FROM registry_aliases WHERE name = ? AND alias = ?", (name, selector)
        ).fetchone()
        if alias is None:
            raise NotFoundError(f"Model {name!r} has no alias {selector!r}; see `workbench models show {name}`.")
        version = int(alias[0])
    row = conn.execute(
        f"SELECT * FROM registry_versions WHERE name = ? AND version = ? AND {LIVE}", (name, version)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"There is no {_ref(name, version)} in the registry; see `workbench models list`.")
    return dict(row)


def aliases_of(conn: sqlite3.Connection, name: str, version: int) -> list[str]:
    rows = conn.execute(
        "SELECT alias FROM registry_aliases WHERE name = ? AND version = ? ORDER BY alias", (name, version)
    )
    return [str(r[0]) for r in rows]


def list_versions(conn: sqlite3.Connection, name: str | None = None) -> list[dict[str, Any]]:
    query, args = f"SELECT * FROM registry_versions WHERE {LIVE}", []
    if name is not None:
        query, args = query + " AND name = ?", [name]
    return [dict(r) for r in conn.execute(query + " ORDER BY name, version", args)]


def add_version(
    conn: sqlite3.Connection,
    name: str,
    place: Callable[[int], str],
    *,
    kind: str,
    source_id: int,
    manifest_sha256: str,
    metrics: dict[str, Any],
    description: str,
    provenance: dict[str, Any] | None = None,
) -> int:
    """Number the next version of `name` and record it. Called inside the caller's BEGIN IMMEDIATE
    transaction, so concurrent registrations get distinct, contiguous numbers. `place(version)` moves the
    bundle into place and returns its key; should the insert fail, the caller removes the folder."""
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM registry_versions WHERE name = ?", (name,))
    version = int(row.fetchone()[0]) + 1
    bundle_key = place(version)
    conn.execute(
        "INSERT INTO registry_versions (name, version, source_kind, source_id, bundle_key,"
        " manifest_sha256, metrics_json, created_at, description, provenance_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            version,
            kind,
            source_id,
            bundle_key,
            manifest_sha256,
            json.dumps(metrics, sort_keys=True),
            time.time(),
            description,
            json.dumps(provenance or {}, sort_keys=True),
        ),
    )
    return version


def set_alias(conn: sqlite3.Connection, name: str, alias: str, version: int) -> None:
    """Point `alias` at `version` (creating or moving it) in one statement."""
    conn.execute(
        "INSERT INTO registry_aliases (name, alias, version, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        (name, alias, version, time.time()),
    )


def remove_alias(conn: sqlite3.Connection, name: str, alias: str) -> bool:
    return conn.execute("DELETE FROM registry_aliases WHERE name = ? AND alias = ?", (name, alias)).rowcount > 0


def merge_metrics(conn: sqlite3.Connection, name: str, version: int, metrics: dict[str, Any]) -> None:
    """Merge `metrics` into the version's (inside the caller's transaction)."""
    row = resolve_version(conn, name, version)
    merged = {**json.loads(row["metrics_json"]), **metrics}
    conn.execute(
        "UPDATE registry_versions SET metrics_json = ? WHERE name = ? AND version = ?",
        (json.dumps(merged, sort_keys=True, default=str), name, version),
    )


def delete_version(conn: sqlite3.Connection, name: str, version: int) -> None:
    """Tombstone the version (its number is never reused) and drop the aliases pointing to it (inside the
    caller's transaction)."""
    conn.execute("DELETE FROM registry_aliases WHERE name = ? AND version = ?", (name, version))
    conn.execute(
        "UPDATE registry_versions SET deleted_at = ? WHERE name = ? AND version = ?", (time.time(), name, version)
    )
