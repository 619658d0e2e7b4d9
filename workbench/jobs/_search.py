"""Searches as background jobs: a driver process that outlives the notebook kernel that started it.

`start_search` checks the configuration and starts a job of kind "search" (the job runner reads the
experiment and the configuration from the store). `attach(ID)`, from any process on any host that shares
the workspace, follows that search through the store: its progress, its events, its end; and stops it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from workbench.compare import Leaderboard, leaderboard
from workbench.errors import InvalidInputError, NotFoundError
from workbench.jobs._control import get_job, job_log, list_jobs
from workbench.jobs._process import spawn_job
from workbench.metrics import get_metric
from workbench.search import SearchConfig
from workbench.store import (
    Experiment,
    Job,
    SearchEvent,
    SearchProgress,
    StopMode,
    Workspace,
    check_stop_mode,
    search_progress,
)
from workbench.store import events as event_rows
from workbench.store import jobs as job_rows

__all__ = ["SearchHandle", "attach", "start_search"]


@dataclass(frozen=True)
class SearchHandle:
    """A search run (running or ended) of one experiment, as its job in the store. Every method reads
    the store, so a handle made in another process or after a kernel restart sees the same search."""

    workspace: Workspace
    experiment_id: int
    job_id: int

    def job(self) -> Job:
        return get_job(self.workspace, self.job_id)

    def running(self) -> bool:
        return self.job().active

    def status(self) -> str:
        """The experiment's status: created, running, finished, stopped, interrupted or failed."""
        self.job()  # a driver that died without a word is noticed here
        return self.workspace.experiment(self.experiment_id).status

    def progress(self) -> SearchProgress:
        """Trials done / target, running, failed, pruned, best so far, elapsed and budget left: one query."""
        self.job()
        experiment = self.workspace.experiment(self.experiment_id)
        greater = get_metric(experiment.metric, experiment.problem_type).greater_is_better
        progress = search_progress(self.workspace.store, self.experiment_id, greater)
        assert progress is not None
        return progress

    def events(self, after: int = 0, limit: int | None = None) -> list[SearchEvent]:
        """The experiment's events with an id above `after` (pass the last id seen to read incrementally)."""
        return event_rows.events_since(self.workspace.store, self.experiment_id, after, limit)

    def leaderboard(self) -> Leaderboard:
        return leaderboard(self.workspace, self.workspace.experiment(self.experiment_id))

    def stop(self, mode: StopMode = "finish", wait_s: float | None = None) -> Job:
        """Ask the search to stop: "finish" (start no new trial, let running ones finish) or "cancel" (now).
        The request is recorded in the store; the driver honours it within one loop turn, wherever it
        runs. With `wait_s`, wait up to that long for the search to end."""
        mode = check_stop_mode(mode)
        job = self.job()
        if job.active:
            job_rows.request_stop(self.workspace.store, job.id, mode)
        if wait_s is not None:
            self.wait(timeout=wait_s)
        return self.job()

    def wait(self, timeout: float | None = None, poll_s: float = 0.5) -> str:
        """Block until the search's job ends (or `timeout` seconds pass: TimeoutError); returns the
        experiment's status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the search of experiment {self.experiment_id} is still running after {timeout} s")
            time.sleep(poll_s)
        return self.status()

    def log(self, tail: int | None = None) -> str:
        return job_log(self.workspace, self.job_id, tail)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "job_id": self.job_id, "job": self.job().to_dict()}


def start_search(workspace: Workspace, experiment: Experiment, config: SearchConfig) -> SearchHandle:
    """Start a background search of `experiment`; returns at once with its handle.

    Refused, with nothing started, when the experiment has no budget, the cluster names a scheduler that
    does not answer, or a search of the experiment is already running.
    """
    budget = config.budget_for(experiment)
    running = list_jobs(workspace, kind="search", experiment_id=experiment.id, active=True)
    if running:
        raise InvalidInputError(
            f"Experiment {experiment.id} already has a search running (job {running[0].id}); attach to it."
        )
    from workbench.compute import check_cluster

    plan = check_cluster(config.cluster)  # a malformed spec or a silent scheduler: refused, nothing written
    params = {"experiment_id": experiment.id, "config": config.to_dict(), "budget": budget.to_dict()}
    params["cluster"] = plan.describe()
    job = spawn_job(workspace, "search", params, experiment_id=experiment.id)
    return SearchHandle(workspace, experiment.id, job.id)


def attach(workspace: Workspace, experiment_id: int) -> SearchHandle:
    """The newest search of an experiment, from any process (a restarted kernel, another shell or host)."""
    experiment = workspace.experiment(experiment_id)
    job = job_rows.latest_job(workspace.store, experiment.id, "search")
    if job is None:
        raise NotFoundError(f"Experiment {experiment.id} has no search yet; start one with start_search().")
    return SearchHandle(workspace, experiment.id, job.id)
