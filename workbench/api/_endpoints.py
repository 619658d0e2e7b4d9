"""Endpoints: a registered model served in the background on 127.0.0.1; start, stop, list, logs, predict."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.errors import InvalidInputError, WorkbenchError
from workbench.store import Endpoint

if TYPE_CHECKING:
    from workbench.model import InputSchema

__all__ = [
    "EndpointMetrics",
    "EndpointPrediction",
    "endpoint_logs",
    "endpoint_metrics",
    "endpoint_predict",
    "endpoint_schema",
    "list_endpoints",
    "serve",
    "show_endpoint",
    "start_endpoint",
    "stop_endpoint",
]


def start_endpoint(
    ref: str,
    *,
    port: int | None = None,
    api_key: str | None = None,
    api_key_env: str | None = None,
    fast_path: bool = True,
    ready_timeout_s: float = 120.0,
    workspace: WorkspaceLike = None,
) -> Endpoint:
    """Serve `ref` (name, name@VERSION, name@ALIAS) in a background job on 127.0.0.1 (a free port unless
    given). Returns once the server answers ready; raises saying why when it does not. With `api_key`
    (or `api_key_env`, the name of a variable holding it) clients must send the key."""
    from workbench.jobs import start_endpoint as start

    return start(
        resolve_workspace(workspace),
        ref,
        port=port,
        api_key=api_key,
        api_key_env=api_key_env,
        fast_path=fast_path,
        ready_timeout_s=ready_timeout_s,
    )


def stop_endpoint(endpoint_id: int, *, workspace: WorkspaceLike = None) -> Endpoint:
    """Stop a background endpoint; the request is recorded, so a server on another host stops too."""
    from workbench.jobs import stop_endpoint as stop

    return stop(resolve_workspace(workspace), endpoint_id)


def list_endpoints(*, workspace: WorkspaceLike = None) -> list[Endpoint]:
    """Every endpoint with its URL and status (a server that died is listed as stopped)."""
    from workbench.jobs import list_endpoints as listed

    return listed(resolve_workspace(workspace))


def show_endpoint(endpoint_id: int, *, workspace: WorkspaceLike = None) -> Endpoint:
    """One endpoint: its model, URL, status and log (a server that died shows as stopped)."""
    from workbench.jobs import get_endpoint

    return get_endpoint(resolve_workspace(workspace), endpoint_id)


def endpoint_logs(endpoint_id: int, tail: int | None = 200, *, workspace: WorkspaceLike = None) -> str:
    """The endpoint server's log, its last `tail` lines (None for all)."""
    from workbench.jobs import endpoint_log

    return endpoint_log(resolve_workspace(workspace), endpoint_id, tail)


@dataclass(frozen=True)
class EndpointPrediction:
    """What an endpoint answered for some rows: labels (classifiers, with probabilities in `classes`
    order) or values (regressors)."""

    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"predictions": self.predictions, "probabilities": self.probabilities, "classes": self.classes}


def endpoint_predict(
    endpoint_id: int,
    rows: list[dict[str, Any]],
    *,
    api_key: str | None = None,
    timeout_s: float = 30.0,
    workspace: WorkspaceLike = None,
) -> EndpointPrediction:
    """Send `rows` (JSON records) to a running endpoint's `/predict` and return its answer; a refusal
    (a missing column, a wrong type) raises with the server's one-sentence reason."""
    endpoint = show_endpoint(endpoint_id, workspace=workspace)
    if endpoint.status != "ready":
        raise InvalidInputError(f"Endpoint {endpoint.id} is {endpoint.status}; start it again first.")
    headers = {"Content-Type": "application/json"}
    if api_key is None:
        api_key = _endpoint_key(endpoint, workspace)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        f"{endpoint.url}/predict", data=json.dumps(rows).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error") or exc.reason
        except (ValueError, AttributeError):
            reason = exc.reason
        raise InvalidInputError(f"Endpoint {endpoint.id} refused the rows ({exc.code}): {reason}") from None
    except OSError as exc:
        raise WorkbenchError(f"Endpoint {endpoint.id} at {endpoint.url} did not answer ({exc}).") from None
    return EndpointPrediction(body["predictions"], body.get("probabilities"), body.get("classes"))


def _endpoint_key(endpoint: Endpoint, workspace: WorkspaceLike) -> str | None:
    """The key of an endpoint started with `api_key_env`, when that variable is set in this process too."""
    if endpoint.job_id is None:
        return None
    from workbench.jobs import get_job

    variable = get_job(resolve_workspace(workspace), endpoint.job_id).params.get("api_key_env")
    return os.environ.get(variable) if variable else None


@dataclass(frozen=True)
class EndpointMetrics:
    """What an endpoint has served since it started: prediction requests (`/predict`, `/invocations`, OIP
    `infer`), and those of them answered 4xx or 5xx."""

    requests: int
    errors: int

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors}


# The prediction routes (by route template); probes, metadata and documentation are not counted.
_PREDICTION_ROUTES = ("/predict", "/invocations")
_REQUESTS_LINE = re.compile(r'^workbench_requests_total\{route="([^"]*)",method="[^"]*",status="(\d+)"\} (\d+)$')


def endpoint_metrics(
    endpoint_id: int, *, timeout_s: float = 2.0, workspace: WorkspaceLike = None
) -> EndpointMetrics | None:
    """Requests and errors counted by a running endpoint (read from its `/metrics`); None when it is not
    ready or does not answer in `timeout_s`."""
    endpoint = show_endpoint(endpoint_id, workspace=workspace)
    if endpoint.status != "ready":
        return None
    try:
        with urllib.request.urlopen(f"{endpoint.url}/metrics", timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return None
    requests = errors = 0
    for line in text.splitlines():
        match = _REQUESTS_LINE.match(line)
        if match is None:
            continue
        route, status, count = match.group(1), int(match.group(2)), int(match.group(3))
        if route not in _PREDICTION_ROUTES and not route.endswith("/infer"):
            continue
        requests += count
        errors += count if status >= 400 else 0
    return EndpointMetrics(requests, errors)


def endpoint_schema(endpoint_id: int, *, workspace: WorkspaceLike = None) -> InputSchema:
    """The input columns of the model an endpoint serves (what a request's rows must hold)."""
    from workbench.api._registry import model_schema

    endpoint = show_endpoint(endpoint_id, workspace=workspace)
    name = endpoint.model.split("@", 1)[0]
    return model_schema(f"{name}@{endpoint.version}", workspace=workspace)


def serve(
    ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    api_key_env: str | None = None,
    max_in_flight: int = 64,
    max_body_mb: int = 16,
    fast_path: bool = True,
    allowed_hosts: Sequence[str] = (),
    body_timeout_s: float = 30.0,
    workspace: WorkspaceLike = None,
) -> None:
    """Serve `ref` here, in the foreground, until SIGTERM or Ctrl-C (what `workbench serve` runs).

    Requests are answered for the Host names 127.0.0.1, localhost and ::1, the `host` listened on, and
    `allowed_hosts` ("*": any); listening on every interface (0.0.0.0) with no `allowed_hosts`, any Host
    is answered. A body not in after `body_timeout_s` gets 408."""
    from workbench.serve import ServeSettings, serve_registered

    ws = resolve_workspace(workspace)
    from workbench.registry import Registry

    Registry(ws).resolve(ref)  # an unknown model is refused before the server starts
    from workbench.serve import allowed_hosts_for

    if body_timeout_s <= 0:
        raise InvalidInputError(f"The body timeout must be more than 0 seconds, not {body_timeout_s}.")
    settings = ServeSettings(
        max_in_flight=max_in_flight,
        max_body_bytes=max_body_mb * 1024 * 1024,
        reload_on_sighup=True,
        fast_path=fast_path,
        allowed_hosts=allowed_hosts_for(host, allowed_hosts),
        body_timeout_s=body_timeout_s,
    )
    serve_registered(
        Path(ws.settings.home), ref, host=host, port=port, workers=workers, api_key_env=api_key_env, settings=settings
    )
