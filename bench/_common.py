"""Shared set-up for the benchmarks: a throwaway workspace and a bundled experiment's TrialData."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client, LocalCluster

from workbench.config import Settings
from workbench.store import Experiment, ExperimentSpec, TrialData, Workspace, trial_data

REPO = Path(__file__).resolve().parent.parent


def workspace() -> Workspace:
    home = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    return Workspace(Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets"))


@contextmanager
def local_client(n_workers: int, threads: int = 1, processes: bool = True) -> Iterator[Client]:
    """A loopback cluster whose workers advertise their threads as CPU, warmed up before timing starts."""
    extra = {} if processes else {"protocol": "tcp"}
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads,
            processes=processes,
            host="127.0.0.1",
            dashboard_address=None,
            resources={"CPU": threads},
            **extra,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: None)
        yield client


def experiment(ws: Workspace, dataset: str) -> tuple[Experiment, TrialData]:
    exp = ws.create_experiment(ExperimentSpec(dataset))
    return exp, trial_data(ws, exp)
