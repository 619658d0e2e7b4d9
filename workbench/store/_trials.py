"""The trials and candidates tables: the rows a search writes (only its driver writes them)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from workbench._json import to_jsonable
from workbench.store._store import Store

__all__ = [
    "ACTIVE_STATES",
    "ENDED_STATES",
    "FINISHED_STATES",
    "CandidateRow",
    "TrialRow",
    "best_candidates",
    "count_trials",
    "create_trial",
    "finish_trial",
    "get_candidate",
    "get_trial",
    "list_candidates",
    "list_trials",
    "next_trial_number",
    "requeue_trial",
    "start_trial",
]

ACTIVE_STATES = ("QUEUED", "RUNNING")
FINISHED_STATES = ("COMPLETE", "PRUNED")
ENDED_STATES = (*FINISHED_STATES, "FAILED", "CANCELLED")


@dataclass(frozen=True)
class TrialRow:
    id: int
    experiment_id: int
    engine: str
    number: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    error: str | None
    worker: str | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def duration_s(self) -> float | None:
        return self.finished_at - self.started_at if self.finished_at and self.started_at else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["duration_s"] = self.duration_s
        return data


@dataclass(frozen=True)
class CandidateRow:
    id: int
    experiment_id: int
    trial_id: int | None
    engine: str
    name: str
    model_type: str
    valid_score: float | None
    test_score: float | None
    fit_time_s: float | None
    predict_row_ms: float | None
    predict_batch_ms: float | None
    size_bytes: int | None
    params: dict[str, Any]
    artifact_key: str | None
    created_at: float
    model_in_artifact: str | None = None
    predictions_key: str | None = None
    calibration: dict[str, Any] | None = None  # workbench.model.Calibration.to_dict(); None: none decided

    @property
    def key(self) -> str:
        return f"c{self.id}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["key"] = self.key
        return data


def _trial(row: Any) -> TrialRow:
    data = dict(row)
    data["params"] = json.loads(data.pop("params_json"))
    values = data.pop("values_json")
    data["values"] = json.loads(values) if values else None
    return TrialRow(**data)


def next_trial_number(store: Store, experiment_id: int, engine: str) -> int:
    row = store.conn.execute(
        "SELECT COALESCE(MAX(number), -1) + 1 FROM trials WHERE experiment_id = ? AND engine = ?",
        (experiment_id, engine),
    ).fetchone()
    return int(row[0])


def create_trial(store: Store, experiment_id: int, engine: str, number: int, params: dict[str, Any]) -> TrialRow:
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO trials (experiment_id, engine, number, state, params_json, created_at)"
            " VALUES (?, ?, ?, 'QUEUED', ?, ?)",
            (experiment_id, engine, number, json.dumps(params, sort_keys=True, default=str), time.time()),
        )
        row = conn.execute("SELECT * FROM trials WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return _trial(row)


def start_trial(store: Store, trial_id: int, worker: str) -> None:
    """QUEUED -> RUNNING (a recomputed task reports again: the worker and attempt count are updated)."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE trials SET state = 'RUNNING', worker = ?, attempts = attempts + 1,"
            " started_at = COALESCE(started_at, ?) WHERE id = ? AND state IN ('QUEUED', 'RUNNING')",
            (worker, time.time(), trial_id),
        )


def finish_trial(
    store: Store,
    trial_id: int,
    state: str,
    values: list[float] | None = None,
    error: str | None = None,
    candidates: list[dict[str, Any]] | None = None,
    worker: str | None = None,
    started_at: float | None = None,
) -> bool:
    """Close a trial and add its candidates in one transaction.

    Returns False (and writes nothing) when the trial was already closed: a second result for the same
    trial can never add a second set of candidates.
    """
    now = time.time()
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE trials SET state = ?, values_json = ?, error = ?, finished_at = ?,"
            " worker = COALESCE(worker, ?), started_at = COALESCE(started_at, ?),"
            " attempts = MAX(attempts, CASE WHEN ? IS NULL THEN 0 ELSE 1 END)"
            " WHERE id = ? AND state IN ('QUEUED', 'RUNNING')",
            (
                state,
                json.dumps(values) if values is not None else None,
                error,
                now,
                worker,
                started_at,
                worker,
                trial_id,
            ),
        )
        if cursor.rowcount == 0:
            return False
        experiment_id = conn.execute("SELECT experiment_id FROM trials WHERE id = ?", (trial_id,)).fetchone()[0]
        for c in candidates or []:
            conn.execute(
                "INSERT INTO candidates (experiment_id, trial_id, engine, name, model_type, valid_score, test_score,"
                " fit_time_s, predict_row_ms, predict_batch_ms, size_bytes, params_json, artifact_key, created_at,"
                " model_in_artifact, predictions_key, calibration_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    experiment_id,
                    trial_id,
                    c["engine"],
                    c["name"],
                    c["model_type"],
                    c["valid_score"],
                    c["test_score"],
                    c["fit_time_s"],
                    c["predict_row_ms"],
                    c["predict_batch_ms"],
                    c["size_bytes"],
                    json.dumps(c["params"], sort_keys=True, default=str),
                    c["artifact_key"],
                    now,
                    c.get("model_in_artifact"),
                    c.get("predictions_key"),
                    json.dumps(c["calibration"], sort_keys=True) if c.get("calibration") is not None else None,
                ),
            )
    return True


def list_trials(store: Store, experiment_id: int, states: tuple[str, ...] | None = None) -> list[TrialRow]:
    query = "SELECT * FROM trials WHERE experiment_id = ?"
    args: list[Any] = [experiment_id]
    if states:
        query += f" AND state IN ({', '.join('?' for _ in states)})"
        args.extend(states)
    return [_trial(r) for r in store.conn.execute(query + " ORDER BY id", args)]


def count_trials(store: Store, experiment_id: int, engine: str, states: tuple[str, ...]) -> int:
    """How many of the experiment's trials of `engine` are in one of `states`."""
    marks = ", ".join("?" for _ in states)
    row = store.conn.execute(
        f"SELECT COUNT(*) FROM trials WHERE experiment_id = ? AND engine = ? AND state IN ({marks})",
        (experiment_id, engine, *states),
    ).fetchone()
    return int(row[0])


def get_trial(store: Store, trial_id: int) -> TrialRow | None:
    row = store.conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
    return _trial(row) if row else None


def requeue_trial(store: Store, trial_id: int, params: dict[str, Any]) -> None:
    """A QUEUED trial that never started (its driver died first) keeps its row and number, with the
    parameters its engine gives it now."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE trials SET params_json = ? WHERE id = ? AND state = 'QUEUED'",
            (json.dumps(params, sort_keys=True, default=str), trial_id),
        )


def _candidate(row: Any) -> CandidateRow:
    data = dict(row)
    data["params"] = json.loads(data.pop("params_json"))
    calibration = data.pop("calibration_json", None)
    data["calibration"] = json.loads(calibration) if calibration else None
    return CandidateRow(**data)


def list_candidates(store: Store, experiment_id: int) -> list[CandidateRow]:
    rows = store.conn.execute("SELECT * FROM candidates WHERE experiment_id = ? ORDER BY id", (experiment_id,))
    return [_candidate(r) for r in rows]


def best_candidates(store: Store, experiment_id: int, n: int, greater_is_better: bool) -> list[CandidateRow]:
    """The experiment's `n` best candidates with a finite valid score and an artifact (ties: the older
    first). Sorted by SQLite: the search asks after every trial, and a long search has thousands."""
    order = "DESC" if greater_is_better else "ASC"
    rows = store.conn.execute(
        "SELECT * FROM candidates WHERE experiment_id = ? AND artifact_key IS NOT NULL AND artifact_key != ''"
        " AND valid_score BETWEEN ? AND ?"  # NULL (NaN) and the infinities fall outside
        f" ORDER BY valid_score {order}, id LIMIT ?",
        (experiment_id, -sys.float_info.max, sys.float_info.max, n),
    )
    return [_candidate(r) for r in rows]


def get_candidate(store: Store, candidate_id: int) -> CandidateRow | None:
    row = store.conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
    return _candidate(row) if row else None
