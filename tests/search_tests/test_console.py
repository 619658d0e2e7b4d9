"""A foreground `workbench search` as a user runs it: its terminal shows the search, not Dask's logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

# What Dask and multiprocessing print when trials are cancelled or workers killed at shutdown.
NOISE = re.compile(
    r"distributed\.|Async instruction|still alive after|leaked semaphore|resource_tracker|Traceback", re.IGNORECASE
)


def _search(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
    }
    return subprocess.run(
        [sys.executable, "-m", "workbench", "search", "penguins", "--cluster", "local:2", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_foreground_search_prints_no_dask_lines(tmp_path: Path) -> None:
    # 45 s: beside other tests' clusters, 30 s left AutoGluon's trial 3 s to fit in (its cluster started late
    # and the finalize keeps its share), and no model
    done = _search(tmp_path, "--time-limit", "45")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Leaderboard" in done.stdout and "complete" in done.stdout
    # what followed the trials: the ensemble (kept or why not), then the winner's finalize
    assert re.search(r"^(Ensemble ensemble-\S+ \(e\d+\): Kept|No ensemble kept: )", done.stdout, re.MULTILINE)
    words = " ".join(done.stdout.split())  # the console wraps long lines at its width
    assert re.search(
        r"Winner \S+ finalized on 344 rows \(all(, \d seeds averaged)?(, bagged over \d folds)?\)", words
    ), done.stdout
    noise = [line for line in done.stderr.splitlines() if NOISE.search(line)]
    assert noise == [], "\n".join(noise)


def test_no_ensemble_skips_the_step(tmp_path: Path) -> None:
    done = _search(tmp_path, "--trials", "3", "--engines", "optuna", "--families", "linear", "--no-ensemble", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["ensemble"] is None and summary["complete"] == 3
    assert summary["finalized"]["finalized"] and summary["finalized"]["key"].startswith("c")
