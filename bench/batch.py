"""Batch scoring on the cluster, measured (nothing here asserts; it prints ratios):

- rows/s of `workbench.api.predict_file` over a 1M-row CSV on one worker vs the same model's in-process
  batch predict (read the file, predict, write the predictions) pinned to one core (goal >= 0.8x);
- 2 workers vs 1 (goal >= 1.7x);
- peak memory of the driver and of each worker for a file 4x larger than one worker's memory limit.

Each speed is the best of `--repeats` runs (the first run on a cluster includes each worker loading the
model). The model: the penguins LightGBM an Optuna trial finds (seed 0), registered. Workers are processes with one
thread each (Dask sets OMP_NUM_THREADS=1 in them); the in-process baseline runs in a subprocess under
`taskset -c 0` with the same thread settings.

    .venv/bin/python bench/batch.py [--rows 1000000] [--memory-limit-mb 1000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

REPO = Path(__file__).resolve().parent.parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

_BASELINE = """
import sys, time
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.csv as pacsv
from pathlib import Path
from workbench.registry import RegistrySource

home, ref, source, target = sys.argv[1:5]
start = time.perf_counter()
loaded = RegistrySource(Path(home), ref).load()
frame = pd.read_csv(source)
proba = np.asarray(loaded.model.predict_proba(frame))
classes = list(loaded.classes)
out = pd.DataFrame({"prediction": np.asarray(classes, dtype=object)[proba.argmax(axis=1)]})
for j, name in enumerate(classes):
    out[f"proba_{name}"] = proba[:, j]
pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), target)
print(time.perf_counter() - start)
"""


def _environment() -> Path:
    base = Path(tempfile.mkdtemp(prefix="wb-bench-batch-"))
    os.environ.update(
        WORKBENCH_HOME=str(base / "home"),
        WORKBENCH_DATA_ROOTS=str(base),
        WORKBENCH_DATASETS_DIR=str(REPO / "datasets"),
        WORKBENCH_GPUS="none",
    )
    return base


def _model() -> str:
    import workbench.api as wb

    experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=1))
    config = wb.search_config(engines=("optuna",), families=("lightgbm",), cluster="local:1", seed=0)
    wb.start_search(experiment.id, config)
    wb.attach(experiment.id).wait(timeout=600)
    key = wb.leaderboard(experiment.id).rows[0].key
    return wb.register_model(key, "penguins-bench").ref


def _rows_file(path: Path, rows: int, pad_bytes: int = 0) -> Path:
    """`rows` penguin feature rows (sampled with their missing values); `pad_bytes` of text per row in a
    column the model ignores, to make a file large in bytes without more rows to predict."""
    frame = pd.read_csv(REPO / "datasets" / "penguins.csv").drop(columns=["species"])
    rng = np.random.default_rng(0)
    chunk = 100_000
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            part = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
            if pad_bytes:
                part["notes"] = "x" * pad_bytes
            part.to_csv(out, index=False, header=start == 0)
    return path


@contextmanager
def _peak_rss(pids: Callable[[], list[int]]) -> Iterator[dict[int, int]]:
    """The highest resident set size seen per process id, sampled every 50 ms while the block runs."""
    peaks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in pids():
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                peaks[pid] = max(peaks.get(pid, 0), rss)
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        done.set()
        thread.join()


@contextmanager
def _cluster(workers: int, memory_limit: str | None = None) -> Iterator[tuple[str, list[int]]]:
    """A loopback LocalCluster of one-thread worker processes: its address and the workers' pids."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            memory_limit=memory_limit,
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        yield cluster.scheduler_address, pids


def _score(ref: str, source: Path, target: Path, address: str) -> float:
    import workbench.api as wb

    result = wb.predict_file(ref, source, target, cluster=address)
    return result.rows_per_s


def _baseline(ref: str, source: Path, target: Path, rows: int) -> float:
    command = ["taskset", "-c", "0", sys.executable, "-c", _BASELINE, os.environ["WORKBENCH_HOME"], ref]
    done = subprocess.run(
        [*command, str(source), str(target)],
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        check=True,
    )
    return rows / float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit-mb", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each speed measure; the best is kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    base = _environment()
    ref = _model()
    source = _rows_file(base / "rows.csv", args.rows)
    size_mb = source.stat().st_size / 1e6
    print(f"model {ref}; {args.rows:,} rows, {size_mb:.0f} MB CSV")

    runs = [_baseline(ref, source, base / "baseline.csv", args.rows) for _ in range(args.repeats)]
    in_process = max(runs)
    print(f"in-process on one core: {', '.join(f'{r:,.0f}' for r in runs)} rows/s")
    speeds = {}
    for workers in (1, 2):
        with _cluster(workers) as (address, _):
            runs = [_score(ref, source, base / f"scored-{workers}.csv", address) for _ in range(args.repeats)]
        speeds[workers] = max(runs)
        print(
            f"predict_file, {workers} worker{'s' if workers > 1 else ''}: {', '.join(f'{r:,.0f}' for r in runs)} rows/s"
        )
    same = pd.read_csv(base / "baseline.csv").equals(pd.read_csv(base / "scored-1.csv"))

    limit = args.memory_limit_mb * 1_000_000
    pad = 4096
    big_rows = 4 * limit // (pad + 40)
    big = _rows_file(base / "big.csv", big_rows, pad_bytes=pad)
    big_mb = big.stat().st_size / 1e6
    driver = os.getpid()
    with _cluster(2, memory_limit=f"{args.memory_limit_mb}MB") as (address, worker_pids):
        driver_before = psutil.Process(driver).memory_info().rss
        with _peak_rss(lambda: [driver, *worker_pids]) as peaks:
            big_speed = _score(ref, big, base / "big-scored.parquet", address)
    worker_peaks = [peaks.get(pid, 0) / 1e6 for pid in worker_pids]

    print()
    print(f"{'measure':<52}{'value':>14}{'goal':>12}")
    print(f"{'1 worker / in-process on one core':<52}{speeds[1] / in_process:>13.2f}x{'>= 0.80x':>12}")
    print(f"{'2 workers / 1 worker':<52}{speeds[2] / speeds[1]:>13.2f}x{'>= 1.70x':>12}")
    print(f"{'1-worker output equals the in-process output':<52}{same!s:>14}")
    print(f"{'big file / one worker memory limit':<52}{big_mb / args.memory_limit_mb:>13.1f}x{'>= 4x':>12}")
    print(f"{'  big file: rows, MB, rows/s (2 workers)':<52}{f'{big_rows:,}, {big_mb:.0f}, {big_speed:,.0f}':>14}")
    print(f"{'  driver peak RSS, MB (before: ' + f'{driver_before / 1e6:.0f})':<52}{peaks[driver] / 1e6:>14.0f}")
    for i, peak in enumerate(worker_peaks):
        print(f"{f'  worker {i + 1} peak RSS, MB (limit {args.memory_limit_mb})':<52}{peak:>14.0f}")
    if args.json:
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "in_process_rows_per_s": in_process,
                    "rows_per_s": speeds,
                    "same_output": same,
                    "big_file_mb": big_mb,
                    "memory_limit_mb": args.memory_limit_mb,
                    "driver_peak_mb": peaks[driver] / 1e6,
                    "worker_peak_mb": worker_peaks,
                }
            )
        )


if __name__ == "__main__":
    main()
