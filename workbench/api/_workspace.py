"""Which workspace an API call works on: the one given, or the default (WORKBENCH_HOME)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from workbench.config import Settings
from workbench.store import Workspace

__all__ = ["WorkspaceLike", "open_workspace", "resolve_workspace"]

WorkspaceLike = Workspace | str | Path | None

_open: dict[Settings, Workspace] = {}
_lock = threading.Lock()


def open_workspace(home: str | Path | None = None) -> Workspace:
    """The workspace at `home`, or at WORKBENCH_HOME (default ./.workbench); the other settings come from
    the environment. The same home gives the same (thread-safe) object for the life of the process."""
    settings = Settings.from_env()
    if home is not None:
        settings = replace(settings, home=Path(home).expanduser().absolute())
    with _lock:
        workspace = _open.get(settings)
        if workspace is None:
            workspace = _open[settings] = Workspace(settings)
        return workspace


def resolve_workspace(workspace: WorkspaceLike) -> Workspace:
    """Every API function's `workspace=` argument: a Workspace, a home folder, or None for the default."""
    if isinstance(workspace, Workspace):
        return workspace
    return open_workspace(workspace)
