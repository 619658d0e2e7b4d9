"""The finals table: candidates refitted after selection on more rows (finalized), one row per mode.

A final's artifact is the refitted model (a pickle, or an AutoGluon predictor zip holding the refitted
model `model_in_artifact`); the candidate's own row, artifact and scores stay as they were at selection.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from workbench.store._store import Store

__all__ = ["FinalRow", "add_final", "final_note", "get_final", "how_made", "list_finals"]


@dataclass(frozen=True)
class FinalRow:
    """Candidate `candidate_id` refitted on `rows` rows (`mode`: "all" or "train+valid"); `seeds` refits
    with different seeds averaged (1: one refit); `bag_folds`: its bags refitted as bags over that many
    folds, each child on all rows but one fold (1: each bag refitted as one model on every row)."""

    candidate_id: int
    mode: str
    experiment_id: int
    rows: int
    artifact_key: str
    model_in_artifact: str | None
    fit_time_s: float | None
    created_at: float
    seeds: int = 1
    bag_folds: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def how_made(finals: Iterable[FinalRow]) -> dict[str, int]:
    """How `finals` (a model's, one per candidate) were made beyond one refit each on their rows: the most
    `seeds` averaged and the most `bag_folds`, each only when more than one."""
    rows = list(finals)
    made = {"seeds": max((f.seeds for f in rows), default=1), "bag_folds": max((f.bag_folds for f in rows), default=1)}
    return {key: n for key, n in made.items() if n > 1}


def final_note(made: Mapping[str, Any]) -> str:
    """How a final was made, when not one refit on its rows, from a mapping with a final's `seeds` and
    `bag_folds` (a FinalRow's `to_dict()`, a search's `finalized`, a version's `trained_on`): ", 5 seeds
    averaged", ", bagged over 4 folds", or ""."""
    seeds, bag_folds = int(made.get("seeds") or 1), int(made.get("bag_folds") or 1)
    return (f", {seeds} seeds averaged" if seeds > 1 else "") + (
        f", bagged over {bag_folds} folds" if bag_folds > 1 else ""
    )


def _row(row: Any) -> FinalRow:
    return FinalRow(**{k: row[k] for k in FinalRow.__dataclass_fields__})


def add_final(
    store: Store,
    candidate_id: int,
    mode: str,
    experiment_id: int,
    rows: int,
    artifact_key: str,
    model_in_artifact: str | None,
    fit_time_s: float | None,
    seeds: int = 1,
    bag_folds: int = 1,
) -> FinalRow:
    """Record a final (replacing an earlier one of the same candidate and mode)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO finals (candidate_id, mode, experiment_id, rows, artifact_key,"
            " model_in_artifact, fit_time_s, created_at, seeds, bag_folds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                candidate_id,
                mode,
                experiment_id,
                rows,
                artifact_key,
                model_in_artifact,
                fit_time_s,
                time.time(),
                seeds,
                bag_folds,
            ),
        )
    final = get_final(store, candidate_id, mode)
    assert final is not None
    return final


def get_final(store: Store, candidate_id: int, mode: str) -> FinalRow | None:
    row = store.conn.execute(
        "SELECT * FROM finals WHERE candidate_id = ? AND mode = ?", (candidate_id, mode)
    ).fetchone()
    return _row(row) if row is not None else None


def list_finals(store: Store, experiment_id: int) -> list[FinalRow]:
    rows = store.conn.execute(
        "SELECT * FROM finals WHERE experiment_id = ? ORDER BY candidate_id, mode", (experiment_id,)
    )
    return [_row(r) for r in rows]
