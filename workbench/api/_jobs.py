"""Jobs of every kind (searches, endpoints): list, show, cancel, logs."""

from __future__ import annotations

from pathlib import PurePath

from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.store import Job

__all__ = ["cancel_job", "job_log", "job_title", "list_jobs", "show_job"]


def list_jobs(
    *,
    kind: str | None = None,
    experiment_id: int | None = None,
    active: bool = False,
    parent_id: int | None = None,
    workspace: WorkspaceLike = None,
) -> list[Job]:
    """Jobs oldest first, with status, start, end, process and log (a job whose process died is failed);
    `parent_id`: only the jobs that job started (a notebook job's searches)."""
    from workbench.jobs import list_jobs as listed

    return listed(
        resolve_workspace(workspace), kind=kind, experiment_id=experiment_id, active=active, parent_id=parent_id
    )


def show_job(job_id: int, *, workspace: WorkspaceLike = None) -> Job:
    """One job: kind, parameters, status, process, start, end, outputs and log path."""
    from workbench.jobs import get_job

    return get_job(resolve_workspace(workspace), job_id)


def cancel_job(job_id: int, *, grace_s: float = 15.0, workspace: WorkspaceLike = None) -> Job:
    """Cancel a running job of any kind; it ends "cancelled" (a search keeps the trials it finished)."""
    from workbench.jobs import cancel_job as cancel

    return cancel(resolve_workspace(workspace), job_id, grace_s)


def job_log(job_id: int, tail: int | None = None, *, workspace: WorkspaceLike = None) -> str:
    """A job's log, its last `tail` lines (None for all)."""
    from workbench.jobs import job_log as read

    return read(resolve_workspace(workspace), job_id, tail)


def job_title(job: Job) -> str:
    """One line naming what a job runs: "search of experiment 3", "endpoint penguins@production on port
    8000", "notebook search-penguins.ipynb"."""
    params = job.params
    if job.kind == "search":
        engines = ", ".join((params.get("config") or {}).get("engines") or [])
        return f"search of experiment {job.experiment_id}" + (f" ({engines})" if engines else "")
    if job.kind == "endpoint":
        return f"endpoint {params.get('ref', '?')} on port {params.get('port', '?')}"
    if job.kind == "notebook":
        return f"notebook {PurePath(str(params.get('notebook', '?'))).name}"
    return f"{job.kind} job"
