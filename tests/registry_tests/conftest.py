from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import Client, LocalCluster
from registry_helpers import Searched, settings_for

from workbench.compare import build_ensemble, save_ensemble
from workbench.search import OptunaEngine, SearchDriver, SearchOptions
from workbench.store import ExperimentSpec, Workspace, trial_data
from workbench.store import trials as records


@pytest.fixture(scope="session")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searched]:
    """A tiny real search on penguins (linear + lightgbm, 4 trials) and one saved stacking ensemble."""
    home = tmp_path_factory.mktemp("registry-home")
    ws = Workspace(settings_for(home))
    experiment = ws.create_experiment(ExperimentSpec("penguins"))
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        engine = OptunaEngine(
            f"sqlite:///{home / 'optuna.db'}",
            f"experiment-{experiment.id}",
            experiment.metric,
            experiment.problem_type,
            families=("linear", "lightgbm"),
        )
        SearchDriver(ws, experiment, [engine], client, SearchOptions(n_trials=4)).run()
        engine.close()
    rows = records.list_candidates(ws.store, experiment.id)
    candidates = {c.model_type: c.id for c in rows}
    assert {"linear", "lightgbm"} <= set(candidates), f"the search made {sorted(candidates)}"
    built = build_ensemble(ws, experiment, methods=("stacking",))
    saved = save_ensemble(ws, experiment, built)
    assert saved.id is not None
    yield Searched(home, ws, experiment, trial_data(ws, experiment), candidates, saved.id)
    ws.close()
