"""Scaling and per-trial overhead of the search driver.

1. CPU-bound trials (a single-threaded numeric loop of ~5 s) on 1 vs 2 process workers: trials per
   minute, ratio (goal >= 1.7x on 2 cores).
2. 32 thread workers running 1000 trials that only sleep: driver + scheduler overhead per trial, with
   no sampler involved (goal <= 5 ms per trial).
"""

from __future__ import annotations

import os
import sys
import time

import cloudpickle
import numpy as np
from _common import experiment, local_client, workspace
from distributed import Client

from workbench.search import FunctionEngine, SearchDriver, SearchOptions, TrialResult

cloudpickle.register_pickle_by_value(sys.modules[__name__])

BURN_S = float(os.environ.get("BENCH_BURN_S", "5"))
SLEEP_S = 0.05


def burn(spec, data, resources, reporter):  # type: ignore[no-untyped-def]
    """About BURN_S seconds of single-threaded CPU work."""
    end = time.process_time() + BURN_S
    x = np.random.default_rng(spec.number).random(200)
    while time.process_time() < end:
        x = np.sin(x) + 1.0
    return TrialResult(status="complete", values=(float(x.sum()),))


def nap(spec, data, resources, reporter):  # type: ignore[no-untyped-def]
    time.sleep(SLEEP_S)
    return TrialResult(status="complete", values=(0.0,))


def cpu_bound(n_workers: int, n_trials: int) -> float:
    ws = workspace()
    exp, data = experiment(ws, "penguins")
    with local_client(n_workers) as client:
        start = time.perf_counter()
        summary = SearchDriver(
            ws, exp, [FunctionEngine("burn", burn)], client, SearchOptions(n_trials=n_trials), data=data
        ).run()
        elapsed = time.perf_counter() - start
    assert summary.complete == n_trials
    return n_trials / elapsed * 60


def _raw_dask(client: Client, n_trials: int, in_flight: int) -> float:
    """The same submit / wait / gather loop in plain Dask, with nothing recorded: Dask's own share."""
    from distributed import wait

    def task(i: int) -> int:
        time.sleep(SLEEP_S)
        return i

    start = time.perf_counter()
    running: set = set()
    submitted = done = 0
    while done < n_trials:
        while len(running) < in_flight and submitted < n_trials:
            running.add(client.submit(task, submitted, pure=False))
            submitted += 1
        try:
            finished, _ = wait(list(running), timeout=0.2, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        client.gather(list(finished))
        running -= set(finished)
        done += len(finished)
    return time.perf_counter() - start


def sleep_overhead(n_workers: int = 32, n_trials: int = 1000) -> tuple[float, float, float, float]:
    ws = workspace()
    exp, data = experiment(ws, "penguins")
    with local_client(n_workers, processes=False) as client:
        driver = SearchDriver(
            ws, exp, [FunctionEngine("nap", nap)], client, SearchOptions(n_trials=n_trials), data=data
        )
        start = time.perf_counter()
        cpu_start = time.process_time()
        summary = driver.run()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        raw = _raw_dask(client, n_trials, n_workers + 1)
    assert summary.complete == n_trials
    ideal = np.ceil(n_trials / n_workers) * SLEEP_S
    return elapsed, ideal, cpu, raw


def main() -> None:
    if os.environ.get("BENCH_ONLY") == "overhead":
        _report_overhead()
        return
    n = max(4, int(os.environ.get("BENCH_TRIALS", "6")))
    one = cpu_bound(1, n)
    two = cpu_bound(2, 2 * n)
    print(f"CPU-bound trials of {BURN_S:g} s")
    print(f"  1 worker : {one:6.2f} trials/min")
    print(f"  2 workers: {two:6.2f} trials/min")
    print(f"  speed-up : {two / one:6.2f}x   (goal >= 1.7x)")
    _report_overhead()


def _report_overhead() -> None:
    elapsed, ideal, cpu, raw = sleep_overhead()
    per_trial = (elapsed - ideal) / 1000 * 1e3
    raw_per_task = (raw - ideal) / 1000 * 1e3
    print(f"1000 trials sleeping {SLEEP_S * 1e3:g} ms on 32 thread workers (scheduler and workers in this process)")
    print(f"  workbench driver: wall {elapsed:.2f} s vs {ideal:.2f} s if nothing cost anything")
    print(f"  overhead per trial: {per_trial:.2f} ms wall   (goal <= 5 ms)")
    print(f"  plain Dask, same loop, nothing recorded: {raw_per_task:.2f} ms per task")
    print(
        f"  the driver's own share: {per_trial - raw_per_task:.2f} ms per trial; ratio {per_trial / raw_per_task:.2f}x"
    )
    print(f"  process CPU (driver + scheduler + workers) per trial: {cpu / 1000 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
