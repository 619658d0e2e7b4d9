"""Searches as background jobs: a driver process that outlives the notebook kernel that started it.

`start_search` creates (or finds) the experiment, then runs `workbench search --resume ID` as a
detached process recorded in the jobs table. `attach(ID)`, from any process, follows that search
through the store: its events, its leaderboard, its end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InvalidInputError, NotFoundError
from workbench.search import SearchRequest, leaderboard, prepare_experiment
from workbench.store import Workspace
from workbench.store import trials as records

__all__ = ["SearchHandle", "attach", "start_search"]

JOB_ENV = "WORKBENCH_JOB_ID"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child that nobody reaped yet is a zombie, not a running search
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class SearchHandle:
    """A search running (or run) as a background job."""

    workspace: Workspace
    experiment_id: int
    job_id: int
    pid: int
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return _pid_alive(self.pid)

    def status(self) -> str:
        """The experiment's status: running, finished, stopped or failed."""
        return self.workspace.experiment(self.experiment_id).status

    def events(self, after_id: int = 0) -> list[records.EventRow]:
        return records.events_since(self.workspace.store, self.experiment_id, after_id)

    def leaderboard(self) -> list[dict[str, Any]]:
        return leaderboard(self.workspace, self.workspace.experiment(self.experiment_id))

    def wait(self, timeout: float | None = None, poll_s: float = 0.5) -> str:
        """Block until the job's process ends (or `timeout` seconds pass); return the experiment status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"search of experiment {self.experiment_id} still running after {timeout} s")
            time.sleep(poll_s)
        return self.status()

    def stop(self) -> None:
        """Ask the driver to stop cleanly (SIGTERM); it cancels or finishes running trials as configured."""
        if self.running():
            os.kill(self.pid, signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_search(workspace: Workspace, request: SearchRequest) -> SearchHandle:
    """Check the request, create or find its experiment, and start its driver as a detached process."""
    request.check()
    if request.resume is None:
        workspace.dataset(request.dataset or "")
    if request.cluster.startswith(("tcp://", "tls://")) or Path(request.cluster).is_file():
        from workbench.compute import cluster

        with cluster(request.cluster):  # an unreachable scheduler is refused before anything is written
            pass
    experiment, effective, _ = prepare_experiment(workspace, request)
    if effective.n_trials is None and effective.time_limit_s is None:
        raise InvalidInputError("The experiment has no budget; give n_trials or time_limit_s.")
    logs = workspace.settings.home / "jobs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"search-{experiment.id}-{int(time.time())}.log"
    params = {"experiment_id": experiment.id, "log": str(log_path), "cluster": request.cluster}
    with workspace.store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO jobs (kind, status, params_json, created_at) VALUES ('search', 'starting', ?, ?)",
            (json.dumps(params), time.time()),
        )
        job_id = int(cursor.lastrowid or 0)
    command = [sys.executable, "-m", "workbench", "search", "--resume", str(experiment.id), "--json"]
    for flag, value in (("--cluster", request.cluster), ("--on-stop", request.on_stop)):
        command += [flag, value]
    if request.n_trials is not None:
        command += ["--trials", str(request.n_trials)]
    if request.time_limit_s is not None:
        command += ["--time-limit", str(request.time_limit_s)]
    env = {**os.environ, JOB_ENV: str(job_id), "WORKBENCH_HOME": str(workspace.settings.home)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    with workspace.store.transaction() as conn:
        conn.execute("UPDATE jobs SET pid = ?, status = 'running' WHERE id = ?", (process.pid, job_id))
    return SearchHandle(workspace, experiment.id, job_id, process.pid, log_path, process)


def attach(workspace: Workspace, experiment_id: int) -> SearchHandle:
    """The newest search job of an experiment, from any process (a restarted kernel, another shell)."""
    workspace.experiment(experiment_id)
    for row in workspace.store.conn.execute("SELECT * FROM jobs WHERE kind = 'search' ORDER BY id DESC").fetchall():
        params = json.loads(row["params_json"])
        if params.get("experiment_id") == experiment_id:
            return SearchHandle(workspace, experiment_id, row["id"], row["pid"] or 0, Path(params["log"]))
    raise NotFoundError(f"Experiment {experiment_id} has no search job; start one with start_search().")


def finish_job(workspace: Workspace, job_id: int, status: str) -> None:
    with workspace.store.transaction() as conn:
        conn.execute("UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?", (status, time.time(), job_id))
