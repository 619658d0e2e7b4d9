"""A real Optuna search run in this process (one in-process Dask worker), for tests that need candidates."""

from __future__ import annotations

from collections.abc import Sequence

from distributed import Client, LocalCluster

from workbench.search import OptunaEngine, SearchDriver, SearchOptions
from workbench.store import Experiment, Workspace
from workbench.store import trials as records


def optuna_search(
    ws: Workspace, experiment: Experiment, families: Sequence[str], n_trials: int
) -> list[records.CandidateRow]:
    """Search `experiment` with the Optuna engine on `families`; returns its candidates."""
    home = ws.settings.home
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        engine = OptunaEngine(
            f"sqlite:///{home / 'optuna.db'}",
            f"experiment-{experiment.id}",
            experiment.metric,
            experiment.problem_type,
            families=tuple(families),
        )
        SearchDriver(ws, experiment, [engine], client, SearchOptions(n_trials=n_trials)).run()
        engine.close()
    return records.list_candidates(ws.store, experiment.id)
