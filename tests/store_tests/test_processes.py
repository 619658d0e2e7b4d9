"""A job's process is known by pid, host and start time: a stale or reused pid never leaves it running."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from workbench.store import ExperimentSpec, Workspace, job_alive, pid_alive, process_start_time, refresh_job, this_host
from workbench.store import experiments as experiment_rows
from workbench.store import jobs as job_rows


def test_pid_start_time_tells_a_reused_pid_from_the_job_s_own() -> None:
    me = os.getpid()
    started = process_start_time(me)
    assert started is not None and pid_alive(me, started)
    assert not pid_alive(me, str(int(started) + 1))  # same pid, another process (a reused pid)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert not pid_alive(child.pid) and process_start_time(child.pid) is None
    assert not pid_alive(None) and not pid_alive(0)


def test_refresh_ends_jobs_whose_process_is_gone_or_reused(workspace: Workspace) -> None:
    store = workspace.store
    experiment = workspace.create_experiment(ExperimentSpec("penguins"))
    experiment_rows.set_status(store, experiment.id, "running")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    dead = job_rows.create_job(store, "search", {}, experiment_id=experiment.id)
    job_rows.mark_running(store, dead.id, child.pid, this_host(), "12345")
    reused = job_rows.create_job(store, "endpoint", {})
    job_rows.mark_running(store, reused.id, os.getpid(), this_host(), "1")  # a live pid, but not that process
    alive = job_rows.create_job(store, "endpoint", {})
    job_rows.mark_running(store, alive.id, os.getpid(), this_host(), process_start_time(os.getpid()))
    far = job_rows.create_job(store, "endpoint", {})
    job_rows.mark_running(store, far.id, 1, "another-host", "1")  # its heartbeat is fresh

    ended = refresh_job(store, job_rows.get_job(store, dead.id))  # type: ignore[arg-type]
    assert ended.status == "failed" and "without recording a final status" in (ended.error or "")
    assert workspace.experiment(experiment.id).status == "interrupted"  # resumable
    assert refresh_job(store, job_rows.get_job(store, reused.id)).status == "failed"  # type: ignore[arg-type]
    assert refresh_job(store, job_rows.get_job(store, alive.id)).status == "running"  # type: ignore[arg-type]
    remote = job_rows.get_job(store, far.id)
    assert remote is not None and job_alive(remote)
    with store.transaction() as conn:  # three silent minutes on the other host
        conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (time.time() - 600, far.id))
    assert refresh_job(store, job_rows.get_job(store, far.id)).status == "failed"  # type: ignore[arg-type]
    assert not job_rows.finish_job(store, dead.id, "finished")  # a final status is written once
