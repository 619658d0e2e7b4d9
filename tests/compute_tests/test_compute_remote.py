"""Connecting to a cluster started by hand: `dask scheduler` and `dask worker` as real subprocesses."""

from __future__ import annotations

import json
import operator
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli._cluster import cluster_app
from workbench.compute import cluster, cluster_resources, open_cluster
from workbench.errors import InvalidInputError

pytestmark = pytest.mark.slow

DASK = [sys.executable, "-m", "dask"]
SCHEDULER_ARGS = ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0"]
WORKER_ARGS = ["--host", "127.0.0.1", "--nthreads", "1", "--resources", "CPU=1", "--no-nanny", "--no-dashboard"]
WORKER_ARGS += ["--name", "by-hand"]


@dataclass(frozen=True)
class HandStartedCluster:
    address: str
    scheduler_file: Path
    processes: tuple[subprocess.Popen[bytes], ...]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], deadline_s: float) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "dask scheduler exited early"
        if path.exists():
            try:
                return dict(json.loads(path.read_text()))
            except json.JSONDecodeError:
                pass  # caught mid-write
        time.sleep(0.1)
    raise AssertionError(f"{path} did not appear within {deadline_s} s")


@pytest.fixture(scope="module")
def hand_started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandStartedCluster]:
    """A scheduler and one worker, as a user would start them on two machines (both on 127.0.0.1 here)."""
    folder = tmp_path_factory.mktemp("hand_started")
    scheduler_file = folder / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []
    log = (folder / "dask.log").open("wb")
    try:
        processes.append(
            subprocess.Popen(
                [*DASK, "scheduler", *SCHEDULER_ARGS, "--scheduler-file", str(scheduler_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        address = str(_wait_for_file(scheduler_file, processes[0], 60)["address"])
        processes.append(
            subprocess.Popen(
                [*DASK, "worker", address, *WORKER_ARGS],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        with cluster(address) as client:
            client.wait_for_workers(1, timeout=60)
        yield HandStartedCluster(address, scheduler_file, tuple(processes))
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _still_running(hand_started: HandStartedCluster) -> bool:
    return all(p.poll() is None for p in hand_started.processes)


def test_connect_by_address_runs_tasks_and_leaves_the_cluster_running(hand_started: HandStartedCluster) -> None:
    with cluster(hand_started.address) as client:
        summary = cluster_resources(client)
        assert summary["address"] == hand_started.address
        assert (summary["workers"], summary["cpu_threads"], summary["cpus"], summary["gpus"]) == (1, 1, 1, 0)
        (worker,) = summary["per_worker"].values()
        assert (worker["name"], worker["resources"]) == ("by-hand", {"CPU": 1})
        assert client.submit(operator.add, 1, 2).result(timeout=30) == 3
        assert client.cluster is None  # nothing was started
    assert client.status == "closed"
    assert _still_running(hand_started)


def test_connect_by_scheduler_file(hand_started: HandStartedCluster) -> None:
    with open_cluster(str(hand_started.scheduler_file)) as handle:
        assert handle.kind == "remote"
        assert handle.started is None
        assert handle.plan.scheduler_file == str(hand_started.scheduler_file)
        assert handle.address == hand_started.address
        assert handle.client.submit(operator.mul, 6, 7).result(timeout=30) == 42
    assert _still_running(hand_started)
    # ... and again: closing the first client closed nothing else.
    with cluster(str(hand_started.scheduler_file)) as client:
        assert client.submit(operator.add, 2, 2).result(timeout=30) == 4


def test_cluster_info_command(hand_started: HandStartedCluster) -> None:
    runner = CliRunner()
    result = runner.invoke(cluster_app, ["info", str(hand_started.scheduler_file), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert sorted(summary) == ["address", "cpu_threads", "cpus", "gpus", "per_worker", "workers"]
    assert (summary["address"], summary["workers"], summary["cpus"]) == (hand_started.address, 1, 1)

    result = runner.invoke(cluster_app, ["info", hand_started.address])
    assert result.exit_code == 0, result.output
    assert "by-hand" in result.stdout and "CPU=1" in result.stdout


def test_unreachable_address_fails_quickly_with_one_sentence() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with (
        pytest.raises(InvalidInputError, match=f"No Dask scheduler answered at {address} within 1 s"),
        cluster(address, connect_timeout=1),
    ):
        pass


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (in the backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(InvalidInputError, match="within 1 s"):
            open_cluster(address, connect_timeout=1)


def test_cluster_info_bad_input_exits_2() -> None:
    runner = CliRunner()
    for args in (
        ["info", "local:2"],
        ["info", "nonsense"],
        ["info", f"tcp://127.0.0.1:{_free_port()}", "--timeout", "1"],
    ):
        result = runner.invoke(cluster_app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
