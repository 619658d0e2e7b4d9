from __future__ import annotations

from collections.abc import Iterator

import pytest
from registry_helpers import Searched, settings_for
from search_support import optuna_search

from workbench.compare import build_ensemble, save_ensemble
from workbench.store import ExperimentSpec, Workspace, trial_data


@pytest.fixture(scope="session")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searched]:
    """A tiny real search on penguins (linear + lightgbm, 4 trials) and one saved stacking ensemble."""
    home = tmp_path_factory.mktemp("registry-home")
    ws = Workspace(settings_for(home))
    experiment = ws.create_experiment(ExperimentSpec("penguins"))
    rows = optuna_search(ws, experiment, ("linear", "lightgbm"), 4)
    candidates = {c.model_type: c.id for c in rows}
    assert {"linear", "lightgbm"} <= set(candidates), f"the search made {sorted(candidates)}"
    built = build_ensemble(ws, experiment, methods=("stacking",))
    saved = save_ensemble(ws, experiment, built)
    assert saved.id is not None
    yield Searched(home, ws, experiment, trial_data(ws, experiment), candidates, saved.id)
    ws.close()
