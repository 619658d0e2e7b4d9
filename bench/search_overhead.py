"""Orchestration overhead: one AutoGluon trial run in-process vs through the workbench on one worker.

Both sides run the same trial function with the same configuration on the same rows, so the ratio
measures what the driver adds: Dask submission and transfer, the store's rows and artifacts, events.
A bare TabularPredictor.fit of the same configuration is printed for scale.
"""

from __future__ import annotations

import sys
import time
import warnings

from _common import experiment, local_client, workspace

from workbench.search import AutoGluonEngine, SearchDriver, SearchOptions, TrialSpec, WorkerResources
from workbench.search.engines import autogluon_configs, run_autogluon_trial
from workbench.search.families import LocalReporter

DATASET = sys.argv[1] if len(sys.argv) > 1 else "breast_cancer"


def main() -> None:
    ws = workspace()
    exp, data = experiment(ws, DATASET)
    config = dict(autogluon_configs(1, 0, None)[0])
    spec = TrialSpec(exp.id, "autogluon", 0, config, seed=0)

    # Through the workbench: a 1-worker process cluster, the driver records everything.
    with local_client(1, threads=2) as client:
        engine = AutoGluonEngine(seed=0)
        start = time.perf_counter()
        SearchDriver(ws, exp, [engine], client, SearchOptions(n_trials=1), data=data).run()
        through = time.perf_counter() - start

    # In-process: the same trial function on the same resources, nothing recorded.
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_autogluon_trial(spec, data, WorkerResources(cpus=2), LocalReporter())
    direct = time.perf_counter() - start

    print(f"dataset {DATASET}: {len(result.candidates)} candidates per trial")
    print(f"in-process trial      {direct:8.2f} s")
    print(f"through the workbench {through:8.2f} s")
    print(f"ratio                 {through / direct:8.3f}   (goal <= 1.05)")


if __name__ == "__main__":
    main()
