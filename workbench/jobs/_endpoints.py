"""Endpoints: served models running in the background, each a job of kind "endpoint".

`start_endpoint` checks the model reference, starts the job runner serving it on 127.0.0.1 and returns
once the server answers ready (or says why it did not). The API key, when given, reaches the server in its
environment only: it is never written to the store or the log.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.jobs._control import get_job
from workbench.jobs._process import end_process, spawn_job
from workbench.registry import Registry
from workbench.store import Endpoint, Job, Workspace, refresh_job
from workbench.store import endpoints as endpoint_rows
from workbench.store import jobs as job_rows

__all__ = [
    "API_KEY_ENV",
    "LOOPBACK",
    "endpoint_log",
    "get_endpoint",
    "list_endpoints",
    "start_endpoint",
    "stop_endpoint",
]

LOOPBACK = "127.0.0.1"
API_KEY_ENV = "WORKBENCH_ENDPOINT_API_KEY"  # how a key given as a value reaches the server process


def _readiness(url: str) -> str:
    """ "ready", "failed" (the server runs but its model could not be loaded) or "waiting"."""
    try:
        with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=2) as response:
            return "ready" if response.status == 200 else "waiting"
    except urllib.error.HTTPError as exc:
        return "failed" if b"could not be loaded" in exc.read() else "waiting"
    except OSError:
        return "waiting"


_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception)\b:?|ERROR:|error:)")


def _reason(job: Job, log_path: str | None) -> str:
    """Why a server did not become ready, in one line: the last error its log shows, else the job's."""
    lines = []
    if log_path and Path(log_path).is_file():
        lines = [line.strip() for line in Path(log_path).read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.match(line) or "ERROR" in line]
    if errors:
        return errors[-1][:300]
    return (job.error or (lines[-1] if lines else "no output"))[:300]


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            raise InvalidInputError(
                f"Port {port} on {LOOPBACK} is in use; choose another, or give none for a free one."
            ) from None


def start_endpoint(
    workspace: Workspace,
    ref: str,
    *,
    port: int | None = None,
    api_key: str | None = None,
    api_key_env: str | None = None,
    fast_path: bool = True,
    ready_timeout_s: float = 120.0,
) -> Endpoint:
    """Serve `ref` (name, name@VERSION, name@ALIAS) in a background job on 127.0.0.1; returns once ready.

    api_key: clients must send it (Bearer or X-API-Key); or api_key_env: the name of an environment variable
    of this process that holds it. A server that does not become ready is stopped and the error names why.
    """
    from workbench.serve import free_port

    version = Registry(workspace).resolve(ref).version  # an unknown model is refused before anything starts
    if api_key is not None and api_key_env is not None:
        raise InvalidInputError("Give the API key or the name of the variable holding it, not both.")
    if api_key is not None and not api_key.strip():
        raise InvalidInputError("The API key is empty; give a key, or none for an open endpoint.")
    if api_key_env is not None:
        import os

        api_key = os.environ.get(api_key_env) or None
        if api_key is None:
            raise InvalidInputError(f"The variable {api_key_env} is empty or unset; export the API key first.")
    chosen = port or free_port()
    if not 0 < chosen < 65536:
        raise InvalidInputError(f"Port {chosen} is not a TCP port; use 1-65535.")
    _check_port_free(chosen)
    params = {
        "ref": ref,
        "version": version,
        "host": LOOPBACK,
        "port": chosen,
        "api_key_env": API_KEY_ENV if api_key else None,
        "settings": {"fast_path": fast_path},
    }
    job = spawn_job(workspace, "endpoint", params, env={API_KEY_ENV: api_key} if api_key else None)
    store = workspace.store
    endpoint = endpoint_rows.add_endpoint(store, ref, version, LOOPBACK, chosen, job.log_path or "", job.id)
    endpoint_rows.set_endpoint(store, endpoint.id, pid=job.pid)
    deadline = time.monotonic() + ready_timeout_s
    while (state := _readiness(endpoint.url)) != "ready":
        current = get_job(workspace, job.id)
        timed_out = time.monotonic() > deadline
        if state == "failed" or not current.active or timed_out:
            reason = f"not ready within {ready_timeout_s:.0f} s" if timed_out else _reason(current, job.log_path)
            job_rows.finish_job(store, job.id, "failed", error=reason)  # before the process ends: its status
            if current.active:
                end_process(current)
            endpoint_rows.set_endpoint(store, endpoint.id, status="failed")
            raise WorkbenchError(f"The endpoint for {ref} did not become ready ({reason}); see {job.log_path}.")
        time.sleep(0.2)
    endpoint_rows.set_endpoint(store, endpoint.id, status="ready")
    return get_endpoint(workspace, endpoint.id)


def _refreshed(workspace: Workspace, endpoint: Endpoint) -> Endpoint:
    """The endpoint with its status brought up to date from its job: a dead server is "stopped"."""
    if endpoint.status not in ("starting", "ready") or endpoint.job_id is None:
        return endpoint
    job = job_rows.get_job(workspace.store, endpoint.job_id)
    if job is None or not refresh_job(workspace.store, job).active:
        endpoint_rows.set_endpoint(workspace.store, endpoint.id, status="stopped")
        updated = endpoint_rows.get_endpoint(workspace.store, endpoint.id)
        assert updated is not None
        return updated
    return endpoint


def get_endpoint(workspace: Workspace, endpoint_id: int) -> Endpoint:
    endpoint = endpoint_rows.get_endpoint(workspace.store, int(endpoint_id))
    if endpoint is None:
        raise NotFoundError(f"There is no endpoint {endpoint_id}; run 'workbench endpoints list' to see them.")
    return _refreshed(workspace, endpoint)


def list_endpoints(workspace: Workspace) -> list[Endpoint]:
    """Every endpoint, with its status refreshed: a process that died is marked stopped."""
    return [_refreshed(workspace, e) for e in endpoint_rows.list_endpoints(workspace.store)]


def stop_endpoint(workspace: Workspace, endpoint_id: int, timeout_s: float = 30.0) -> Endpoint:
    """Stop a background endpoint (the request is recorded, so a server on another host stops too)."""
    endpoint = get_endpoint(workspace, endpoint_id)
    if endpoint.job_id is not None:
        job = get_job(workspace, endpoint.job_id)
        if job.active:
            job_rows.request_stop(workspace.store, job.id, "finish")
            end_process(job, timeout_s=timeout_s)
            job_rows.finish_job(workspace.store, job.id, "stopped")
    endpoint_rows.set_endpoint(workspace.store, endpoint.id, status="stopped")
    return get_endpoint(workspace, endpoint.id)


def endpoint_log(workspace: Workspace, endpoint_id: int, tail: int | None = 200) -> str:
    """The endpoint server's log (its last `tail` lines)."""
    endpoint = get_endpoint(workspace, endpoint_id)
    if not endpoint.log_path or not Path(endpoint.log_path).is_file():
        return ""
    lines = Path(endpoint.log_path).read_text(errors="replace").splitlines()
    return "\n".join(lines[-tail:] if tail else lines)
