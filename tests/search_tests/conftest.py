from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from workbench.config import Settings
from workbench.search import TrialData
from workbench.store import ExperimentSpec, Workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def search_workspace(tmp_path: Path) -> Iterator[Workspace]:
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        yield ws


@pytest.fixture
def make_trial_data() -> Callable[..., tuple[int, TrialData]]:
    """Builds an experiment on a bundled dataset and its TrialData."""
    return small_trial_data


def small_trial_data(workspace: Workspace, dataset: str = "penguins") -> tuple[int, TrialData]:
    """An experiment on a bundled dataset and its TrialData, built from the stored split."""
    experiment = workspace.create_experiment(ExperimentSpec(dataset))
    frame = workspace.experiment_frame(experiment)
    split = workspace.split(experiment)
    X = frame.drop(columns=[experiment.target])
    y = frame[experiment.target].to_numpy()
    classes = tuple(sorted(frame[experiment.target].dropna().unique().tolist()))
    data = TrialData(
        X_train=X.iloc[split.train],
        y_train=y[split.train],
        X_valid=X.iloc[split.valid],
        y_valid=y[split.valid],
        X_test=X.iloc[split.test],
        y_test=y[split.test],
        problem_type=experiment.problem_type,
        metric=experiment.metric,
        classes=classes if experiment.problem_type != "regression" else None,
        split_hash=experiment.split_hash,
    )
    assert np.all(np.isin(data.y_valid, classes))
    return experiment.id, data
