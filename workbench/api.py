"""The Python API: what the CLI, the widgets and the notebooks call.

>>> import workbench.api as wb
>>> ws = wb.Workspace()                       # WORKBENCH_HOME, default ./.workbench
>>> ws.profile("penguins").warnings
>>> exp = ws.create_experiment(wb.ExperimentSpec("penguins", split=wb.SplitSpec(seed=1)))
"""

from __future__ import annotations

from workbench.config import Settings
from workbench.data import DatasetEntry, Profile, Split, SplitSpec
from workbench.errors import WorkbenchError
from workbench.metrics import DEFAULT_METRIC, METRICS
from workbench.store import Budget, Experiment, ExperimentSpec, Workspace

__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "Budget",
    "DatasetEntry",
    "Experiment",
    "ExperimentSpec",
    "Profile",
    "Settings",
    "Split",
    "SplitSpec",
    "WorkbenchError",
    "Workspace",
    "open_workspace",
]


def open_workspace(home: str | None = None) -> Workspace:
    """The workspace at `home`, or at WORKBENCH_HOME (default ./.workbench)."""
    settings = Settings.from_env()
    if home is not None:
        from dataclasses import replace
        from pathlib import Path

        settings = replace(settings, home=Path(home).absolute())
    return Workspace(settings)
