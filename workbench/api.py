"""The Python API: what the CLI, the widgets and the notebooks call.

>>> import workbench.api as wb
>>> ws = wb.Workspace()                       # WORKBENCH_HOME, default ./.workbench
>>> ws.profile("penguins").warnings
>>> exp = ws.create_experiment(wb.ExperimentSpec("penguins", split=wb.SplitSpec(seed=1)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.config import Settings
from workbench.data import DatasetEntry, Profile, Split, SplitSpec
from workbench.errors import WorkbenchError
from workbench.metrics import DEFAULT_METRIC, METRICS
from workbench.store import Budget, Experiment, ExperimentSpec, Workspace

if TYPE_CHECKING:
    from workbench.registry import VersionInfo

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
    "attach",
    "list_endpoints",
    "open_workspace",
    "register_winner",
    "start_endpoint",
    "start_search",
    "stop_endpoint",
]


def open_workspace(home: str | None = None) -> Workspace:
    """The workspace at `home`, or at WORKBENCH_HOME (default ./.workbench)."""
    settings = Settings.from_env()
    if home is not None:
        from dataclasses import replace
        from pathlib import Path

        settings = replace(settings, home=Path(home).absolute())
    return Workspace(settings)


def register_winner(workspace: Workspace, experiment_id: int, name: str | None = None) -> VersionInfo:
    """Register the experiment's best model by valid score (a candidate or an ensemble) as the next version
    of `name` (default: the experiment's dataset)."""
    from workbench.compare import load_comparison
    from workbench.registry import Registry

    experiment = workspace.experiment(experiment_id)
    ranked = load_comparison(workspace, experiment).ranked()
    if not ranked:
        from workbench.errors import InvalidInputError

        raise InvalidInputError(f"Experiment {experiment.id} has no candidates yet; run a search first.")
    best = ranked[0]
    registry = Registry(workspace)
    target = name or experiment.dataset
    description = f"best of experiment {experiment.id} ({best.name}, valid {experiment.metric} {best.valid_score})"
    if best.kind == "ensemble":
        return registry.register(target, ensemble_id=best.id, description=description)
    return registry.register(target, candidate_id=best.id, description=description)


def start_endpoint(workspace: Workspace, ref: str, port: int | None = None) -> Any:
    """Serve a registered model (`name`, `name@3`, `name@production`) in the background on 127.0.0.1."""
    from workbench.serve._endpoints import start_endpoint as start

    return start(workspace, ref, port)


def stop_endpoint(workspace: Workspace, endpoint_id: int) -> Any:
    from workbench.serve._endpoints import stop_endpoint as stop

    return stop(workspace, endpoint_id)


def list_endpoints(workspace: Workspace) -> list[Any]:
    from workbench.serve._endpoints import list_endpoints as listed

    return listed(workspace)


def start_search(workspace: Workspace, request: Any) -> Any:
    """Run a search as a background job whose driver outlives this kernel (see `attach`)."""
    from workbench.jobs import start_search as start

    return start(workspace, request)


def attach(workspace: Workspace, experiment_id: int) -> Any:
    """Follow a search started by `start_search`, from any process."""
    from workbench.jobs import attach as follow

    return follow(workspace, experiment_id)
