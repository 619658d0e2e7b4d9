from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench.api as wb

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def widget_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh default workspace for the widgets (and the jobs and notebooks they start)."""
    values = {
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
        "WORKBENCH_GPUS": "none",
        "WORKBENCH_HEADLESS": "1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    yield {**os.environ, **values}
    for job in wb.list_jobs(active=True):
        wb.cancel_job(job.id, grace_s=5)
