"""Notebooks as batch jobs through `workbench run`: parameters checked first, cells streamed, values
recorded, a failing cell named with its partial output kept, and a cancel that stops the notebook's search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import workbench.api as wb

pytestmark = pytest.mark.long(seconds=100)

WORKBENCH = [sys.executable, "-m", "workbench"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
        "WORKBENCH_GPUS": "none",
    }
    return {k: v for k, v in os.environ.items() if k != "WORKBENCH_JOB_ID"} | values


def _notebook(path: Path, parameters: str, *cells: str) -> Path:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# A batch job"),
            new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            *(new_code_cell(c) for c in cells),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(notebook, str(path))
    return path


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WORKBENCH, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _jobs(env: dict[str, str]) -> list[dict]:
    done = _cli(env, "jobs", "list", "--json")
    assert done.returncode == 0, done.stderr
    jobs: list[dict] = json.loads(done.stdout)
    return jobs


def test_parameters_are_typed_values_recorded_and_an_unknown_name_refused_first(tmp_path: Path, env: dict) -> None:
    notebook = _notebook(
        tmp_path / "params.ipynb",
        "rows = 3  # how many\nlabel = 'x'\nscale = 0.5\nverbose = False",
        "import workbench.api as wb\nprint('rows', rows * 2, label, scale, verbose)\n"
        "wb.record('doubled', rows * 2)\nwb.record('label', label)",
    )
    refused = _cli(env, "run", str(notebook), "-p", "rows", "4", "-p", "colour", "red")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "has no parameter 'colour'; its parameters are: rows, label, scale, verbose" in refused.stderr
    wrong = _cli(env, "run", str(notebook), "-p", "rows", "many")
    assert wrong.returncode == 2 and "'rows' takes a whole number, not 'many'" in wrong.stderr
    assert _jobs(env) == []  # nothing ran, nothing was recorded
    done = _cli(env, "run", str(notebook), "-p", "rows", "21", "-p", "label", "7", "-p", "verbose", "true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rows 42 7 0.5 True" in done.stdout  # the cell's output streamed; "7" stays text
    assert "cell 4/4: import workbench.api as wb" in done.stdout
    (job,) = _jobs(env)
    assert job["kind"] == "notebook" and job["status"] == "finished"
    assert job["params"]["parameters"] == {"rows": 21, "label": "7", "verbose": True}
    assert job["outputs"]["values"] == {"doubled": 42, "label": "7"}
    assert job["outputs"]["cell"] == job["outputs"]["cells"] == 4
    executed = nbformat.read(job["outputs"]["notebook"], as_version=4)
    assert "rows 42 7 0.5 True" in executed.cells[-1].outputs[0]["text"]


def test_a_failing_cell_exits_non_zero_naming_it_and_keeps_the_partial_output(tmp_path: Path, env: dict) -> None:
    notebook = _notebook(
        tmp_path / "fails.ipynb",
        "threshold = 1",
        "print('before the failure')",
        "total = sum(range(4))\nif total > threshold:\n    raise ValueError(f'total {total} over {threshold}')",
        "print('never reached')",
    )
    out = tmp_path / "partial.ipynb"
    done = _cli(env, "run", str(notebook), "--output", str(out))
    assert done.returncode == 1
    assert "cell 4 (In [3]) of fails.ipynb failed: ValueError: total 6 over 1" in done.stdout
    assert "the cell starts 'total = sum(range(4))'" in done.stdout.replace("\n", " ")
    assert "never reached" not in done.stdout
    (job,) = _jobs(env)
    assert job["status"] == "failed" and "ValueError: total 6 over 1" in job["error"]
    assert job["outputs"]["failed_cell"]["index"] == 4 and job["outputs"]["notebook"] == str(out)
    partial = nbformat.read(str(out), as_version=4)
    texts = [o.get("text", "") for c in partial.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("before the failure" in t for t in texts)
    assert any(o.get("ename") == "ValueError" for c in partial.cells for o in c.get("outputs", []))


def test_cancelling_a_notebook_job_cancels_its_search(tmp_path: Path, env: dict) -> None:
    notebook = _notebook(
        tmp_path / "long.ipynb",
        "n_trials = 500",
        "import workbench.api as wb\n"
        "experiment = wb.create_experiment('penguins', budget=wb.Budget(n_trials=n_trials))\n"
        "wb.start_search(experiment.id, wb.search_config(engines=['optuna'], families=['linear']))\n"
        "wb.record('experiment', experiment.id)",
        "wb.follow_search(experiment.id)",
        "print('after the search')",
    )
    home = env["WORKBENCH_HOME"]
    started = _cli(env, "run", str(notebook), "--background", "--cluster", "local:1")
    assert started.returncode == 0, started.stderr
    job_id = int(started.stdout.split()[-1])
    deadline = time.monotonic() + 180
    search: dict | None = None
    while time.monotonic() < deadline:  # until the notebook's search has finished a trial
        jobs = {j["id"]: j for j in _jobs(env)}
        search = next((j for j in jobs.values() if j["parent_id"] == job_id), None)
        if search is not None and wb.search_progress(search["experiment_id"], workspace=home).done >= 1:
            break
        time.sleep(1)
    assert search is not None and search["kind"] == "search" and search["status"] == "running"
    began = time.monotonic()
    cancelled = _cli(env, "jobs", "cancel", str(job_id))
    assert cancelled.returncode == 0 and f"Job {job_id} cancelled" in cancelled.stdout
    assert time.monotonic() - began < 60
    jobs = {j["id"]: j for j in _jobs(env)}
    assert jobs[job_id]["status"] == "cancelled" and jobs[search["id"]]["status"] == "cancelled"
    experiment = json.loads(_cli(env, "experiments", "show", str(search["experiment_id"]), "--json").stdout)
    assert experiment["status"] == "stopped"
    log = _cli(env, "jobs", "log", str(job_id)).stdout
    assert "cancel requested" in log and "after the search" not in log
