"""The experiments table, and deleting an experiment with every row that belongs to it."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.store._store import Store

__all__ = [
    "add_experiment",
    "delete_experiment",
    "experiments_using",
    "find_experiment",
    "get_experiment",
    "list_experiments",
    "set_search_config",
    "set_status",
    "split_in_use",
]


def _row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["spec"] = json.loads(data.pop("spec_json"))
    return data


def add_experiment(store: Store, record: dict[str, Any]) -> int:
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO experiments (name, dataset, dataset_hash, target, problem_type, metric, spec_json,"
            " split_hash, split_artifact, status, created_at, fingerprint)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record["name"],
                record["dataset"],
                record["dataset_hash"],
                record["target"],
                record["problem_type"],
                record["metric"],
                json.dumps(record["spec"], sort_keys=True),
                record["split_hash"],
                record["split_artifact"],
                record.get("status", "created"),
                time.time(),
                record.get("fingerprint"),
            ),
        )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)


def get_experiment(store: Store, experiment_id: int) -> dict[str, Any] | None:
    row = store.conn.execute("SELECT * FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
    return _row(row) if row else None


def find_experiment(store: Store, fingerprint: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """The newest experiment with this fingerprint and one of these statuses."""
    marks = ", ".join("?" for _ in statuses)
    row = store.conn.execute(
        f"SELECT * FROM experiments WHERE fingerprint = ? AND status IN ({marks}) ORDER BY id DESC LIMIT 1",
        (fingerprint, *statuses),
    ).fetchone()
    return _row(row) if row else None


def list_experiments(store: Store) -> list[dict[str, Any]]:
    return [_row(r) for r in store.conn.execute("SELECT * FROM experiments ORDER BY id")]


def experiments_using(store: Store, dataset: str) -> list[int]:
    rows = store.conn.execute("SELECT id FROM experiments WHERE dataset = ? ORDER BY id", (dataset,))
    return [int(r[0]) for r in rows]


def set_status(store: Store, experiment_id: int, status: str, *, only_if: tuple[str, ...] = ()) -> bool:
    """Set the status (when `only_if` is given: only from one of those statuses); True when it changed."""
    query, args = "UPDATE experiments SET status = ? WHERE id = ?", [status, experiment_id]
    if only_if:
        query += f" AND status IN ({', '.join('?' for _ in only_if)})"
        args.extend(only_if)
    with store.transaction() as conn:
        return conn.execute(query, args).rowcount > 0


def set_search_config(store: Store, experiment_id: int, config: dict[str, Any]) -> None:
    """Remember the search configuration last run on the experiment (a later resume starts from it)."""
    with store.transaction() as conn:
        row = conn.execute("SELECT spec_json FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
        spec = {**json.loads(row[0]), "search": config}
        conn.execute(
            "UPDATE experiments SET spec_json = ? WHERE id = ?", (json.dumps(spec, sort_keys=True), experiment_id)
        )


def split_in_use(store: Store, split_artifact: str, besides: int) -> bool:
    row = store.conn.execute(
        "SELECT 1 FROM experiments WHERE split_artifact = ? AND id != ? LIMIT 1", (split_artifact, besides)
    ).fetchone()
    return row is not None


def delete_experiment(store: Store, experiment_id: int) -> None:
    """Delete the experiment's rows (events, candidates, ensembles, trials, jobs, the experiment) in one
    transaction. Its artifacts are the caller's to remove afterwards."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE endpoints SET job_id = NULL WHERE job_id IN (SELECT id FROM jobs WHERE experiment_id = ?)",
            (experiment_id,),
        )
        for table in ("events", "finals", "candidates", "ensembles", "trials", "jobs"):
            conn.execute(f"DELETE FROM {table} WHERE experiment_id = ?", (experiment_id,))
        conn.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))
