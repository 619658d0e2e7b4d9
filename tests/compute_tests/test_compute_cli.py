"""`workbench cluster up` as a real subprocess: address on stdout, usable cluster, clean exit on signals."""

from __future__ import annotations

import json
import operator
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from typer.testing import CliRunner

from workbench.cli._cluster import cluster_app
from workbench.compute import cluster, cluster_resources

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """Lines of `stream` as they come, read on a thread so the test can wait with a deadline."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def up_command(tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str], Path]]:
    env = {**os.environ, "WORKBENCH_GPUS": "none", "PYTHONPATH": str(REPO)}
    yield [sys.executable, "-m", "workbench", "cluster", "up"], env, tmp_path


def _start_up(command: list[str], env: dict[str, str], log: Path, new_session: bool = False) -> subprocess.Popen[str]:
    with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
            cwd=log.parent,
            start_new_session=new_session,
        )


def _read_address(process: subprocess.Popen[str], log: Path, deadline_s: float = 60) -> str:
    assert process.stdout is not None
    try:
        line = _lines(process.stdout).get(timeout=deadline_s)
    except queue.Empty:
        raise AssertionError(f"no address within {deadline_s} s; stderr: {log.read_text()}") from None
    return line.strip()


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=15)
    if process.stdout is not None:
        process.stdout.close()


def test_cluster_up_prints_its_address_serves_tasks_and_stops_on_sigint(
    up_command: tuple[list[str], dict[str, str], Path],
) -> None:
    command, env, folder = up_command
    port = _free_port()
    scheduler_file = folder / "scheduler.json"
    log = folder / "up.log"
    process = _start_up(
        [*command, "--workers", "1", "--port", str(port), "--scheduler-file", str(scheduler_file)], env, log
    )
    try:
        address = _read_address(process, log)
        assert address == f"tcp://127.0.0.1:{port}"
        assert json.loads(scheduler_file.read_text())["address"] == address

        with cluster(address) as client:
            assert client.submit(operator.add, 20, 22).result(timeout=30) == 42
            summary = cluster_resources(client)
            assert (summary["workers"], summary["cpus"]) == (1, 1)

        result = CliRunner().invoke(cluster_app, ["info", str(scheduler_file), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["workers"] == 1
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not scheduler_file.exists()
        assert "Traceback" not in log.read_text()
    finally:
        _kill(process)


def test_cluster_up_stops_cleanly_when_the_whole_process_group_gets_sigint(
    up_command: tuple[list[str], dict[str, str], Path],
) -> None:
    """What Ctrl-C in a terminal does: every worker process gets SIGINT too, and must leave it to `up`."""
    command, env, folder = up_command
    log = folder / "up.log"
    process = _start_up([*command, "--workers", "1", "--port", "0"], env, log, new_session=True)
    try:
        address = _read_address(process, log)
        assert address.startswith("tcp://127.0.0.1:")
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        _kill(process)


def test_cluster_up_bad_input_exits_2_with_one_sentence() -> None:
    runner = CliRunner()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            ("up", "--workers", "0"): "number of workers must be",
            ("up", "--gpus", "maybe"): "--gpus must be 'auto' or 'none'",
            ("up", "--port", "70000"): "port must be between 0",
            ("up", "--gpus", "none", "--port", str(port)): f"Port {port} on 127.0.0.1 is already in use",
        }
        for args, message in cases.items():
            result = runner.invoke(cluster_app, list(args))
            assert result.exit_code == 2, (args, result.output)
            assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
