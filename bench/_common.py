"""Shared set-up for the benchmarks: a throwaway workspace and a bundled experiment's TrialData."""

from __future__ import annotations

import tempfile
from pathlib import Path

from workbench.config import Settings
from workbench.search import TrialData
from workbench.search.families import trial_data
from workbench.store import Experiment, ExperimentSpec, Workspace

REPO = Path(__file__).resolve().parent.parent


def workspace() -> Workspace:
    home = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    return Workspace(Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets"))


def experiment(ws: Workspace, dataset: str) -> tuple[Experiment, TrialData]:
    exp = ws.create_experiment(ExperimentSpec(dataset))
    return exp, trial_data(ws, exp)
