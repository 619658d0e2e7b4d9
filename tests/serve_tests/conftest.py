from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serve_support import FileSource, fit_pickled, wait_ready

from workbench.model import FittedModel, loads_model
from workbench.serve import ServeSettings, create_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A LightGBM model fitted on penguins, pickled to a file, and some held-out rows."""
    return fit_pickled(tmp_path_factory.mktemp("serve"), "penguins")


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
