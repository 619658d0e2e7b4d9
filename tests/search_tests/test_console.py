"""A foreground `workbench search` as a user runs it: its terminal shows the search, not Dask's logs."""

from __future__ import annotations

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


def test_a_foreground_search_prints_no_dask_lines(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "search", "penguins", "--time-limit", "30", "--cluster", "local:2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Leaderboard" in done.stdout and "complete" in done.stdout
    noise = [line for line in done.stderr.splitlines() if NOISE.search(line)]
    assert noise == [], "\n".join(noise)
