"""The events table, and the event type a search publishes live and the store gives back."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from workbench._json import to_jsonable

if TYPE_CHECKING:
    from workbench.store._store import Store

__all__ = ["EVENT_KINDS", "EventKind", "SearchEvent", "add_events", "events_since", "last_event_id"]

EventKind = Literal[
    "search_started",  # run_id, engines
    "cluster",  # workers, threads, gpus, slots
    "trial_queued",  # engine, number, params
    "trial_started",  # engine, number, worker
    "trial_reported",  # engine, number, step, value
    "trial_finished",  # engine, number, state (COMPLETE | PRUNED), values, duration_s, candidates, best_valid, worker
    "trial_failed",  # engine, number, state (FAILED | CANCELLED), error
    "best",  # engine, name, model_type, valid_score, test_score
    "search_finished",  # status, complete, pruned, failed, cancelled, elapsed_s, message
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)


@dataclass(frozen=True)
class SearchEvent:
    """One step of a search, as subscribers get it live and as `events_since` reads it back.

    id: its row in the store (None for an event published live and not yet written).
    payload: the kind's fields (see `EventKind`), plain JSON values.
    """

    kind: EventKind
    experiment_id: int
    payload: Mapping[str, Any]
    time: float = field(default_factory=time.time)
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "experiment_id": self.experiment_id,
            "time": self.time,
            "payload": to_jsonable(dict(self.payload)),
        }


def add_events(store: Store, events: Sequence[SearchEvent]) -> None:
    """Append events in one transaction."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO events (experiment_id, kind, payload_json, created_at) VALUES (?, ?, ?, ?)",
            [(e.experiment_id, e.kind, json.dumps(to_jsonable(dict(e.payload))), e.time) for e in events],
        )


def events_since(store: Store, experiment_id: int, after: int = 0, limit: int | None = None) -> list[SearchEvent]:
    """The experiment's events with an id above `after`, oldest first (at most `limit`)."""
    query = "SELECT * FROM events WHERE experiment_id = ? AND id > ? ORDER BY id"
    args: list[Any] = [experiment_id, after]
    if limit is not None:
        query += " LIMIT ?"
        args.append(int(limit))
    return [
        SearchEvent(
            kind=row["kind"],
            experiment_id=row["experiment_id"],
            payload=json.loads(row["payload_json"]),
            time=row["created_at"],
            id=row["id"],
        )
        for row in store.conn.execute(query, args)
    ]


def last_event_id(store: Store, experiment_id: int) -> int:
    row = store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events WHERE experiment_id = ?", (experiment_id,))
    return int(row.fetchone()[0])
