"""Reading the registry's rows in the workspace catalog with plain sqlite3 (servers read it read-only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from workbench.errors import NotFoundError, StoreError
from workbench.registry._refs import LATEST, format_ref

__all__ = ["DB_NAME", "aliases_of", "open_readonly", "resolve_row"]

DB_NAME = "workbench.db"  # as workbench.store names it (not imported: servers stay light)


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


def resolve_row(conn: sqlite3.Connection, name: str, selector: int | str) -> dict[str, Any]:
    """The live registry_versions row `name` + selector (a version, an alias or LATEST) points to."""
    live = "deleted_at IS NULL"
    if selector == LATEST:
        row = conn.execute(
            f"SELECT * FROM registry_versions WHERE name = ? AND {live} ORDER BY version DESC LIMIT 1", (name,)
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
        f"SELECT * FROM registry_versions WHERE name = ? AND version = ? AND {live}", (name, version)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"There is no {format_ref(name, version)} in the registry; see `workbench models list`.")
    return dict(row)


def aliases_of(conn: sqlite3.Connection, name: str, version: int) -> list[str]:
    rows = conn.execute(
        "SELECT alias FROM registry_aliases WHERE name = ? AND version = ? ORDER BY alias", (name, version)
    )
    return [str(r[0]) for r in rows]
