"""Progress events: published to in-process subscribers (CLI progress bar, widgets) and persisted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.store import Store
from workbench.store import trials as records

__all__ = ["EVENT_KINDS", "EventBus", "SearchEvent"]

EVENT_KINDS = (
    "search_started",
    "cluster",
    "trial_queued",
    "trial_started",
    "trial_reported",
    "trial_finished",
    "trial_failed",
    "best",
    "search_finished",
)


@dataclass(frozen=True)
class SearchEvent:
    kind: str
    experiment_id: int
    payload: dict[str, Any]
    time: float = field(default_factory=time.time)


Subscriber = Callable[[SearchEvent], None]


class EventBus:
    """Publishes each event to every subscriber at once, and appends it to the store's events table.

    With `buffered=True` the rows are written by `flush()` in one transaction (the search driver flushes
    once per loop turn, so a busy search does not pay one commit per event).
    """

    def __init__(self, store: Store | None = None, buffered: bool = False) -> None:
        self._store = store
        self._buffered = buffered
        self._pending: list[SearchEvent] = []
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, kind: str, experiment_id: int, **payload: Any) -> SearchEvent:
        event = SearchEvent(kind, experiment_id, payload)
        if self._store is not None:
            if self._buffered:
                with self._lock:
                    self._pending.append(event)
            else:
                records.add_event(self._store, experiment_id, kind, payload)
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber(event)
        return event

    def flush(self) -> None:
        """Write buffered events in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending and self._store is not None:
            records.add_events(self._store, [(e.experiment_id, e.kind, e.payload, e.time) for e in pending])
