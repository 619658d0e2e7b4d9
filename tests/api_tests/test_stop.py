"""Stopping a search from another process, by experiment id, in both modes; and by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import workbench.api as wb
from workbench.store import pid_alive

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=120)]


def _search_with_running_trials() -> wb.SearchHandle:
    """A background search of trials that take seconds each, returned once two of them are running."""
    experiment = wb.create_experiment("breast_cancer", budget=wb.Budget(n_trials=40))
    config = wb.search_config(engines=("optuna",), families=("forest",), cluster="local:2")
    search = wb.start_search(experiment.id, config)
    deadline = time.monotonic() + 180
    while wb.search_progress(experiment.id).running < 2:
        assert search.running() and time.monotonic() < deadline, search.log()
        time.sleep(0.2)
    return search


@pytest.mark.parametrize("mode", ["finish", "cancel"])
def test_stop_from_another_process_in_each_mode(api_env: dict[str, str], mode: str) -> None:
    search = _search_with_running_trials()
    code = f"import workbench.api as wb; print(wb.stop_search({search.experiment_id}, {mode!r}).job().stop_mode)"
    other = subprocess.run([sys.executable, "-c", code], env=api_env, capture_output=True, text=True, timeout=120)
    assert other.returncode == 0 and other.stdout.strip() == mode, other.stderr
    assert search.wait(timeout=180) == "stopped"
    job = search.job()
    trials = wb.list_trials(search.experiment_id)
    assert job.status == ("stopped" if mode == "finish" else "cancelled") and job.stop_mode == mode
    assert not [t for t in trials if t.state in ("RUNNING", "QUEUED")]
    assert job.stop_requested_at is not None
    late = [t for t in trials if t.started_at is not None and t.started_at > job.stop_requested_at + 1.0]
    assert late == []  # no trial started after the request (one loop turn of slack)
    started = [t for t in trials if t.started_at is not None]
    if mode == "finish":
        assert len(started) >= 2 and {t.state for t in started} == {"COMPLETE"}  # they finished
        assert all("before it started" in (t.error or "") for t in trials if t.state == "CANCELLED")
    else:
        assert any(t.state == "CANCELLED" for t in started)  # running trials were cancelled, not waited for
    progress = search.progress()
    assert progress.status == "stopped" and progress.running == 0 and progress.job_status == job.status
    _process_ends(job)


def _process_ends(job: wb.Job) -> None:
    """After its final status, the job's process closes its cluster and exits."""
    deadline = time.monotonic() + 60
    while pid_alive(job.pid, job.pid_start):
        assert time.monotonic() < deadline, "the job's process did not exit"
        time.sleep(0.2)


def test_sigterm_cancels_and_still_records_a_final_status(api_env: dict[str, str]) -> None:
    search = _search_with_running_trials()
    job = search.job()
    assert job.pid is not None
    os.kill(job.pid, signal.SIGTERM)
    assert search.wait(timeout=180) == "stopped"
    ended = search.job()
    assert ended.status == "cancelled" and ended.finished_at is not None
    assert not [t for t in wb.list_trials(search.experiment_id) if t.state in ("RUNNING", "QUEUED")]
    _process_ends(ended)


def test_a_killed_driver_never_stays_running(api_env: dict[str, str]) -> None:
    search = _search_with_running_trials()
    job = search.job()
    assert job.pid is not None
    os.killpg(job.pid, signal.SIGKILL)  # the driver and the workers it started: no chance to say anything
    _process_ends(job)
    ended = search.job()  # reading the job notices its process is gone
    assert ended.status == "failed" and "without recording a final status" in (ended.error or "")
    assert search.status() == "interrupted"
    # An interrupted experiment continues where it stopped: its queued trials run, the running ones again.
    resumed = wb.start_search(search.experiment_id, wb.resume_config(search.experiment_id, n_trials=3))
    assert resumed.wait(timeout=240) == "finished"
    assert resumed.progress().done >= 3
