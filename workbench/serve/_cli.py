"""`workbench serve MODEL[@VERSION|@ALIAS]`: uvicorn on 127.0.0.1 by default. FastAPI and uvicorn load lazily."""

from __future__ import annotations

import os

import typer

__all__ = ["serve_command"]


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
) -> None:
    """Serve a registered model over HTTP (Open Inference Protocol v2, MLflow /invocations, /predict)."""
    import uvicorn

    from workbench.config import Settings
    from workbench.errors import InvalidInputError
    from workbench.serve._app import ServeSettings
    from workbench.serve._factory import factory_env

    if api_key_env and not os.environ.get(api_key_env):
        raise InvalidInputError(f"--api-key-env names {api_key_env}, which is empty or unset; export the key first.")
    settings = ServeSettings(
        max_in_flight=max_in_flight, max_body_bytes=max_body_mb * 1024 * 1024, reload_on_sighup=True
    )
    home = Settings.from_env().home
    os.environ.update(factory_env({"registry": str(home), "ref": model}, settings, api_key_env))
    uvicorn.run(
        "workbench.serve._factory:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
