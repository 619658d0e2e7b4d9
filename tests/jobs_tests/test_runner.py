"""The job runner: a process per job that reads its work from the store and always ends it with a status."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.errors import InvalidInputError
from workbench.jobs import cancel_job, get_job, job_log, list_jobs, spawn_job, wait_for_job
from workbench.store import Workspace
from workbench.store import jobs as job_rows


def test_a_job_of_an_unknown_kind_fails_with_a_reason(workspace: Workspace) -> None:
    job = spawn_job(workspace, "nope", {"anything": 1})
    assert job.status == "running" and job.pid and job.log_path
    ended = wait_for_job(workspace, job.id, timeout_s=60)
    assert ended.status == "failed" and "no runner for jobs of kind 'nope'" in (ended.error or "")
    assert ended.finished_at is not None and ended.to_dict()["duration_s"] is not None
    with pytest.raises(InvalidInputError, match="already ended"):
        cancel_job(workspace, job.id)
    assert [j.id for j in list_jobs(workspace, active=True)] == []


def test_the_runner_refuses_a_job_that_already_ended(workspace: Workspace) -> None:
    job = job_rows.create_job(workspace.store, "search", {"experiment_id": 1})
    job_rows.finish_job(workspace.store, job.id, "cancelled")
    env = {"WORKBENCH_HOME": str(workspace.settings.home), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "workbench.jobs", "run", str(job.id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "already ended (cancelled); nothing to run" in done.stdout
    assert get_job(workspace, job.id).status == "cancelled"
    bad = subprocess.run(
        [sys.executable, "-m", "workbench.jobs", "run", "x"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
    assert job_log(workspace, job.id) == ""
