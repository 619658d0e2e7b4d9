"""Real clusters on 127.0.0.1: the local branch of `cluster()`, resource routing and allowed failures."""

from __future__ import annotations

import operator
import os
import socket

import pytest
from distributed import Client, KilledWorker, Scheduler, SpecCluster, Worker, get_worker
from distributed.core import Status

from workbench.compute import cluster, cluster_resources, open_cluster, plan_cluster, start
from workbench.errors import InvalidInputError
from workbench.search._protocol import WorkerResources

pytestmark = pytest.mark.slow


def _worker_address(_: object = None) -> str:
    return str(get_worker().address)


def _scheduler_allowed_failures(dask_scheduler: Scheduler) -> int:
    return int(dask_scheduler.allowed_failures)


def test_local_two_runs_two_process_workers_on_loopback() -> None:
    with cluster("local:2") as client:
        summary = cluster_resources(client)
        assert summary["workers"] == 2
        assert (summary["cpu_threads"], summary["cpus"], summary["gpus"]) == (2, 2, 0)
        assert summary["address"].startswith("tcp://127.0.0.1:")
        for address, worker in summary["per_worker"].items():
            assert address.startswith("tcp://127.0.0.1:")
            assert worker["host"] == "127.0.0.1"
            assert (worker["nthreads"], worker["resources"]) == (1, {"CPU": 1})

        assert client.submit(operator.add, 1, 2).result(timeout=30) == 3
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids  # separate processes
        seen = client.submit(WorkerResources.current, pure=False).result(timeout=30)
        assert (seen.cpus, seen.gpus) == (1, 0)
        assert seen.address in summary["per_worker"]
        assert client.run_on_scheduler(_scheduler_allowed_failures) == 2
        started = client.cluster
    assert client.status == "closed"
    assert started is not None and started.status == Status.closed


def test_allowed_failures_makes_a_worker_killing_task_fail_fast() -> None:
    with open_cluster("local:1", allowed_failures=0) as handle:
        client = handle.client
        assert handle.kind == "local"
        assert client.run_on_scheduler(_scheduler_allowed_failures) == 0
        doomed = client.submit(os._exit, 1, pure=False)
        with pytest.raises(KilledWorker):
            doomed.result(timeout=60)
        # The nanny brings the worker back; the cluster stays usable.
        assert client.submit(operator.mul, 6, 7).result(timeout=60) == 42


def test_gpu_tasks_run_only_on_the_worker_that_advertises_a_gpu() -> None:
    workers = {
        "gpu": {"cls": Worker, "options": {"nthreads": 1, "resources": {"CPU": 1, "GPU": 1}, "host": "127.0.0.1"}},
        "cpu": {"cls": Worker, "options": {"nthreads": 1, "resources": {"CPU": 1}, "host": "127.0.0.1"}},
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}}
    with SpecCluster(scheduler=scheduler, workers=workers) as existing:
        existing.wait_for_workers(2, timeout=30)
        gpu_worker = next(address for address, ws in existing.scheduler.workers.items() if ws.resources.get("GPU") == 1)
        # Through the workbench's remote branch: it connects, and leaves the cluster running on exit.
        with cluster(existing.scheduler_address) as client:
            summary = cluster_resources(client)
            assert (summary["workers"], summary["cpus"], summary["gpus"]) == (2, 2, 1)
            assert summary["per_worker"][gpu_worker]["resources"] == {"CPU": 1, "GPU": 1}

            gpu_tasks = [client.submit(_worker_address, resources={"GPU": 1}, pure=False) for _ in range(6)]
            assert {f.result(timeout=30) for f in gpu_tasks} == {gpu_worker}
            seen = client.submit(WorkerResources.current, resources={"GPU": 1}, pure=False).result(timeout=30)
            assert (seen.gpus, seen.cpus, seen.address) == (1, 1, gpu_worker)
            cpu_tasks = client.map(_worker_address, range(8), resources={"CPU": 1}, pure=False)
            assert len(client.gather(cpu_tasks)) == 8
        assert existing.status == Status.running
        with Client(existing) as again:
            assert again.submit(operator.add, 2, 2).result(timeout=30) == 4


def test_a_taken_scheduler_port_is_refused_before_starting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InvalidInputError, match=f"Port {port} on 127.0.0.1 is already in use"):
            start(plan_cluster("local:1", scheduler_port=port))
