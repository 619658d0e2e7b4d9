from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.store import Workspace

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", data_roots=(data_dir,), datasets_dir=REPO / "datasets")


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    with Workspace(settings) as ws:
        yield ws


@pytest.fixture
def cli_env(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at a fresh workspace and data folder; returns the workspace home."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(data_dir))
    monkeypatch.setenv("WORKBENCH_DATASETS_DIR", str(REPO / "datasets"))
    monkeypatch.delenv("WORKBENCH_MAX_FILE_BYTES", raising=False)
    monkeypatch.chdir(data_dir)
    return home
