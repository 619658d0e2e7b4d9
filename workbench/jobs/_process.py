"""The one helper for detached processes: a job row, a log file, and the job runner in its own session.

`spawn_job` records the job, then starts `python -m workbench.jobs run ID` detached from the caller (a
notebook kernel can restart, a shell can exit; the job goes on), its output in the job's log.
`end_process` stops a job's process on this host: SIGTERM to its process group, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from workbench.store import Job, Workspace, pid_alive, process_start_time, this_host
from workbench.store import jobs as job_rows

__all__ = ["JOB_ENV", "current_job_id", "end_process", "reap_children", "spawn_job"]

JOB_ENV = "WORKBENCH_JOB_ID"
# Processes this process started, kept so they are reaped when they end (no zombies in a long-lived kernel).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def reap_children() -> None:
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


def current_job_id(workspace: Workspace) -> int | None:
    """The job this process runs for (a notebook job's kernel, a job runner), if it is one of `workspace`."""
    raw = os.environ.get(JOB_ENV, "")
    home = os.environ.get("WORKBENCH_HOME")
    if not raw.isdigit() or not home or Path(home).expanduser().absolute() != workspace.settings.home:
        return None
    return int(raw)


def spawn_job(
    workspace: Workspace,
    kind: str,
    params: dict[str, Any],
    *,
    experiment_id: int | None = None,
    env: dict[str, str] | None = None,
) -> Job:
    """Record a job of `kind` and start its runner detached; returns the job, already running."""
    reap_children()
    logs = workspace.settings.home / "jobs"
    logs.mkdir(parents=True, exist_ok=True, mode=0o750)
    log_path = logs / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.log"
    store = workspace.store
    job = job_rows.create_job(
        store, kind, params, experiment_id=experiment_id, log_path=str(log_path), parent_id=current_job_id(workspace)
    )
    command = [sys.executable, "-m", "workbench.jobs", "run", str(job.id)]
    child_env = {**os.environ, **(env or {}), JOB_ENV: str(job.id), "WORKBENCH_HOME": str(workspace.settings.home)}
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env,
                start_new_session=True,
            )
    except OSError as exc:
        job_rows.finish_job(store, job.id, "failed", error=f"its process could not start ({exc})")
        raise
    _CHILDREN[process.pid] = process
    job_rows.mark_running(store, job.id, process.pid, this_host(), process_start_time(process.pid))
    started = job_rows.get_job(store, job.id)
    assert started is not None
    return started


def end_process(job: Job, timeout_s: float = 20.0) -> bool:
    """Stop the job's process group on this host: SIGTERM, then SIGKILL after `timeout_s`. True when it is
    gone (False: it runs on another host, or could not be signalled)."""
    if job.host not in (None, this_host()) or not job.pid:
        return False
    if not pid_alive(job.pid, job.pid_start):
        return True
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(job.pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap_children()
            if not pid_alive(job.pid, job.pid_start):
                return True
            time.sleep(0.1)
    return not pid_alive(job.pid, job.pid_start)
