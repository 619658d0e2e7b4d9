"""Jobs of every kind: list, show, cancel and read their logs, with stale processes noticed on the way."""

from __future__ import annotations

import time
from pathlib import Path

from workbench.errors import InvalidInputError, NotFoundError
from workbench.jobs._process import end_process, reap_children
from workbench.store import Job, Workspace, refresh_job
from workbench.store import experiments as experiment_rows
from workbench.store import jobs as job_rows

__all__ = ["cancel_job", "get_job", "job_log", "list_jobs", "wait_for_job"]

# How long a job gets to honour a cancel request itself (the search driver sees it within a loop turn)
# before its process is signalled.
CANCEL_GRACE_S = 15.0


def get_job(workspace: Workspace, job_id: int) -> Job:
    reap_children()
    job = job_rows.get_job(workspace.store, int(job_id))
    if job is None:
        raise NotFoundError(f"There is no job {job_id}; run 'workbench jobs list' to see them.")
    return refresh_job(workspace.store, job)


def list_jobs(
    workspace: Workspace,
    *,
    kind: str | None = None,
    experiment_id: int | None = None,
    active: bool = False,
    parent_id: int | None = None,
) -> list[Job]:
    reap_children()
    statuses = job_rows.ACTIVE if active else ()
    jobs = job_rows.list_jobs(
        workspace.store, kind=kind, experiment_id=experiment_id, statuses=statuses, parent_id=parent_id
    )
    refreshed = [refresh_job(workspace.store, j) for j in jobs]
    return [j for j in refreshed if j.active] if active else refreshed


def wait_for_job(workspace: Workspace, job_id: int, timeout_s: float | None = None, poll_s: float = 0.25) -> Job:
    """Block until the job ends (or `timeout_s` passes: TimeoutError); returns it."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        job = get_job(workspace, job_id)
        if not job.active:
            return job
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.status} after {timeout_s:g} s")
        time.sleep(poll_s)


def _descendants(workspace: Workspace, job_id: int) -> list[Job]:
    """The active jobs started from `job_id`, and from those, and so on (a notebook's search)."""
    found: list[Job] = []
    parents = [job_id]
    while parents:
        children = [
            refresh_job(workspace.store, child)
            for parent in parents
            for child in job_rows.list_jobs(workspace.store, parent_id=parent, statuses=job_rows.ACTIVE)
        ]
        children = [child for child in children if child.active]
        found.extend(children)
        parents = [child.id for child in children]
    return found


def cancel_job(workspace: Workspace, job_id: int, grace_s: float = CANCEL_GRACE_S) -> Job:
    """Cancel a job of any kind and the jobs started from it (a notebook's search): the requests are
    recorded (any host sees them); a job that has not ended within `grace_s` seconds is stopped by signal
    when it runs on this host. They end "cancelled"."""
    job = get_job(workspace, job_id)
    if not job.active:
        raise InvalidInputError(f"Job {job.id} already ended ({job.status}); there is nothing to cancel.")
    store = workspace.store
    jobs = [job, *_descendants(workspace, job.id)]
    for each in jobs:
        job_rows.request_stop(store, each.id, "cancel")
    deadline = time.monotonic() + grace_s
    for each in reversed(jobs):  # the children first: a notebook waits for its search
        try:
            wait_for_job(workspace, each.id, timeout_s=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            end_process(each)
            job_rows.finish_job(store, each.id, "cancelled", error="cancelled: its process was stopped by signal")
            if each.kind == "search" and each.experiment_id is not None:
                experiment_rows.set_status(store, each.experiment_id, "stopped", only_if=("running",))
    return get_job(workspace, job.id)


def job_log(workspace: Workspace, job_id: int, tail: int | None = None) -> str:
    """The job's log (its last `tail` lines)."""
    job = get_job(workspace, job_id)
    if not job.log_path or not Path(job.log_path).is_file():
        return ""
    text = Path(job.log_path).read_text(errors="replace")
    if tail is not None:
        text = "\n".join(text.splitlines()[-tail:])
    return text
