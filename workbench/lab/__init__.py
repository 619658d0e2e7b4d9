"""The Jupyter server extension behind JupyterLab's Workbench panel: REST routes under
`{base_url}/workbench/api/`, each a thin wrapper over `workbench.api` (see docs/lab-rest-api.md).

Enabled by the wheel's `etc/jupyter/jupyter_server_config.d/workbench.json`, or by hand with
`jupyter server extension enable workbench.lab`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "workbench.lab"}]


def load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the routes on the server's web application."""
    from workbench.lab._routes import install_routes

    install_routes(serverapp)
    serverapp.log.info("workbench: the Workbench panel's routes are under %sworkbench/api/", serverapp.base_url)


_load_jupyter_server_extension = load_jupyter_server_extension
