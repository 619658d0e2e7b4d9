"""`workbench search` end to end, with real clusters and real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=150)]
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "home"
    values = {
        "WORKBENCH_HOME": str(home),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, **values}


def _db(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["WORKBENCH_HOME"]) / "workbench.db")


def _trial_states(env: dict[str, str], experiment_id: int) -> list[tuple[str, int, str]]:
    with _db(env) as conn:
        return conn.execute(
            "SELECT engine, number, state FROM trials WHERE experiment_id = ? ORDER BY engine, number", (experiment_id,)
        ).fetchall()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workbench(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_both_engines_land_in_one_leaderboard(env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        [
            "search",
            "penguins",
            "--engines",
            "autogluon,optuna",
            "--trials",
            "3",
            "--time-limit",
            "60",  # beside other tests' clusters, AutoGluon's first models can take 20 s of a 40 s search
            "--cv-folds",
            "1",  # one valid split: AutoGluon's models unbagged, a quick trial
            "--cluster",
            "local:2",
            "--families",
            "linear,lightgbm",
            "--finalize",
            "none",  # nothing refitted yet: registering below finalizes
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "finished" and summary["complete"] == 3 and summary["finalized"] is None
    board = json.loads(runner.invoke(app, ["leaderboard", str(summary["experiment_id"]), "--json"]).stdout)
    engines = {row["engine"] for row in board}
    assert engines == {"autogluon", "optuna"}
    assert any("WeightedEnsemble" in row["name"] for row in board)
    valid = [row["valid_score"] for row in board]
    assert valid == sorted(valid, reverse=True)  # accuracy: best first
    for row in board:
        assert row["predict_row_ms"] > 0 and row["size_bytes"] > 0 and row["artifact_key"]
    ray = subprocess.run(["pgrep", "-f", "ray::|raylet|gcs_server"], capture_output=True, text=True)
    assert ray.stdout == "", "no Ray process is left behind"
    shown = runner.invoke(app, ["leaderboard", str(summary["experiment_id"])])
    assert shown.exit_code == 0 and "Leaderboard" in shown.stdout
    # Finalizing AutoGluon's weighted ensemble refits the models it is built on with it, once: they get
    # their finals from its artifact.
    ensemble = next(row for row in board if row["name"].startswith("autogluon-") and "WeightedEnsemble" in row["name"])
    registered = runner.invoke(app, ["models", "register", "pens-ag", "--candidate", str(ensemble["id"]), "--json"])
    assert registered.exit_code == 0, registered.stderr
    with _db(env) as conn:
        finals = conn.execute(
            "SELECT c.name, f.artifact_key, f.model_in_artifact FROM finals f JOIN candidates c ON c.id = f.candidate_id"
            " WHERE f.mode = 'all' AND c.engine = 'autogluon'"
        ).fetchall()
    artifact = next(key for name, key, _ in finals if name == ensemble["name"])
    shared = [(name, model) for name, key, model in finals if key == artifact and name != ensemble["name"]]
    assert shared and all(model.endswith("_FULL") for _, model in shared), finals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "nope", "--trials", "2"], "no dataset"),
        (["search", "penguins", "--engines", "sklearn", "--trials", "2"], "Unknown engine"),
        (["search", "penguins", "--trials", "0"], "at least 1"),
        (["search", "penguins", "--time-limit", "-5"], "more than 0 seconds"),
        (["search", "penguins"], "Give a budget"),
        (["search", "penguins", "--trials", "2", "--cluster", "tcp://127.0.0.1:1"], "127.0.0.1:1"),
        (["search", "penguins", "--trials", "2", "--cluster", "banana"], "banana"),
        (["search", "--resume", "42"], "no experiment 42"),
        (["leaderboard", "42"], "no experiment 42"),
    ],
)
def test_bad_search_input(env: dict[str, str], args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    home = Path(env["WORKBENCH_HOME"])
    if (home / "workbench.db").exists():
        with _db(env) as conn:
            assert conn.execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 0


def test_kill_the_driver_then_run_the_same_command_again(env: dict[str, str]) -> None:
    command = [
        sys.executable,
        "-m",
        "workbench",
        "search",
        "penguins",
        "--engines",
        "optuna",
        "--families",
        "linear",
        "--trials",
        "8",
        "--cluster",
        "local:2",
        "--json",
    ]
    driver = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with _db(env) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 2:
                break
            time.sleep(0.2)
        assert driver.poll() is None, "the driver was still running when killed"
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the workers it started
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    with _db(env) as conn:
        running = conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'RUNNING'").fetchone()[0]
        queued = conn.execute("SELECT id, number FROM trials WHERE state = 'QUEUED'").fetchall()
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["experiment_id"] == 1 and summary["status"] == "finished"
    states = _trial_states(env, 1)
    complete = [n for engine, n, s in states if s == "COMPLETE"]
    assert len(complete) == 8 and len(set(complete)) == 8
    assert not [s for _, _, s in states if s in ("RUNNING", "QUEUED")]
    # Running trials were closed as FAILED and their parameters run again; queued ones (never started) kept
    # their row and number and ran.
    assert len([s for _, _, s in states if s == "FAILED"]) == running
    with _db(env) as conn:
        for trial_id, number in queued:
            row = conn.execute("SELECT number, state FROM trials WHERE id = ?", (trial_id,)).fetchone()
            assert tuple(row) == (number, "COMPLETE")
    with _db(env) as conn:
        assert conn.execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 1


@pytest.fixture
def dask_cluster(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A scheduler and two workers started as separate `dask` processes on 127.0.0.1."""
    port = _free_port()
    scheduler_file = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        address = f"tcp://127.0.0.1:{port}"
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--resources",
                        "CPU=1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, scheduler_file
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_search_on_separate_scheduler_and_worker_processes(env: dict[str, str], dask_cluster: tuple[str, Path]) -> None:
    address, scheduler_file = dask_cluster
    done = _workbench(
        "search",
        "penguins",
        "--engines",
        "optuna",
        "--families",
        "linear,forest",
        "--trials",
        "4",
        "--cluster",
        address,
        "--json",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["complete"] == 4
    with _db(env) as conn:
        workers = {w for (w,) in conn.execute("SELECT DISTINCT worker FROM trials")}
    assert len(workers) == 2  # both worker processes ran trials
    by_file = _workbench(
        "search",
        "penguins",
        "--engines",
        "optuna",
        "--families",
        "linear",
        "--trials",
        "2",
        "--cluster",
        str(scheduler_file),
        "--json",
        env=env,
    )
    assert by_file.returncode == 0, by_file.stderr


def test_reattach_after_a_kernel_restart(env: dict[str, str], dask_cluster: tuple[str, Path]) -> None:
    """A "notebook" process starts a search on a remote cluster and dies; a new one attaches to it."""
    address, _ = dask_cluster
    notebook = (
        "import workbench.api as wb\n"
        "exp = wb.create_experiment('penguins', budget=wb.Budget(n_trials=6))\n"
        f"h = wb.start_search(exp.id, wb.search_config(engines=('optuna',), families=('linear',), cluster={address!r}))\n"
        "print(h.experiment_id, flush=True)\n"
    )
    first = subprocess.run([sys.executable, "-c", notebook], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    experiment_id = int(first.stdout.strip())
    restarted = (
        "import json\n"
        "import workbench.api as wb\n"
        f"h = wb.attach({experiment_id})\n"
        "status = h.wait(timeout=240)\n"
        "board = [r.to_dict() for r in h.leaderboard().rows]\n"
        "print(json.dumps({'status': status, 'board': board, 'events': [e.kind for e in h.events()]}))\n"
    )
    second = subprocess.run([sys.executable, "-c", restarted], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    seen = json.loads(second.stdout)
    assert seen["status"] == "finished" and len(seen["board"]) == 6
    assert seen["events"][0] == "search_started" and seen["events"][-1] == "search_finished"
    with _db(env) as conn:
        assert conn.execute("SELECT status FROM jobs").fetchone()[0] == "finished"
