"""Endpoints as managed background processes: started, listed and stopped from the notebook or the CLI.

Each endpoint is a `workbench serve REF` process on 127.0.0.1, detached from its caller and recorded in
the store's endpoints table with its URL, port, pid, status and log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.serve._contract import free_port

__all__ = ["Endpoint", "list_endpoints", "start_endpoint", "stop_endpoint"]

LOOPBACK = "127.0.0.1"
# Endpoint processes started by this process, kept so they are reaped on stop (and not warned about on exit).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Endpoint:
    id: int
    model: str
    version: int | None
    host: str
    port: int
    pid: int | None
    status: str  # starting | ready | stopped | failed
    log_path: str | None
    created_at: float

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    # Also for our own children: poll() answers None while another thread waits on the child, even once it
    # has died; the kernel's view (gone, or a zombie) is the truth.
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _row(workspace: Any, endpoint_id: int) -> Endpoint:
    row = workspace.store.conn.execute("SELECT * FROM endpoints WHERE id = ?", (endpoint_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no endpoint {endpoint_id}; run 'workbench endpoints list' to see them.")
    return Endpoint(**dict(row))


def _set_status(workspace: Any, endpoint_id: int, status: str) -> None:
    with workspace.store.transaction() as conn:
        conn.execute("UPDATE endpoints SET status = ? WHERE id = ?", (status, endpoint_id))


def start_endpoint(
    workspace: Any,
    ref: str,
    port: int | None = None,
    api_key_env: str | None = None,
    ready_timeout_s: float = 120.0,
) -> Endpoint:
    """Serve `ref` (name, name@VERSION, name@ALIAS) in a detached process and wait until it is ready."""
    from workbench.registry import Registry

    version = Registry(workspace).resolve(ref).version  # an unknown model is refused before anything starts
    chosen = port or free_port()
    if not 0 < chosen < 65536:
        raise InvalidInputError(f"Port {chosen} is not a TCP port; use 1-65535.")
    logs = workspace.settings.home / "endpoints"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{ref.replace('@', '-')}-{chosen}.log"
    with workspace.store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO endpoints (model, version, host, port, status, log_path, created_at)"
            " VALUES (?, ?, ?, ?, 'starting', ?, ?)",
            (ref, version, LOOPBACK, chosen, str(log_path), time.time()),
        )
        endpoint_id = int(cursor.lastrowid or 0)
    command = [sys.executable, "-m", "workbench", "serve", ref, "--host", LOOPBACK, "--port", str(chosen)]
    if api_key_env:
        command += ["--api-key-env", api_key_env]
    env = {**os.environ, "WORKBENCH_HOME": str(workspace.settings.home)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    with workspace.store.transaction() as conn:
        conn.execute("UPDATE endpoints SET pid = ? WHERE id = ?", (process.pid, endpoint_id))
    url = f"http://{LOOPBACK}:{chosen}"
    deadline = time.monotonic() + ready_timeout_s
    while not _ready(url):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            _CHILDREN.pop(process.pid, None)
            _set_status(workspace, endpoint_id, "failed")
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
            raise WorkbenchError(
                f"The endpoint for {ref} did not become ready ({tail[0] if tail else 'no output'}); see {log_path}."
            )
        time.sleep(0.2)
    _set_status(workspace, endpoint_id, "ready")
    return _row(workspace, endpoint_id)


def stop_endpoint(workspace: Any, endpoint_id: int, timeout_s: float = 30.0) -> Endpoint:
    endpoint = _row(workspace, endpoint_id)
    if _alive(endpoint.pid):
        assert endpoint.pid is not None
        os.killpg(endpoint.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(endpoint.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(endpoint.pid):
            os.killpg(endpoint.pid, signal.SIGKILL)
    _set_status(workspace, endpoint_id, "stopped")
    return _row(workspace, endpoint_id)


def list_endpoints(workspace: Any) -> list[Endpoint]:
    """Every endpoint, with its status refreshed: a process that died is marked stopped."""
    out = []
    for row in workspace.store.conn.execute("SELECT id FROM endpoints ORDER BY id").fetchall():
        endpoint = _row(workspace, row["id"])
        if endpoint.status in ("starting", "ready") and not _alive(endpoint.pid):
            _set_status(workspace, endpoint.id, "stopped")
            endpoint = _row(workspace, endpoint.id)
        out.append(endpoint)
    return out
