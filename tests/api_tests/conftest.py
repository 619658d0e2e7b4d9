from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench.api as wb

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def api_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh default workspace (WORKBENCH_HOME) for `workbench.api` calls made without `workspace=`,
    inherited by the job processes they start."""
    values = {
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
        "WORKBENCH_GPUS": "none",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    yield {**os.environ, **values}
    for job in wb.list_jobs(active=True):  # leave nothing running behind a failed test
        wb.cancel_job(job.id, grace_s=5)
