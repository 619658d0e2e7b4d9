"""The job runner: `python -m workbench.jobs run JOB_ID`, the process of every background job.

It reads the job's parameters from the store (never from command-line flags) and runs the job's kind:
"search" runs the search driver, "endpoint" serves a registered model, "notebook" executes a notebook. Whatever ends it (its work, a
stop request, SIGTERM, an error), the job ends with a final status; only SIGKILL can skip that, and then
the next reader of the job sees its process gone and marks it failed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from workbench.errors import WorkbenchError
from workbench.store import Job, SearchEvent, StopSignal, Workspace, process_start_time, this_host
from workbench.store import jobs as job_rows

__all__ = ["RUNNERS", "main"]

HEARTBEAT_S = 10.0
# An endpoint's runner looks for a stop request (made on any host) this often.
STOP_POLL_S = 1.0

log = logging.getLogger("workbench.jobs")


def _say(text: str) -> None:
    sys.stdout.write(f"{time.strftime('%H:%M:%S')} {text}\n")
    sys.stdout.flush()


def _heartbeat(workspace: Workspace, job_id: int, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_S):
        try:
            job_rows.heartbeat(workspace.store, job_id)
        except Exception:  # a busy or briefly unreachable store must not end the job
            log.warning("heartbeat of job %s failed", job_id, exc_info=True)


def _event_line(event: SearchEvent) -> str | None:
    p = event.payload
    if event.kind == "trial_finished":
        return f"trial {p['engine']}-{p['number']} {p['state'].lower()} (best valid {p.get('best_valid')})"
    if event.kind == "trial_failed":
        return f"trial {p['engine']}-{p['number']} {p['state'].lower()}: {p.get('error')}"
    if event.kind == "cluster":
        return f"cluster: {p['workers']} workers, {p['threads']} threads, {p['gpus']} GPUs"
    if event.kind == "search_finished":
        return f"search {p['status']}: {p['complete']} complete, {p['failed']} failed, {p['cancelled']} cancelled"
    return None


def run_search_job(workspace: Workspace, job: Job, stop: StopSignal) -> str:
    from workbench.compare import ensemble_step
    from workbench.search import EventBus, SearchConfig, job_status, run_search

    experiment = workspace.experiment(job.params["experiment_id"])
    config = SearchConfig.from_dict(job.params["config"])
    bus = EventBus(workspace.store, buffered=True)

    def log_event(event: SearchEvent) -> None:
        line = _event_line(event)
        if line:
            _say(line)

    bus.subscribe(log_event)
    _say(f"search of experiment {experiment.id} ({experiment.name}) on cluster {config.cluster}")
    summary = run_search(workspace, experiment, config, bus=bus, job_id=job.id, stop=stop, ensemble_step=ensemble_step)
    return job_status(summary)


def run_endpoint_job(workspace: Workspace, job: Job, stop: StopSignal) -> str:
    from workbench.serve import ServeSettings, serve_registered

    params = job.params
    done = threading.Event()

    def watch() -> None:
        # A stop request recorded by any process (any host) ends the server as SIGTERM would.
        while not done.wait(STOP_POLL_S):
            if job_rows.stop_request(workspace.store, job.id) is not None:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="stop-watch", daemon=True).start()
    settings = ServeSettings(reload_on_sighup=True, **params.get("settings", {}))
    _say(f"serving {params['ref']} on http://{params['host']}:{params['port']}")
    try:
        serve_registered(
            workspace.settings.home,
            params["ref"],
            host=params["host"],
            port=int(params["port"]),
            api_key_env=params.get("api_key_env"),
            settings=settings,
        )
    except SystemExit as exc:  # uvicorn exits when it cannot start (a port taken)
        if exc.code not in (0, None):
            raise WorkbenchError(f"the server could not start (exit code {exc.code}); see the log above") from None
    finally:
        done.set()
    return "cancelled" if job_rows.stop_request(workspace.store, job.id) == "cancel" else "stopped"


def run_notebook(workspace: Workspace, job: Job, stop: StopSignal) -> str:
    from workbench.jobs._notebook import run_notebook_job

    return run_notebook_job(workspace, job, stop, _say)


RUNNERS: dict[str, Callable[[Workspace, Job, StopSignal], str]] = {
    "search": run_search_job,
    "endpoint": run_endpoint_job,
    "notebook": run_notebook,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "run" or not args[1].isdigit():
        sys.stderr.write("usage: python -m workbench.jobs run JOB_ID\n")
        return 2
    stop = StopSignal()

    # Installed first, before the store is opened or a cluster started: a SIGTERM at any moment from
    # here on is a cancel request that the search honours as soon as it can.
    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.request("cancel")

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    job_id = int(args[1])
    workspace = Workspace()
    store = workspace.store
    job = job_rows.get_job(store, job_id)
    if job is None:
        sys.stderr.write(f"there is no job {job_id} in {workspace.settings.home}\n")
        return 2
    if not job_rows.mark_running(store, job_id, os.getpid(), this_host(), process_start_time(os.getpid())):
        _say(f"job {job_id} already ended ({job.status}); nothing to run")
        return 0
    runner = RUNNERS.get(job.kind)
    if runner is None:
        job_rows.finish_job(store, job_id, "failed", error=f"no runner for jobs of kind {job.kind!r}")
        return 2
    done = threading.Event()
    threading.Thread(target=_heartbeat, args=(workspace, job_id, done), name="heartbeat", daemon=True).start()
    status, error = "failed", None
    try:
        status = runner(workspace, job, stop)
    except WorkbenchError as exc:
        error = exc.message
        _say(f"error: {error}")
    except KeyboardInterrupt:
        status = "cancelled"
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception("job %s failed", job_id)
    finally:
        done.set()
        job_rows.finish_job(store, job_id, status, error=error)
        ended = job_rows.get_job(store, job_id)
        _say(f"job {job_id} {ended.status if ended else status}")
        workspace.close()
    return 0 if status != "failed" else 1
