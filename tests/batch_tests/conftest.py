from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_support import Scoring

import workbench.api as wb
from workbench.serve import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def scoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scoring]:
    root = tmp_path_factory.mktemp("batch")
    home, data = root / "home", root / "data"
    data.mkdir()
    env = {
        "WORKBENCH_HOME": str(home),
        "WORKBENCH_DATA_ROOTS": str(data),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
        "WORKBENCH_GPUS": "none",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    handle = wb.start_cluster(workers=2, threads_per_worker=1, gpus=False, port=free_port())
    try:
        address = handle.address
        experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=1))
        config = wb.search_config(engines=["optuna"], families=["lightgbm"], cluster=address)
        wb.run_search(experiment.id, config)
        version = wb.register_winner(experiment.id, "peng")
        wb.promote("peng", version.version, "production", check=False)
        yield Scoring(home, data, address, version.ref, experiment.id, {**os.environ, **env})
    finally:
        handle.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
