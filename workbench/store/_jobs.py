"""The jobs table: background work of any kind (a search, an endpoint, a notebook) and its process.

A job is created `starting`, becomes `running` once its process has recorded its pid and host, and ends
with one final status written once: `finished`, `stopped`, `cancelled` or `failed`. A stop request
(`finish` or `cancel`) is a row update, so any process on any host that shares the workspace can make it;
the job's own process polls for it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.store._store import Store

__all__ = [
    "ACTIVE",
    "FINAL",
    "STOP_MODES",
    "Job",
    "StopMode",
    "StopSignal",
    "check_stop_mode",
    "create_job",
    "finish_job",
    "get_job",
    "heartbeat",
    "latest_job",
    "list_jobs",
    "mark_running",
    "merge_outputs",
    "request_stop",
    "stop_request",
]

StopMode = Literal["finish", "cancel"]
# "finish": start nothing more and let running work finish. "cancel": stop now.
STOP_MODES: tuple[StopMode, ...] = ("finish", "cancel")
ACTIVE = ("starting", "running")
FINAL = ("finished", "stopped", "cancelled", "failed")


def check_stop_mode(mode: str) -> StopMode:
    if mode == "finish":
        return "finish"
    if mode == "cancel":
        return "cancel"
    raise InvalidInputError(f"Unknown stop mode {mode!r}; use 'finish' (let running work finish) or 'cancel'.")


class StopSignal:
    """A stop request made inside a job's own process (a signal handler, another thread); thread-safe.

    A request made before the work starts (during a cluster start) is honoured as soon as it runs. A later
    "cancel" overrides an earlier "finish", never the other way round.
    """

    def __init__(self) -> None:
        self._mode: StopMode | None = None
        self._lock = threading.Lock()

    def request(self, mode: StopMode = "cancel") -> None:
        mode = check_stop_mode(mode)
        with self._lock:
            if self._mode != "cancel":
                self._mode = mode

    @property
    def mode(self) -> StopMode | None:
        return self._mode


@dataclass(frozen=True)
class Job:
    """One background job.

    params: what the job's runner reads to do its work (kind-specific, plain JSON).
    pid, host, pid_start: the process running it; `pid_start` tells a reused pid from the job's own.
    parent_id: the job whose process started this one (a search started by a notebook job).
    outputs: what the job produced (paths, values), plain JSON.
    stop_mode: a pending stop request ("finish": let running work finish; "cancel": now).
    """

    id: int
    kind: str
    status: str
    params: dict[str, Any]
    created_at: float
    experiment_id: int | None = None
    pid: int | None = None
    host: str | None = None
    pid_start: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    log_path: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    stop_mode: str | None = None
    stop_requested_at: float | None = None
    parent_id: int | None = None  # the job this one was started from (a notebook job's search)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["duration_s"] = self.duration_s
        data.pop("pid_start")
        return data


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["params"] = json.loads(data.pop("params_json") or "{}")
    data["outputs"] = json.loads(data.pop("outputs_json") or "{}")
    return Job(**data)


def create_job(
    store: Store,
    kind: str,
    params: dict[str, Any],
    *,
    experiment_id: int | None = None,
    log_path: str | None = None,
    parent_id: int | None = None,
) -> Job:
    with store.transaction() as conn:
        if parent_id is not None and not conn.execute("SELECT 1 FROM jobs WHERE id = ?", (parent_id,)).fetchone():
            parent_id = None  # a job id of another workspace
        cursor = conn.execute(
            "INSERT INTO jobs (kind, status, params_json, created_at, experiment_id, log_path, parent_id)"
            " VALUES (?, 'starting', ?, ?, ?, ?, ?)",
            (kind, json.dumps(to_jsonable(params), sort_keys=True), time.time(), experiment_id, log_path, parent_id),
        )
        job_id = int(cursor.lastrowid or 0)
    job = get_job(store, job_id)
    assert job is not None
    return job


def get_job(store: Store, job_id: int) -> Job | None:
    row = store.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return _job(row) if row else None


def list_jobs(
    store: Store,
    *,
    kind: str | None = None,
    experiment_id: int | None = None,
    statuses: tuple[str, ...] = (),
    parent_id: int | None = None,
) -> list[Job]:
    query, args = "SELECT * FROM jobs WHERE 1 = 1", list[Any]()
    if kind is not None:
        query, args = query + " AND kind = ?", [*args, kind]
    if experiment_id is not None:
        query, args = query + " AND experiment_id = ?", [*args, experiment_id]
    if parent_id is not None:
        query, args = query + " AND parent_id = ?", [*args, parent_id]
    if statuses:
        query += f" AND status IN ({', '.join('?' for _ in statuses)})"
        args.extend(statuses)
    return [_job(r) for r in store.conn.execute(query + " ORDER BY id", args)]


def latest_job(store: Store, experiment_id: int, kind: str = "search") -> Job | None:
    row = store.conn.execute(
        "SELECT * FROM jobs WHERE experiment_id = ? AND kind = ? ORDER BY id DESC LIMIT 1", (experiment_id, kind)
    ).fetchone()
    return _job(row) if row else None


def mark_running(store: Store, job_id: int, pid: int, host: str, pid_start: str | None) -> bool:
    """The job's process has started: record it. False when the job already ended (cancelled meanwhile)."""
    now = time.time()
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE jobs SET status = 'running', pid = ?, host = ?, pid_start = ?,"
            " started_at = COALESCE(started_at, ?), heartbeat_at = ? WHERE id = ? AND status IN ('starting', 'running')",
            (pid, host, pid_start, now, now, job_id),
        )
        return cursor.rowcount > 0


def heartbeat(store: Store, job_id: int) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND status = 'running'", (time.time(), job_id))


def finish_job(
    store: Store, job_id: int, status: str, *, error: str | None = None, outputs: dict[str, Any] | None = None
) -> bool:
    """Write the job's final status, once: False (nothing written) when it had already ended."""
    if status not in FINAL:
        raise ValueError(f"{status!r} is not a final job status; use one of {FINAL}")
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE jobs SET status = ?, finished_at = ?, error = COALESCE(?, error) WHERE id = ? AND status IN (?, ?)",
            (status, time.time(), error, job_id, *ACTIVE),
        )
        if cursor.rowcount and outputs:
            merge_outputs(store, job_id, outputs)
        return cursor.rowcount > 0


def merge_outputs(store: Store, job_id: int, outputs: dict[str, Any], *, under: str | None = None) -> None:
    """Add `outputs` to the job's (under the key `under`, a dict of its own, when given)."""
    with store.transaction() as conn:
        row = conn.execute("SELECT outputs_json FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return
        current = json.loads(row[0] or "{}")
        if under is None:
            merged = {**current, **to_jsonable(outputs)}
        else:
            merged = {**current, under: {**current.get(under, {}), **to_jsonable(outputs)}}
        conn.execute("UPDATE jobs SET outputs_json = ? WHERE id = ?", (json.dumps(merged, sort_keys=True), job_id))


def request_stop(store: Store, job_id: int, mode: StopMode) -> bool:
    """Ask an active job to stop; "cancel" overrides an earlier "finish". False when the job had ended."""
    mode = check_stop_mode(mode)
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE jobs SET stop_mode = CASE WHEN stop_mode = 'cancel' THEN 'cancel' ELSE ? END,"
            " stop_requested_at = COALESCE(stop_requested_at, ?) WHERE id = ? AND status IN (?, ?)",
            (mode, time.time(), job_id, *ACTIVE),
        )
        return cursor.rowcount > 0


def stop_request(store: Store, job_id: int) -> StopMode | None:
    """The job's pending stop request, if any (one indexed read: the driver calls it every loop turn)."""
    row = store.conn.execute("SELECT stop_mode FROM jobs WHERE id = ?", (job_id,)).fetchone()
    mode = row[0] if row else None
    return mode if mode in ("finish", "cancel") else None
