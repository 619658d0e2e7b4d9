"""The datasets and profiles tables: registered datasets, and profiles cached by their source's fingerprint."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.data import DatasetEntry, Profile
    from workbench.store._store import Store

__all__ = [
    "add_dataset",
    "cached_profile",
    "delete_dataset",
    "get_dataset",
    "list_datasets",
    "save_profile",
]


def _entry(row: sqlite3.Row) -> DatasetEntry:
    from workbench.data import DatasetEntry

    return DatasetEntry.from_json(row["entry_json"])


def add_dataset(store: Store, entry: DatasetEntry, content_hash: str) -> None:
    try:
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO datasets (name, kind, entry_json, content_hash, rows, columns, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.name,
                    entry.kind,
                    entry.to_json(),
                    content_hash,
                    entry.rows or 0,
                    entry.columns or 0,
                    time.time(),
                ),
            )
    except sqlite3.IntegrityError:
        raise InvalidInputError(f"A dataset named {entry.name!r} is already registered; choose another name.") from None


def get_dataset(store: Store, name: str) -> DatasetEntry | None:
    row = store.conn.execute("SELECT entry_json FROM datasets WHERE name = ?", (name,)).fetchone()
    return _entry(row) if row else None


def list_datasets(store: Store) -> list[DatasetEntry]:
    return [_entry(r) for r in store.conn.execute("SELECT entry_json FROM datasets ORDER BY name")]


def delete_dataset(store: Store, name: str) -> bool:
    with store.transaction() as conn:
        conn.execute("DELETE FROM profiles WHERE dataset = ?", (name,))
        return conn.execute("DELETE FROM datasets WHERE name = ?", (name,)).rowcount > 0


def _options(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True)


def cached_profile(store: Store, dataset: str, options: dict[str, Any], fingerprint: str) -> Profile | None:
    """The profile computed with `options` while the source had `fingerprint`; None when it changed since."""
    from workbench.data import Profile

    row = store.conn.execute(
        "SELECT fingerprint, profile_json FROM profiles WHERE dataset = ? AND options = ?", (dataset, _options(options))
    ).fetchone()
    if row is None or row["fingerprint"] != fingerprint:
        return None
    return Profile.from_dict(json.loads(row["profile_json"]))


def save_profile(store: Store, dataset: str, options: dict[str, Any], fingerprint: str, profile: Profile) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO profiles (dataset, options, fingerprint, content_hash, profile_json, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dataset, options) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, content_hash = excluded.content_hash,"
            " profile_json = excluded.profile_json, created_at = excluded.created_at",
            (
                dataset,
                _options(options),
                fingerprint,
                profile.content_hash,
                json.dumps(profile.to_dict(), sort_keys=True),
                time.time(),
            ),
        )
