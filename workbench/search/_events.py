"""Progress events: published to in-process subscribers (CLI progress bar, widgets) and persisted.

Subscribers get the same `SearchEvent` that `workbench.store.events.events_since` reads back later (then
with its row id).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from workbench.store import EVENT_KINDS, EventKind, SearchEvent, Store
from workbench.store import events as event_rows

__all__ = ["EVENT_KINDS", "EventBus", "SearchEvent", "Subscriber"]

log = logging.getLogger("workbench.search")

Subscriber = Callable[[SearchEvent], None]


class EventBus:
    """Publishes each event to every subscriber at once, and appends it to the store's events table.

    With `buffered=True` the rows are written by `flush()` in one transaction (the search driver flushes
    once per loop turn, so a busy search does not pay one commit per event). A subscriber that raises is
    logged and dropped: a broken progress display never aborts a search.
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
            self._drop(subscriber)

        return unsubscribe

    def _drop(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def publish(self, kind: EventKind, experiment_id: int, **payload: Any) -> SearchEvent:
        event = SearchEvent(kind, experiment_id, payload)
        if self._store is not None:
            if self._buffered:
                with self._lock:
                    self._pending.append(event)
            else:
                event_rows.add_events(self._store, [event])
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.warning("An event subscriber raised on %s and was removed", kind, exc_info=True)
                self._drop(subscriber)
        return event

    def flush(self) -> None:
        """Write buffered events in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending and self._store is not None:
            event_rows.add_events(self._store, pending)
