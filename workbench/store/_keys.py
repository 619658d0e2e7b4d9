"""The trusted_keys table: public keys whose signatures this workspace accepts on imported model archives.

Keys are stored as their text form (`workbench-ed25519 BASE64 NAME`); `key_id` is what a signature names.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

__all__ = ["add_key", "get_key", "list_keys", "remove_key"]


def add_key(conn: sqlite3.Connection, key_id: str, name: str, public_key: str) -> None:
    """Trust `public_key` (or rename it, when it is trusted already)."""
    conn.execute(
        "INSERT INTO trusted_keys (key_id, name, public_key, added_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key_id) DO UPDATE SET name = excluded.name",
        (key_id, name, public_key, time.time()),
    )


def get_key(conn: sqlite3.Connection, key_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM trusted_keys WHERE key_id = ?", (key_id,)).fetchone()
    return dict(row) if row is not None else None


def list_keys(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM trusted_keys ORDER BY added_at, key_id")]


def remove_key(conn: sqlite3.Connection, key_id: str) -> bool:
    return conn.execute("DELETE FROM trusted_keys WHERE key_id = ?", (key_id,)).rowcount > 0
