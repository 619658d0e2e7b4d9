"""`workbench endpoints ...` (background servers) and `workbench serve` (a server in the foreground)."""

from __future__ import annotations

import typer

import workbench.api as wb
from workbench.cli._table import Column, print_table
from workbench.cli._util import JSON_OPTION, console, print_json, user_errors

__all__ = ["endpoints_app", "serve_command"]

endpoints_app = typer.Typer(help="Start, list and stop served models running in the background.", no_args_is_help=True)


@endpoints_app.command("list")
@user_errors
def endpoints_list(as_json: bool = JSON_OPTION) -> None:
    """List endpoints with their URLs, status, requests and errors served, and logs."""
    endpoints = wb.list_endpoints()
    metrics = {e.id: wb.endpoint_metrics(e.id) if e.status == "ready" else None for e in endpoints}
    if as_json:
        print_json([{**e.to_dict(), "metrics": m.to_dict() if (m := metrics[e.id]) else None} for e in endpoints])
        return
    columns = [
        Column("id", right=True),
        Column("model", fold_to=16),
        Column("version", right=True),
        Column("url", fold_to=24),
        Column("job", right=True),
        Column("status"),
        Column("requests", right=True),
        Column("errors", right=True),
        Column("log", fold_to=24),
    ]
    rows = []
    for e in endpoints:
        served = metrics[e.id]
        counts = (str(served.requests), str(served.errors)) if served else ("", "")
        rows.append(
            (str(e.id), e.model, str(e.version), e.url, str(e.job_id or ""), e.status, *counts, e.log_path or "")
        )
    # `endpoints logs ID` prints the log, and `--json` has every field.
    print_table(console, "Endpoints", columns, rows, optional=("log", "job", "errors", "requests"))


@endpoints_app.command("start")
@user_errors
def endpoints_start(
    ref: str = typer.Argument(..., metavar="MODEL", help="name, name@VERSION or name@ALIAS."),
    port: int | None = typer.Option(None, help="Port on 127.0.0.1 (default: a free one)."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the API key."),
    fast_path: bool = typer.Option(True, "--fast-path/--no-fast-path", help="Use the verified pandas-free path."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve a registered model in the background on 127.0.0.1 and wait until it is ready."""
    endpoint = wb.start_endpoint(ref, port=port, api_key_env=api_key_env, fast_path=fast_path)
    if as_json:
        print_json(endpoint.to_dict())
        return
    console.print(f"Endpoint {endpoint.id}: {endpoint.model} v{endpoint.version} at {endpoint.url}", highlight=False)


@endpoints_app.command("stop")
@user_errors
def endpoints_stop(endpoint_id: int = typer.Argument(..., metavar="ID", help="Endpoint id.")) -> None:
    """Stop a background endpoint."""
    endpoint = wb.stop_endpoint(endpoint_id)
    console.print(f"Endpoint {endpoint.id} stopped.", highlight=False)


@endpoints_app.command("logs")
@user_errors
def endpoints_logs(
    endpoint_id: int = typer.Argument(..., metavar="ID", help="Endpoint id."),
    tail: int = typer.Option(200, help="Lines from the end (0 for all)."),
) -> None:
    """Print an endpoint's server log."""
    typer.echo(wb.endpoint_logs(endpoint_id, tail or None))


def serve_command(
    model: str = typer.Argument(..., help="MODEL, MODEL@VERSION or MODEL@ALIAS in the registry."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Name of an environment variable holding the API key clients must send."
    ),
    max_in_flight: int = typer.Option(64, "--max-in-flight", min=1, help="Per worker; beyond it answer 503."),
    max_body_mb: int = typer.Option(16, "--max-body-mb", min=1, help="Largest request body accepted."),
    fast_path: bool = typer.Option(True, "--fast-path/--no-fast-path", help="Use the verified pandas-free path."),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="A Host name clients use besides loopback and --host (repeat; * for any)."
    ),
    body_timeout: float = typer.Option(30.0, "--body-timeout", help="Seconds a request body may take to arrive."),
) -> None:
    """Serve a registered model over HTTP (Open Inference Protocol v2, MLflow /invocations, /predict)."""
    wb.serve(
        model,
        host=host,
        port=port,
        workers=workers,
        api_key_env=api_key_env,
        max_in_flight=max_in_flight,
        max_body_mb=max_body_mb,
        fast_path=fast_path,
        allowed_hosts=allowed_host,
        body_timeout_s=body_timeout,
    )
