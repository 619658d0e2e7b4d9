from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serve_support import FileSource, wait_ready

from workbench.config import Settings
from workbench.model import FittedModel, loads_model
from workbench.search import WorkerResources
from workbench.search.families import LocalReporter, fit_candidate
from workbench.serve import ServeSettings, create_app
from workbench.store import ExperimentSpec, Workspace, trial_data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A LightGBM model fitted on penguins, pickled to a file, and some held-out rows."""
    tmp = tmp_path_factory.mktemp("serve")
    settings = Settings(home=tmp / "home", data_roots=(tmp,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        data = trial_data(ws, ws.create_experiment(ExperimentSpec("penguins")))
    _, blob = fit_candidate("lightgbm", {}, data, WorkerResources(cpus=1), LocalReporter(), 0)
    path = tmp / "penguins.pkl"
    path.write_bytes(blob)
    return path, data.X_test.reset_index(drop=True)


@pytest.fixture(scope="session")
def model(fitted: tuple[Path, pd.DataFrame]) -> FittedModel:
    return loads_model(fitted[0].read_bytes())


@pytest.fixture(scope="session")
def rows(fitted: tuple[Path, pd.DataFrame]) -> pd.DataFrame:
    return fitted[1]


@pytest.fixture
def source(fitted: tuple[Path, pd.DataFrame]) -> FileSource:
    return FileSource(fitted[0])


@pytest.fixture
def client(source: FileSource) -> Iterator[TestClient]:
    with TestClient(base_url="http://127.0.0.1", app=create_app(source, ServeSettings(max_body_bytes=1_000_000))) as c:
        wait_ready(c)
        yield c
