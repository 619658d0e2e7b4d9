"""Running a registered model's server in this process: what `workbench serve` and endpoint jobs do."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import InvalidInputError
from workbench.serve._app import ServeSettings
from workbench.serve._factory import factory_env

__all__ = ["serve_registered"]


def serve_registered(
    home: Path,
    ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    api_key_env: str | None = None,
    settings: ServeSettings | None = None,
) -> None:
    """Serve the registry model `ref` of the workspace at `home` with uvicorn until SIGTERM or Ctrl-C.

    The API key (if any) stays in the environment variable `api_key_env`: only that name travels to the
    workers, never the key itself. SIGHUP reloads the model (a moved alias).
    """
    import uvicorn

    if not 0 < port < 65536:
        raise InvalidInputError(f"Port {port} is not a TCP port; use 1-65535.")
    if workers < 1:
        raise InvalidInputError(f"A server needs at least one worker, not {workers}.")
    if api_key_env and not os.environ.get(api_key_env):
        raise InvalidInputError(f"The API key variable {api_key_env} is empty or unset; export the key first.")
    chosen = settings or ServeSettings(reload_on_sighup=True)
    os.environ.update(factory_env({"registry": str(home), "ref": ref}, chosen, api_key_env))
    uvicorn.run(
        "workbench.serve._factory:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
