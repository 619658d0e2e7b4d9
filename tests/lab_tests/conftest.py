"""A real Jupyter server (pytest-jupyter) with the Workbench server extension, over a workspace that holds
a finished search, a registered and promoted model and a running endpoint (made once per module)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest-jupyter's fixtures and hooks for this folder only (as `pytest_plugins` they would reach every test:
# its autouse event loop and server clean-up included).
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403

import workbench.api as wb

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def populated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("lab") / "home"
    saved = {k: os.environ.get(k) for k in ("WORKBENCH_HOME", "WORKBENCH_DATASETS_DIR", "WORKBENCH_GPUS")}
    os.environ.update(
        {"WORKBENCH_HOME": str(home), "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"), "WORKBENCH_GPUS": "none"}
    )
    try:
        experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=3))
        config = wb.search_config(engines=["optuna"], families=["linear"], cluster="local:1")
        wb.start_search(experiment.id, config).wait(timeout=300)
        wb.register_winner(experiment.id)
        yield home
    finally:
        for job in wb.list_jobs(active=True, workspace=home):
            wb.cancel_job(job.id, grace_s=5, workspace=home)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def jp_server_config(populated_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("WORKBENCH_HOME", str(populated_home))
    return {
        "ServerApp": {
            "jpserver_extensions": {"workbench.lab": True},
            "allow_unauthenticated_access": False,
        }
    }
