"""Cluster planning and GPU detection: every branch, the GPU one through a fake NVML module."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.compute import (
    ClusterPlan,
    GpuInfo,
    available_cpus,
    detect_gpus,
    filter_visible,
    is_remote_spec,
    plan_cluster,
    start,
)
from workbench.compute._cluster import _cluster_kwargs
from workbench.errors import InvalidInputError, WorkbenchError

GIB = 2**30


class FakeNvml:
    """The slice of pynvml that detect_gpus uses, over made-up devices; records init/shutdown."""

    def __init__(self, n_devices: int, fail_with: Exception | None = None) -> None:
        self.devices = [(f"Fake GPU {i}", (16 + 8 * i) * GIB, f"GPU-{i}{i}{i}{i}-fake") for i in range(n_devices)]
        self.fail_with = fail_with
        self.inits = 0
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.fail_with is not None:
            raise self.fail_with

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        name = self.devices[handle][0]
        return name.encode() if handle % 2 else name  # old bindings return bytes

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=self.devices[handle][1], free=0, used=0)

    def nvmlDeviceGetUUID(self, handle: int) -> str | bytes:
        uuid = self.devices[handle][2]
        return uuid.encode() if handle % 2 else uuid


class FakeNvmlError(Exception):
    """Stands in for pynvml.NVMLError_DriverNotLoaded."""


@pytest.fixture(autouse=True)
def _clean_gpu_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("WORKBENCH_GPUS", raising=False)


# detection ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2])
def test_detect_gpus_reads_every_device(n: int) -> None:
    nvml = FakeNvml(n)
    gpus = detect_gpus(nvml=nvml)
    assert [g.index for g in gpus] == list(range(n))
    assert all(isinstance(g.name, str) and isinstance(g.uuid, str) for g in gpus)
    if n == 2:
        assert gpus[1] == GpuInfo(index=1, name="Fake GPU 1", memory_total_bytes=24 * GIB, uuid="GPU-1111-fake")
    assert (nvml.inits, nvml.shutdowns) == (1, 1)


def test_detect_gpus_gives_empty_list_on_any_nvml_error() -> None:
    nvml = FakeNvml(2, fail_with=FakeNvmlError("driver not loaded"))
    assert detect_gpus(nvml=nvml) == []


def test_detect_gpus_without_pynvml_is_empty() -> None:
    if importlib.util.find_spec("pynvml") is not None:
        pytest.skip("pynvml is installed here; its answer depends on the machine")
    assert detect_gpus() == []


def test_workbench_gpus_none_hides_gpus_without_asking_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_GPUS", "none")
    nvml = FakeNvml(2)
    assert detect_gpus(nvml=nvml) == []
    assert nvml.inits == 0
    monkeypatch.setenv("WORKBENCH_GPUS", "auto")
    assert len(detect_gpus(nvml=nvml)) == 2


def test_workbench_gpus_with_a_typo_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_GPUS", "nope")
    with pytest.raises(InvalidInputError, match="WORKBENCH_GPUS must be 'auto' or 'none'"):
        detect_gpus(nvml=FakeNvml(1))


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        ("1", [1]),
        ("1,0", [1, 0]),  # CUDA's order, not NVML's
        ("GPU-1111", [1]),  # a UUID prefix
        ("0,7,1", [0]),  # CUDA stops at the first entry naming no device
        ("0,0", [0]),
        ("", []),
        ("-1", []),
    ],
)
def test_cuda_visible_devices_filters_detected_gpus(
    monkeypatch: pytest.MonkeyPatch, visible: str, expected: list[int]
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [g.index for g in detect_gpus(nvml=FakeNvml(2))] == expected


def test_filter_visible_keeps_all_when_unset() -> None:
    gpus = detect_gpus(nvml=FakeNvml(3))
    assert filter_visible(gpus, None) == gpus


# planning ----------------------------------------------------------------------------------------


def test_auto_with_two_gpus_plans_one_cuda_worker_per_gpu() -> None:
    gpus = detect_gpus(nvml=FakeNvml(2))
    plan = plan_cluster("auto", gpus, cpu_count=8)
    assert plan.kind == "cuda"
    assert plan.n_workers == 2
    assert plan.resources == {"GPU": 1, "CPU": 4}
    assert plan.threads_per_worker == 4
    assert plan.gpus == tuple(gpus)
    assert plan.describe() == "2 GPU workers x 4 threads (CPU=4, GPU=1 each)"


def test_auto_with_one_gpu_gives_it_every_core() -> None:
    plan = plan_cluster("auto", detect_gpus(nvml=FakeNvml(1)), cpu_count=6)
    assert (plan.kind, plan.n_workers, plan.resources) == ("cuda", 1, {"GPU": 1, "CPU": 6})


def test_auto_without_gpus_plans_one_cpu_worker_per_core() -> None:
    plan = plan_cluster("auto", detect_gpus(nvml=FakeNvml(0)), cpu_count=8)
    assert plan == ClusterPlan(kind="local", n_workers=8, threads_per_worker=1, resources={"CPU": 1})


def test_auto_honours_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    plan = plan_cluster("auto", detect_gpus(nvml=FakeNvml(2)), cpu_count=8)
    assert (plan.kind, plan.n_workers, [g.index for g in plan.gpus]) == ("cuda", 1, [1])
    assert plan.resources == {"GPU": 1, "CPU": 8}


def test_auto_detects_by_itself_and_honours_workbench_gpus_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_GPUS", "none")
    plan = plan_cluster("auto", cpu_count=3)
    assert (plan.kind, plan.n_workers) == ("local", 3)


def test_cuda_plan_sizes() -> None:
    gpus = detect_gpus(nvml=FakeNvml(2))
    one = plan_cluster("auto", gpus, cpu_count=8, n_workers=1)
    assert (one.n_workers, one.resources, [g.index for g in one.gpus]) == (1, {"GPU": 1, "CPU": 8}, [0])
    threads = plan_cluster("auto", gpus, cpu_count=8, threads_per_worker=2)
    assert (threads.threads_per_worker, threads.resources["CPU"]) == (2, 4)
    few_cores = plan_cluster("auto", gpus, cpu_count=1)
    assert few_cores.resources == {"GPU": 1, "CPU": 1}
    with pytest.raises(InvalidInputError, match="3 workers were asked for but 2 GPU"):
        plan_cluster("auto", gpus, cpu_count=8, n_workers=3)


def test_local_ignores_gpus() -> None:
    plan = plan_cluster("local", detect_gpus(nvml=FakeNvml(2)), cpu_count=4)
    assert (plan.kind, plan.n_workers, plan.resources) == ("local", 4, {"CPU": 1})


@pytest.mark.parametrize("spec", ["local:3", " LOCAL:3 "])
def test_local_n_plans_n_cpu_workers(spec: str) -> None:
    plan = plan_cluster(spec, cpu_count=1)
    assert plan == ClusterPlan(kind="local", n_workers=3, threads_per_worker=1, resources={"CPU": 1})
    assert plan.describe() == "3 CPU workers x 1 thread (CPU=1 each)"


def test_local_sizes() -> None:
    assert plan_cluster("local", cpu_count=8, threads_per_worker=2).n_workers == 4
    assert plan_cluster("local", cpu_count=8, threads_per_worker=2).resources == {"CPU": 2}
    assert plan_cluster("local", cpu_count=2, threads_per_worker=4).n_workers == 1
    assert plan_cluster("local:2", cpu_count=8, n_workers=2).n_workers == 2
    assert plan_cluster("local", cpu_count=2, scheduler_port=8786).scheduler_port == 8786
    assert plan_cluster("local").n_workers == available_cpus()


@pytest.mark.parametrize("spec", ["local:0", "local:-1", "local:x", "local:"])
def test_bad_local_counts_are_refused(spec: str) -> None:
    with pytest.raises(InvalidInputError, match="worker count of at least 1"):
        plan_cluster(spec, cpu_count=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_workers": 0}, "number of workers must be a whole number of at least 1"),
        ({"threads_per_worker": -2}, "threads per worker must be"),
        ({"cpu_count": 0}, "CPU count must be"),
        ({"scheduler_port": 70000}, "port must be between 0"),
        ({"scheduler_port": -1}, "port must be between 0"),
    ],
)
def test_bad_sizes_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        plan_cluster("local", **{"cpu_count": 2, **kwargs})


def test_conflicting_worker_counts_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="asks for 2 workers but n_workers is 3"):
        plan_cluster("local:2", cpu_count=2, n_workers=3)


def test_tcp_address_plans_a_remote_cluster() -> None:
    plan = plan_cluster("tcp://10.0.0.5:8786")
    assert plan == ClusterPlan(kind="remote", address="tcp://10.0.0.5:8786")
    assert plan_cluster("tcp://scheduler.lan").address == "tcp://scheduler.lan:8786"
    assert plan_cluster("tls://10.0.0.5:8786").address == "tls://10.0.0.5:8786"
    assert plan.describe() == "the scheduler at tcp://10.0.0.5:8786"


@pytest.mark.parametrize("spec", ["tcp://", "tcp://host:port", "tcp://host:99999", "tcp://host:1/path"])
def test_bad_tcp_addresses_are_refused(spec: str) -> None:
    with pytest.raises(InvalidInputError, match=r"write it as tcp://HOST:PORT"):
        plan_cluster(spec)


def test_scheduler_file_plans_a_remote_cluster(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"type": "Scheduler", "address": "tcp://10.0.0.5:8786", "workers": {}}))
    plan = plan_cluster(str(path))
    assert (plan.kind, plan.address, plan.scheduler_file) == ("remote", "tcp://10.0.0.5:8786", str(path))
    assert "from" in plan.describe()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not readable JSON"), (json.dumps({"id": "x"}), "has no scheduler address"), ("[]", "no scheduler")],
)
def test_bad_scheduler_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "scheduler.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        plan_cluster(str(path))


def test_missing_scheduler_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        plan_cluster(str(tmp_path / "nowhere.json"))


@pytest.mark.parametrize("spec", ["gpu", "http://host:8786", "", "   ", "8786", "localhost:8786"])
def test_unknown_specs_name_the_accepted_forms(spec: str) -> None:
    with pytest.raises(
        InvalidInputError, match=r"'auto', 'local', 'local:N', 'tcp://HOST:PORT' \(or tls://\) or the path"
    ):
        plan_cluster(spec)


def test_sizes_for_an_existing_cluster_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not the existing one at tcp://h:1"):
        plan_cluster("tcp://h:1", n_workers=2)


def test_is_remote_spec() -> None:
    assert not any(is_remote_spec(s) for s in ("auto", "local", "local:2", " Local:4 "))
    assert all(is_remote_spec(s) for s in ("tcp://h:1", "scheduler.json"))


# starting without hardware -----------------------------------------------------------------------


def test_cuda_plan_is_passed_to_local_cuda_cluster_on_loopback() -> None:
    plan = plan_cluster("auto", detect_gpus(nvml=FakeNvml(2)), cpu_count=8, scheduler_port=8786)
    kwargs = _cluster_kwargs(plan)
    assert kwargs["CUDA_VISIBLE_DEVICES"] == ["GPU-0000-fake", "GPU-1111-fake"]
    assert (kwargs["n_workers"], kwargs["threads_per_worker"]) == (2, 4)
    assert kwargs["resources"] == {"GPU": 1, "CPU": 4}
    assert kwargs["host"] == "127.0.0.1"
    assert kwargs["dashboard_address"].startswith("127.0.0.1:")
    assert kwargs["scheduler_port"] == 8786
    assert "processes" not in kwargs  # LocalCUDACluster always uses processes and refuses the argument


def test_cuda_start_without_dask_cuda_names_the_extra() -> None:
    if importlib.util.find_spec("dask_cuda") is not None:
        pytest.skip("dask_cuda is installed here: this would start a real GPU cluster")
    plan = plan_cluster("auto", detect_gpus(nvml=FakeNvml(2)), cpu_count=4)
    with pytest.raises(WorkbenchError, match=r"GPU cluster needs the gpu extra: pip install 'workbench\[gpu\]'"):
        start(plan)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"allowed_failures": -1}, "allowed_failures must be"), ({"connect_timeout": 0}, "timeout must be more than 0")],
)
def test_start_refuses_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        start(plan_cluster("local:1"), **kwargs)


def test_importing_compute_loads_neither_dask_nor_gpu_libraries() -> None:
    code = (
        "import sys, workbench.compute, workbench.cli._cluster\n"
        "print([m for m in ('dask', 'distributed', 'dask_cuda', 'pynvml') if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
