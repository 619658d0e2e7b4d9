"""What the registry tests share: the searched workspace record and workspace settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.config import Settings
from workbench.store import Experiment, TrialData, Workspace

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Searched:
    home: Path
    workspace: Workspace
    experiment: Experiment
    data: TrialData
    candidates: dict[str, int]  # family -> a candidate id
    ensemble_id: int


def settings_for(home: Path) -> Settings:
    return Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets")
