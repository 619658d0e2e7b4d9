from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.store import Workspace

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `long` first, longest first, then the rest by their number of tests.

    `make test` runs with --dist=loadfile --no-loadscope-reorder: xdist hands whole files to its workers in
    this order. Its own order (most tests first) left the two browser files, one test of minutes each, to
    the end, when the other worker had nothing left to do.
    """
    seconds: dict[str, float] = {}
    tests: dict[str, int] = {}
    for item in items:
        file = item.nodeid.split("::")[0]
        tests[file] = tests.get(file, 0) + 1
        mark = item.get_closest_marker("long")
        if mark is not None:
            seconds[file] = max(seconds.get(file, 0.0), float(mark.kwargs["seconds"]))
    items.sort(key=lambda item: (-seconds.get(f := item.nodeid.split("::")[0], 0.0), -tests[f], f))


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
