"""The time budget as a user meets it: `workbench search DATASET --time-limit S` through the CLI.

Each dataset runs in a subprocess with a fresh WORKBENCH_HOME, as a new user would run it. Printed per
dataset: the wall time of the whole command (interpreter start, cluster start, trials, finalizing, cluster
close), S, wall / S (goal: close to 1), the trials complete and cancelled, the share of worker-seconds spent
in trials that produced no candidate (from the summary; goal: at most 5%), and whether anything was written
to stderr (goal: nothing).

    .venv/bin/python bench/budget.py                     # S = 60 on penguins and flights
    .venv/bin/python bench/budget.py 30 penguins wine    # S = 30 on the datasets named
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATASETS = ("penguins", "flights")


def run(dataset: str, seconds: float, cluster: str) -> dict[str, object]:
    home = Path(tempfile.mkdtemp(prefix="wb-budget-"))
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(home),
        "WORKBENCH_DATA_ROOTS": str(home),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
    }
    command = [sys.executable, "-m", "workbench", "search", dataset, "--time-limit", f"{seconds:g}", "--json"]
    command += ["--cluster", cluster]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=seconds * 10 + 300)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{dataset}: exit {done.returncode}\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    trials = summary.get("trial_s", 0.0)
    return {
        "dataset": dataset,
        "wall_s": wall,
        "limit_s": seconds,
        "ratio": wall / seconds,
        "complete": summary["complete"],
        "cancelled": summary["cancelled"],
        "failed": summary["failed"],
        "trial_s": trials,
        "wasted_share": summary.get("wasted_share", float("nan")),
        "best": (summary.get("best") or {}).get("name"),
        "valid": (summary.get("best") or {}).get("valid_score"),
        "stderr_lines": len([line for line in done.stderr.splitlines() if line.strip()]),
        "stderr": done.stderr.strip()[-600:],
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    datasets = tuple(sys.argv[2:]) or DATASETS
    cluster = os.environ.get("WORKBENCH_CLUSTER", "auto")
    header = (
        f"{'dataset':<12} {'wall s':>7} {'S':>5} {'wall/S':>7} {'complete':>8} {'cancel':>6} {'failed':>6} "
        f"{'trial s':>8} {'wasted':>7} {'stderr':>6}  best"
    )
    print(f"workbench search DATASET --time-limit {seconds:g} --cluster {cluster}")
    print(header)
    for dataset in datasets:
        r = run(dataset, seconds, cluster)
        print(
            f"{r['dataset']:<12} {r['wall_s']:>7.1f} {r['limit_s']:>5g} {r['ratio']:>7.2f} {r['complete']:>8} "
            f"{r['cancelled']:>6} {r['failed']:>6} {r['trial_s']:>8.1f} {r['wasted_share']:>7.1%} "
            f"{r['stderr_lines']:>6}  {r['best']} ({r['valid']})",
            flush=True,
        )
        if r["stderr"]:
            print(f"  stderr: {r['stderr']}")


if __name__ == "__main__":
    main()
