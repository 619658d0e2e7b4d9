"""The endpoints table: served models running in the background, each the job that runs its server."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench._json import to_jsonable

if TYPE_CHECKING:
    from workbench.store._store import Store

__all__ = ["Endpoint", "add_endpoint", "get_endpoint", "list_endpoints", "set_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """A served model. status: starting | ready | stopped | failed."""

    id: int
    model: str  # the reference it serves: name, name@VERSION or name@ALIAS
    version: int | None
    host: str
    port: int
    pid: int | None
    status: str
    log_path: str | None
    created_at: float
    job_id: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["url"] = self.url
        return data


def _endpoint(row: sqlite3.Row) -> Endpoint:
    return Endpoint(**dict(row))


def add_endpoint(store: Store, model: str, version: int, host: str, port: int, log_path: str, job_id: int) -> Endpoint:
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO endpoints (model, version, host, port, status, log_path, created_at, job_id)"
            " VALUES (?, ?, ?, ?, 'starting', ?, ?, ?)",
            (model, version, host, port, log_path, time.time(), job_id),
        )
        endpoint_id = int(cursor.lastrowid or 0)
    endpoint = get_endpoint(store, endpoint_id)
    assert endpoint is not None
    return endpoint


def get_endpoint(store: Store, endpoint_id: int) -> Endpoint | None:
    row = store.conn.execute("SELECT * FROM endpoints WHERE id = ?", (endpoint_id,)).fetchone()
    return _endpoint(row) if row else None


def list_endpoints(store: Store) -> list[Endpoint]:
    return [_endpoint(r) for r in store.conn.execute("SELECT * FROM endpoints ORDER BY id")]


def set_endpoint(store: Store, endpoint_id: int, *, status: str | None = None, pid: int | None = None) -> None:
    with store.transaction() as conn:
        if status is not None:
            conn.execute("UPDATE endpoints SET status = ? WHERE id = ?", (status, endpoint_id))
        if pid is not None:
            conn.execute("UPDATE endpoints SET pid = ? WHERE id = ?", (pid, endpoint_id))
