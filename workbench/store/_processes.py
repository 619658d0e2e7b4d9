"""Which process runs a job, and whether it still does: a stale pid never leaves a job "running".

A job records its pid, its host and the kernel's start time of that process (`pid_start`), so a pid that
was reused by another process is not taken for the job. On another host the pid cannot be checked; there
a job whose heartbeat is older than `STALE_HEARTBEAT_S` is taken for dead.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from workbench.store import _experiments as experiment_rows
from workbench.store import _jobs as job_rows

if TYPE_CHECKING:
    from workbench.store._jobs import Job
    from workbench.store._store import Store

__all__ = [
    "STALE_HEARTBEAT_S",
    "STARTING_GRACE_S",
    "job_alive",
    "pid_alive",
    "process_start_time",
    "refresh_job",
    "this_host",
]

# A running job beats every 10 s (the search driver, the job runner); three missed minutes mean it died.
STALE_HEARTBEAT_S = 180.0
# A job that never recorded its process this long after it was created did not start.
STARTING_GRACE_S = 120.0


def this_host() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of process `pid` (clock ticks since boot), or None when it is gone or a
    zombie: with the pid, it names one process even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return fields[19]


def pid_alive(pid: int | None, start_time: str | None = None) -> bool:
    """Whether `pid` runs on this host (and, given `start_time`, is still the same process)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = process_start_time(pid)
    if started is None:
        return False
    return start_time is None or started == start_time


def job_alive(job: Job) -> bool:
    """Whether an active job's process still runs (by pid here, by heartbeat on another host)."""
    now = time.time()
    if job.pid is None:
        return now - job.created_at < STARTING_GRACE_S
    if job.host in (None, this_host()):
        return pid_alive(job.pid, job.pid_start)
    return now - (job.heartbeat_at or job.started_at or job.created_at) < STALE_HEARTBEAT_S


def refresh_job(store: Store, job: Job) -> Job:
    """`job`, ended as "failed" first if it is active but its process is gone (killed, crashed, or its pid
    reused). A search job's experiment that was left "running" becomes "interrupted" (resumable)."""
    if not job.active or job_alive(job):
        return job
    job_rows.finish_job(
        store, job.id, "failed", error="its process ended without recording a final status (killed or crashed)"
    )
    if job.kind == "search" and job.experiment_id is not None:
        experiment_rows.set_status(store, job.experiment_id, "interrupted", only_if=("running",))
    refreshed = job_rows.get_job(store, job.id)
    assert refreshed is not None
    return refreshed
