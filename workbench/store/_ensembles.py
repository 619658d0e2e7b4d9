"""The ensembles table: saved ensembles, their members and weights, scores and measured latency."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench._json import to_jsonable

if TYPE_CHECKING:
    from workbench.store._store import Store

__all__ = ["EnsembleRow", "add_ensemble", "delete_ensemble", "get_ensemble", "list_ensembles"]


@dataclass(frozen=True)
class EnsembleRow:
    """A saved ensemble. spec: name, members ({candidate_id, name, weight}), classes, predictions_key and
    meta_key (the stacking meta-model's artifact, if any)."""

    id: int
    experiment_id: int
    method: str
    spec: dict[str, Any]
    valid_score: float | None
    test_score: float | None
    predict_row_ms: float | None
    predict_batch_ms: float | None
    size_bytes: int | None
    artifact_key: str | None
    created_at: float

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or f"ensemble-{self.id}")

    @property
    def members(self) -> list[dict[str, Any]]:
        return list(self.spec.get("members", []))

    @property
    def key(self) -> str:
        return f"e{self.id}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data.update(key=self.key, name=self.name, members=self.members)
        return data


def _row(row: sqlite3.Row) -> EnsembleRow:
    data = dict(row)
    data["spec"] = json.loads(data.pop("members_json"))
    return EnsembleRow(**data)


def add_ensemble(
    store: Store,
    experiment_id: int,
    method: str,
    spec: dict[str, Any],
    scores: dict[str, Any],
    artifact_key: str,
    name_of: Any,
) -> EnsembleRow:
    """Insert the ensemble; its name is `name_of(id)` (it carries the new id), set in the same transaction."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO ensembles (experiment_id, method, members_json, valid_score, test_score, predict_row_ms,"
            " predict_batch_ms, size_bytes, artifact_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                experiment_id,
                method,
                json.dumps(spec, default=str),
                scores.get("valid_score"),
                scores.get("test_score"),
                scores.get("predict_row_ms"),
                scores.get("predict_batch_ms"),
                scores.get("size_bytes"),
                artifact_key,
                time.time(),
            ),
        )
        ensemble_id = int(cursor.lastrowid or 0)
        named = {**spec, "name": name_of(ensemble_id)}
        conn.execute(
            "UPDATE ensembles SET members_json = ? WHERE id = ?", (json.dumps(named, default=str), ensemble_id)
        )
    row = get_ensemble(store, ensemble_id)
    assert row is not None
    return row


def get_ensemble(store: Store, ensemble_id: int) -> EnsembleRow | None:
    row = store.conn.execute("SELECT * FROM ensembles WHERE id = ?", (ensemble_id,)).fetchone()
    return _row(row) if row else None


def list_ensembles(store: Store, experiment_id: int) -> list[EnsembleRow]:
    rows = store.conn.execute("SELECT * FROM ensembles WHERE experiment_id = ? ORDER BY id", (experiment_id,))
    return [_row(r) for r in rows]


def delete_ensemble(store: Store, ensemble_id: int) -> EnsembleRow | None:
    """Remove the row and return it (its artifacts are the caller's to remove)."""
    row = get_ensemble(store, ensemble_id)
    if row is not None:
        with store.transaction() as conn:
            conn.execute("DELETE FROM ensembles WHERE id = ?", (ensemble_id,))
    return row
