"""`workbench cluster up` and `workbench cluster info`."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console

import workbench.api as wb
from workbench.cli._table import Column, print_table
from workbench.cli._util import error_console, user_errors
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.api import ClusterHandle

__all__ = ["cluster_app"]

DEFAULT_PORT = 8786

cluster_app = typer.Typer(help="Start a local Dask cluster, or describe a running one.", no_args_is_help=True)


def _stderr() -> Console:
    return error_console()


@contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs; the previous handlers come back after."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _write_scheduler_file(path: Path, handle: ClusterHandle) -> None:
    """The JSON `dask scheduler --scheduler-file` writes, as far as clients read it; replaced atomically."""
    info = handle.client.scheduler_info(n_workers=0)
    content = {
        "type": "Scheduler",
        "id": info.get("id"),
        "address": handle.address,
        "services": info.get("services", {}),
    }
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        with suppress(OSError):
            partial.unlink()
        raise InvalidInputError(f"Cannot write the scheduler file {path}: {exc.strerror or exc}.") from None


def _remove_scheduler_file(path: Path, address: str) -> None:
    """Remove the file on the way out, unless something else has replaced it since."""
    with suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("address") == address:
            path.unlink()


@cluster_app.command("up")
@user_errors
def cluster_up(
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes (default: one per GPU, else one per core / threads per worker)."
    ),
    threads_per_worker: int | None = typer.Option(
        None, "--threads-per-worker", help="Threads per worker (default: 1; on GPUs, the GPU's share of the cores)."
    ),
    gpus: str = typer.Option("auto", "--gpus", help="auto: one worker per GPU found through NVML; none: CPUs only."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Scheduler port on 127.0.0.1 (0: any free port)."),
    scheduler_file: Path | None = typer.Option(
        None, "--scheduler-file", help="Also write the scheduler's address to this JSON file (removed on exit)."
    ),
    allowed_failures: int | None = typer.Option(
        None, "--allowed-failures", help="Worker deaths a task may cause before it fails [2]."
    ),
) -> None:
    """Start a scheduler on 127.0.0.1 and workers, print its address, and run until Ctrl-C or SIGTERM."""
    choice = gpus.strip().lower()
    if choice not in ("auto", "none"):
        raise InvalidInputError(f"--gpus must be 'auto' or 'none', not {gpus!r}.")
    err = _stderr()
    # Handlers first: a signal during start-up then stops the cluster as soon as it is up.
    with (
        _stop_requested() as stop,
        wb.start_cluster(
            workers=workers,
            threads_per_worker=threads_per_worker,
            gpus=choice == "auto",
            port=port,
            allowed_failures=allowed_failures,
        ) as handle,
    ):
        address = handle.address
        if scheduler_file is not None:
            _write_scheduler_file(scheduler_file, handle)
        try:
            dashboard = handle.dashboard_link
            err.print(f"Started {handle.plan.describe()}.", highlight=False)
            if dashboard:
                err.print(f"Dashboard: {dashboard}", highlight=False)
            if scheduler_file is not None:
                err.print(f"Scheduler file: {scheduler_file}", highlight=False)
            err.print("Press Ctrl-C to stop.", highlight=False)
            sys.stdout.write(address + "\n")
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
            err.print("Stopping the cluster.", highlight=False)
        finally:
            if scheduler_file is not None:
                _remove_scheduler_file(scheduler_file, address)


@cluster_app.command("info")
@user_errors
def cluster_info(
    address: str = typer.Argument(..., help="tcp://HOST:PORT, or a scheduler file."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the scheduler."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON with stable keys."),
) -> None:
    """Describe a running cluster: workers, threads, CPUs and GPUs."""
    info = wb.cluster_info(address, connect_timeout_s=timeout, running_only=True)
    if as_json:
        summary = {
            "address": info.address,
            "workers": info.workers,
            "cpu_threads": info.threads,
            "cpus": info.cpus,
            "gpus": info.gpus,
            "per_worker": info.per_worker,
        }
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return
    console = Console(markup=False)
    console.print(
        f"Scheduler {info.address}: {info.workers} workers, {info.threads} threads, CPU={info.cpus}, GPU={info.gpus}",
        highlight=False,
    )
    columns = [
        Column("address", fold_to=24),
        Column("name", fold_to=16),
        Column("threads", right=True),
        Column("resources", fold_to=16),
        Column("memory", right=True),
    ]
    rows = [
        (
            worker_address,
            str(worker["name"]),
            str(worker["nthreads"]),
            ", ".join(f"{k}={v:g}" for k, v in sorted(worker["resources"].items())),
            f"{worker['memory_limit'] / 2**30:.1f} GiB" if worker["memory_limit"] else "",
        )
        for worker_address, worker in info.per_worker.items()
    ]
    print_table(console, "Workers", columns, rows, optional=("name",))
