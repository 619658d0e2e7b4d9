"""workbench: an AutoML workbench that lives in JupyterLab.

Submodules load on first use, so `import workbench` stays fast (the model server imports only what it
serves).
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench._version import __version__

__all__ = ["__version__", "api", "config", "data", "errors", "metrics", "store"]

_SUBMODULES = {"api", "config", "data", "errors", "metrics", "store"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"workbench.{name}")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The built JupyterLab extension (`workbench/labextension`), for `jupyter labextension develop .`."""
    return [{"src": "labextension", "dest": "workbench-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension is `workbench.lab`; `jupyter server extension enable workbench` finds it here."""
    return [{"module": "workbench.lab"}]
