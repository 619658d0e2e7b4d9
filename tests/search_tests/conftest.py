from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster

from workbench.config import Settings
from workbench.store import ExperimentSpec, TrialData, Workspace, trial_data

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
    data = trial_data(workspace, experiment)
    if data.classes is not None:
        assert np.all(np.isin(data.y_valid, data.classes))
    return experiment.id, data


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two process workers of one thread on 127.0.0.1, advertising one CPU each; a task may fail once."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            resources={"CPU": 1},
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c
