"""One way to get a Dask client: plan the cluster from a spec string, then start it or connect to it.

`plan_cluster` is pure apart from GPU detection (injectable) and reading a scheduler file, so every
branch, the GPU one included, is tested without hardware. `start` does the real thing. Nothing here
imports Dask at module import time, and `dask_cuda` is imported only by the GPU branch of `start`.

Clusters the workbench starts listen on 127.0.0.1 only (scheduler, workers and dashboard): Dask has no
authentication, so reaching other machines is left to `dask scheduler` / `dask worker`, run by hand.

Given a `log_path`, Dask's log lines (this process's, and all output of the workers started here) go to
that file while the cluster is open, its close included, instead of the terminal (see `_logs`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from workbench.compute._gpus import GPUS_ENV, GpuInfo, detect_gpus
from workbench.compute._logs import LOG_ENV, LogRoute, route_worker_output
from workbench.errors import InvalidInputError, WorkbenchError

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "ACCEPTED_SPECS",
    "DEFAULT_ALLOWED_FAILURES",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "LOOPBACK",
    "ClusterHandle",
    "ClusterKind",
    "ClusterPlan",
    "available_cpus",
    "check_cluster",
    "cluster",
    "cluster_resources",
    "is_remote_spec",
    "open_cluster",
    "plan_cluster",
    "start",
]

ClusterKind = Literal["cuda", "local", "remote"]

LOOPBACK = "127.0.0.1"
DEFAULT_ALLOWED_FAILURES = 2
DEFAULT_CONNECT_TIMEOUT_S = 5.0
WORKER_START_TIMEOUT_S = 120.0
# How long a closing worker process of a cluster started here gets to exit before its nanny kills it. Dask
# gives 4 s; a process that ran AutoGluon or torch takes seconds to tear down on a loaded machine, and one
# killed midway leaves its semaphores to the resource tracker's "leaked semaphore" warnings.
WORKER_CLOSE_TIMEOUT_S = 20.0
ACCEPTED_SPECS = "'auto', 'local', 'local:N', 'tcp://HOST:PORT' (or tls://) or the path of a scheduler file"
GPU_EXTRA = "pip install 'workbench[gpu]'"


@dataclass(frozen=True)
class ClusterPlan:
    """What `start` will do.

    kind "local": `n_workers` CPU worker processes; "cuda": one worker process per GPU in `gpus`;
    both with `threads_per_worker` threads and the Dask `resources` each worker advertises, the
    scheduler on 127.0.0.1:`scheduler_port` (0: any free port). kind "remote": connect to the
    scheduler at `address` (read from `scheduler_file` when one was given); the sizes are then 0.
    """

    kind: ClusterKind
    n_workers: int = 0
    threads_per_worker: int = 0
    resources: dict[str, float] = field(default_factory=dict)
    address: str | None = None
    scheduler_file: str | None = None
    gpus: tuple[GpuInfo, ...] = ()
    scheduler_port: int = 0

    def describe(self) -> str:
        """One line for people, e.g. "2 CPU workers x 1 thread (CPU=1 each)"."""
        if self.kind == "remote":
            source = f" (from {self.scheduler_file})" if self.scheduler_file else ""
            return f"the scheduler at {self.address}{source}"
        what = "GPU" if self.kind == "cuda" else "CPU"
        plural = "s" if self.n_workers != 1 else ""
        threads = "thread" if self.threads_per_worker == 1 else "threads"
        resources = ", ".join(f"{k}={v:g}" for k, v in sorted(self.resources.items()))
        return f"{self.n_workers} {what} worker{plural} x {self.threads_per_worker} {threads} ({resources} each)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_workers": self.n_workers,
            "threads_per_worker": self.threads_per_worker,
            "resources": dict(self.resources),
            "address": self.address,
            "scheduler_file": self.scheduler_file,
            "gpus": [g.to_dict() for g in self.gpus],
            "scheduler_port": self.scheduler_port,
        }


def available_cpus() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# planning ----------------------------------------------------------------------------------------


def _positive(value: int | None, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidInputError(f"{name} must be a whole number of at least 1, not {value!r}.")
    return value


def _check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidInputError(f"The scheduler port must be between 0 (any free port) and 65535, not {port!r}.")


def is_remote_spec(spec: str) -> bool:
    """Whether `spec` names an existing cluster (an address or a scheduler file) rather than one to start."""
    lowered = spec.strip().lower()
    return not (lowered in ("auto", "local") or lowered.startswith("local:"))


def _plan_address(address: str) -> ClusterPlan:
    try:
        parts = urlsplit(address)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError:
        parts, port = None, None
    if parts is None or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInputError(
            f"{address!r} is not a scheduler address; write it as tcp://HOST:PORT or tls://HOST:PORT."
        )
    if port is None:
        address = f"{address.rstrip('/')}:8786"  # Dask's default scheduler port, made explicit
    return ClusterPlan(kind="remote", address=address.rstrip("/"))


def _plan_scheduler_file(text: str) -> ClusterPlan:
    path = Path(text).expanduser()
    if not path.is_file():
        raise InvalidInputError(
            f"Scheduler file {text} does not exist; pass the file `dask scheduler --scheduler-file` wrote, "
            "or a tcp://HOST:PORT address."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"Scheduler file {text} is not readable JSON ({exc}).") from None
    address = data.get("address") if isinstance(data, dict) else None
    if not isinstance(address, str) or "://" not in address:
        raise InvalidInputError(
            f"Scheduler file {text} has no scheduler address (an 'address' key like tcp://HOST:PORT)."
        )
    return ClusterPlan(kind="remote", address=address, scheduler_file=str(path))


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith("~") or text.endswith(".json") or os.path.isfile(text)


def _parse_local_count(text: str) -> int:
    count = text.partition(":")[2].strip()
    if not count.isdigit() or int(count) < 1:
        raise InvalidInputError(f"{text!r} needs a worker count of at least 1 after 'local:', e.g. 'local:4'.")
    return int(count)


def plan_cluster(
    spec: str = "auto",
    gpus: Sequence[GpuInfo] | None = None,
    cpu_count: int | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    scheduler_port: int = 0,
) -> ClusterPlan:
    """Turn a cluster spec into a plan, without starting anything.

    Specs: "auto" (one worker per GPU when `gpus` is non-empty, else CPU workers), "local" (CPU workers
    even when there are GPUs), "local:N" (N CPU workers), "tcp://HOST:PORT" or the path of a scheduler
    file written by `dask scheduler --scheduler-file` (an existing cluster). "tls://HOST:PORT" works too,
    with the certificates of Dask's own config (`distributed.comm.tls`).

    `gpus` defaults to `detect_gpus()` (asked only for "auto"); `cpu_count` to `available_cpus()`.
    CPU plans: `threads_per_worker` defaults to 1 and `n_workers` to cpu_count // threads_per_worker;
    each worker advertises {"CPU": threads_per_worker}. GPU plans: `n_workers` (default: all) picks the
    first GPUs; each worker advertises {"GPU": 1, "CPU": cpu_count // workers} and runs that many
    threads unless `threads_per_worker` says otherwise.

    Raises InvalidInputError for an unknown spec, a non-positive size, sizes given for an existing
    cluster, more GPU workers than GPUs, a bad port, or a missing or unreadable scheduler file.
    """
    text = spec.strip() if isinstance(spec, str) else ""
    if not text:
        raise InvalidInputError(f"The cluster spec is empty; use {ACCEPTED_SPECS}.")
    _positive(n_workers, "The number of workers")
    _positive(threads_per_worker, "The number of threads per worker")
    _check_port(scheduler_port)

    if is_remote_spec(text):
        if text.lower().startswith(("tcp://", "tls://")):
            plan = _plan_address(text)
        elif "://" not in text and _looks_like_path(text):
            plan = _plan_scheduler_file(text)
        else:
            raise InvalidInputError(f"Unknown cluster spec {spec!r}; use {ACCEPTED_SPECS}.")
        if n_workers is not None or threads_per_worker is not None:
            raise InvalidInputError(
                f"Worker counts and threads size clusters the workbench starts, not the existing one at {plan.address}."
            )
        return plan

    cpus = available_cpus() if cpu_count is None else cpu_count
    _positive(cpus, "The CPU count")
    lowered = text.lower()
    if lowered.startswith("local:"):
        count = _parse_local_count(text)
        if n_workers is not None and n_workers != count:
            raise InvalidInputError(f"The spec {text!r} asks for {count} workers but n_workers is {n_workers}.")
        n_workers = count
    if lowered == "auto":
        found = tuple(detect_gpus() if gpus is None else gpus)
        if found:
            return _plan_cuda(found, cpus, n_workers, threads_per_worker, scheduler_port)
    threads = threads_per_worker or 1
    return ClusterPlan(
        kind="local",
        n_workers=n_workers if n_workers is not None else max(1, cpus // threads),
        threads_per_worker=threads,
        resources={"CPU": threads},
        scheduler_port=scheduler_port,
    )


def _plan_cuda(
    gpus: tuple[GpuInfo, ...], cpus: int, n_workers: int | None, threads_per_worker: int | None, port: int
) -> ClusterPlan:
    if n_workers is not None and n_workers > len(gpus):
        raise InvalidInputError(
            f"{n_workers} workers were asked for but {len(gpus)} GPU(s) are visible, and a GPU cluster runs one "
            f"worker per GPU; ask for at most {len(gpus)}, or set {GPUS_ENV}=none for CPU workers."
        )
    chosen = gpus[:n_workers] if n_workers is not None else gpus
    cpus_per_gpu = max(1, cpus // len(chosen))
    return ClusterPlan(
        kind="cuda",
        n_workers=len(chosen),
        threads_per_worker=threads_per_worker or cpus_per_gpu,
        resources={"GPU": 1, "CPU": cpus_per_gpu},
        gpus=chosen,
        scheduler_port=port,
    )


# starting ----------------------------------------------------------------------------------------


class ClusterHandle:
    """A connected client, and the cluster started for it if any.

    `close()` closes the client, then the cluster when this handle started it; a remote cluster is
    left running. It is idempotent, and the handle is also a context manager.
    """

    def __init__(
        self, client: Client, plan: ClusterPlan, started: Any | None = None, log_route: LogRoute | None = None
    ) -> None:
        self.client = client
        self.plan = plan
        self.started = started  # the LocalCluster / LocalCUDACluster object, None for a remote cluster
        self.log_route = log_route  # where Dask's log lines go while the handle is open
        self._closed = False

    @property
    def log_path(self) -> Path | None:
        """The file Dask's log lines go to, if one was given."""
        return self.log_route.path if self.log_route is not None else None

    @property
    def kind(self) -> ClusterKind:
        return self.plan.kind

    @property
    def address(self) -> str:
        """The scheduler's address, e.g. tcp://127.0.0.1:8786."""
        scheduler = self.client.scheduler
        return str(scheduler.address) if scheduler is not None else self.plan.address or ""

    @property
    def dashboard_link(self) -> str | None:
        try:
            link = self.client.dashboard_link
        except Exception:  # no dashboard service on this scheduler
            return None
        return str(link) if link else None

    def close(self) -> None:
        """Close the client, then whatever this handle started (never a remote cluster)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.client.close()
        finally:
            try:
                if self.started is not None:
                    _close_workers(self.started, WORKER_CLOSE_TIMEOUT_S)
                    self.started.close()
            finally:
                if self.log_route is not None:
                    self.log_route.stop()

    def __enter__(self) -> ClusterHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.address
        return f"<ClusterHandle {self.kind} {state}>"


def _close_workers(started: Any, timeout: float) -> None:
    """Close a started cluster's worker processes through their nannies, each given `timeout` seconds to
    exit (the cluster's own close would give them 4 s); best effort: the cluster's close follows anyway."""

    async def close_all() -> None:
        nannies = [w for w in list(getattr(started, "workers", {}).values()) if hasattr(w, "close")]
        await asyncio.gather(*(w.close(timeout=timeout) for w in nannies), return_exceptions=True)

    try:
        started.sync(close_all, callback_timeout=timeout + 10)
    except Exception:  # the cluster's own close still closes (or kills) whatever is left
        return


def _check_port_free(port: int) -> None:
    """Refuse a fixed scheduler port that is taken before starting any worker (bound as Dask binds it)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            raise InvalidInputError(
                f"Port {port} on {LOOPBACK} is already in use; choose another port (0 picks a free one)."
            ) from None


def _local_cluster_class() -> Any:
    from distributed import LocalCluster

    return LocalCluster


def _cuda_cluster_class() -> Any:
    """`dask_cuda.LocalCUDACluster`, imported here and nowhere else."""
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        raise WorkbenchError(f"A GPU cluster needs the gpu extra: {GPU_EXTRA}.") from None
    except Exception as exc:  # dask-cuda is installed but its CUDA bindings do not load
        raise WorkbenchError(
            f"dask_cuda failed to load ({exc}); check the CUDA installation, or set {GPUS_ENV}=none to use CPUs."
        ) from None
    return LocalCUDACluster


def _cluster_kwargs(plan: ClusterPlan, log_path: str | Path | None = None) -> dict[str, Any]:
    """The cluster class's arguments: loopback only, the dashboard on a free loopback port; with
    `log_path`, the workers' nannies tell them where to write (LOG_ENV)."""
    kwargs: dict[str, Any] = {
        "n_workers": plan.n_workers,
        "threads_per_worker": plan.threads_per_worker,
        "resources": dict(plan.resources),
        "host": LOOPBACK,
        "scheduler_port": plan.scheduler_port,
        "dashboard_address": f"{LOOPBACK}:0",
        "preload": [__name__],  # runs `dask_setup` below in every worker process, restarted ones too
    }
    if log_path is not None:
        kwargs["env"] = {LOG_ENV: str(Path(log_path).expanduser())}
    if plan.kind == "cuda":
        # UUIDs rather than indices: CUDA's default device order may differ from NVML's.
        kwargs["CUDA_VISIBLE_DEVICES"] = [g.uuid or str(g.index) for g in plan.gpus]
    else:
        kwargs["processes"] = True
    return kwargs


def dask_setup(worker: Any) -> None:
    """Dask preload hook, run in each worker process the workbench starts: ignore SIGINT, and send the
    process's output to the cluster's log file when it has one (LOG_ENV).

    A terminal's Ctrl-C reaches every process in its group; the process that started the cluster
    handles it and closes the workers in order, so the workers themselves must not die mid-task with a
    KeyboardInterrupt traceback. SIGTERM and SIGKILL still end them.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    log_path = os.environ.get(LOG_ENV)
    if log_path:
        route_worker_output(log_path)


def _probe_scheduler(address: str, timeout: float) -> None:
    """Ask `address` for its identity, bounded by `timeout` in all (Client's own timeout covers only the
    TCP connect: a server that accepts and never answers would hang it). Raises InvalidInputError."""
    outcome: dict[str, Any] = {}

    async def identity() -> Any:
        from distributed.core import rpc

        async with rpc(address, timeout=timeout) as scheduler:
            return await scheduler.identity()

    def run() -> None:
        try:
            outcome["identity"] = asyncio.run(asyncio.wait_for(identity(), timeout))
        except BaseException as exc:
            outcome["error"] = exc

    # A thread of its own: the caller may already run an event loop (Jupyter).
    thread = threading.Thread(target=run, name="workbench-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    error = outcome.get("error")
    if "identity" not in outcome and (error is None or isinstance(error, OSError | TimeoutError)):
        raise InvalidInputError(
            f"No Dask scheduler answered at {address} within {timeout:g} s; check the address and that the "
            "scheduler is running."
        )
    found = outcome.get("identity")
    if error is not None or not isinstance(found, dict) or found.get("type") != "Scheduler":
        reason = f" ({type(error).__name__})" if error is not None else ""
        raise InvalidInputError(f"{address} did not answer like a Dask scheduler{reason}; check the address and port.")


def check_cluster(spec: str, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S) -> ClusterPlan:
    """The plan of `spec`, refused (InvalidInputError) when the spec is malformed or names a scheduler that
    does not answer; nothing is started or kept connected."""
    plan = plan_cluster(spec)
    if plan.kind == "remote" and plan.address:
        _probe_scheduler(plan.address, connect_timeout)
    return plan


def _client_for(
    started: Any, plan: ClusterPlan, connect_timeout: float, log_route: LogRoute | None = None
) -> ClusterHandle:
    from distributed import Client

    try:
        client = Client(started, timeout=connect_timeout)
    except BaseException:
        started.close()
        if log_route is not None:
            log_route.stop()
        raise
    handle = ClusterHandle(client, plan, started, log_route)
    try:
        client.wait_for_workers(plan.n_workers, timeout=WORKER_START_TIMEOUT_S)
    except BaseException:
        handle.close()
        raise
    return handle


def start(
    plan: ClusterPlan,
    *,
    allowed_failures: int = DEFAULT_ALLOWED_FAILURES,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    log_path: str | Path | None = None,
) -> ClusterHandle:
    """Carry out a plan: start the local or GPU cluster it describes, or connect to the remote one.

    With `log_path`, Dask's log lines of this process go to that file until the handle is closed (its
    close included), and so does all output of the worker processes started here.

    For clusters it starts, the scheduler is built under the Dask config
    `distributed.scheduler.allowed-failures = allowed_failures`, so a task whose worker dies that many
    times + 1 fails with KilledWorker instead of killing worker after worker; the handle is returned
    once every worker has joined. For a remote plan nothing is started, the scheduler is probed first,
    and only the client is closed later.

    Raises InvalidInputError when the scheduler cannot be reached within `connect_timeout` seconds or
    the fixed scheduler port is taken, and WorkbenchError when a GPU plan meets a missing dask-cuda.
    """
    if isinstance(allowed_failures, bool) or not isinstance(allowed_failures, int) or allowed_failures < 0:
        raise InvalidInputError(f"allowed_failures must be a whole number of at least 0, not {allowed_failures!r}.")
    if not connect_timeout > 0:
        raise InvalidInputError(f"The connect timeout must be more than 0 seconds, not {connect_timeout!r}.")

    if plan.kind == "remote":
        if not plan.address:
            raise InvalidInputError("A remote cluster plan needs a scheduler address.")
        _probe_scheduler(plan.address, connect_timeout)
        from distributed import Client

        route = LogRoute(log_path).start() if log_path is not None else None
        try:
            client = Client(plan.address, timeout=connect_timeout)
        except OSError as exc:
            if route is not None:
                route.stop()
            raise InvalidInputError(f"Could not connect to the Dask scheduler at {plan.address} ({exc}).") from None
        return ClusterHandle(client, plan, log_route=route)

    if plan.n_workers < 1 or plan.threads_per_worker < 1:
        raise InvalidInputError(f"A {plan.kind} cluster needs at least one worker with at least one thread.")
    if plan.kind == "cuda" and len(plan.gpus) != plan.n_workers:
        raise InvalidInputError(
            f"A GPU cluster runs one worker per GPU: {plan.n_workers} workers, {len(plan.gpus)} GPUs."
        )
    cluster_class = _cuda_cluster_class() if plan.kind == "cuda" else _local_cluster_class()
    _check_port_free(plan.scheduler_port)

    import dask

    route = LogRoute(log_path).start() if log_path is not None else None
    try:
        # The scheduler reads allowed-failures when it is built, inside the cluster's constructor.
        with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}):
            started = cluster_class(**_cluster_kwargs(plan, log_path))
    except BaseException:
        if route is not None:
            route.stop()
        raise
    return _client_for(started, plan, connect_timeout, route)


def open_cluster(
    spec: str = "auto",
    *,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    allowed_failures: int = DEFAULT_ALLOWED_FAILURES,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    log_path: str | Path | None = None,
) -> ClusterHandle:
    """`plan_cluster(spec, ...)` then `start(plan, ...)`: a connected handle; call `.close()` when done."""
    plan = plan_cluster(spec, n_workers=n_workers, threads_per_worker=threads_per_worker)
    return start(plan, allowed_failures=allowed_failures, connect_timeout=connect_timeout, log_path=log_path)


@contextmanager
def cluster(
    spec: str = "auto",
    *,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    allowed_failures: int = DEFAULT_ALLOWED_FAILURES,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    log_path: str | Path | None = None,
) -> Iterator[Client]:
    """A connected `distributed.Client` for the block; on exit, the client and whatever was started for it
    are closed (an existing cluster named by address or scheduler file keeps running).

    >>> with cluster("local:2") as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()

    See `plan_cluster` for the specs and `start` for the errors and `log_path` (Dask's log lines to a
    file instead of the terminal).
    """
    handle = open_cluster(
        spec,
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        allowed_failures=allowed_failures,
        connect_timeout=connect_timeout,
        log_path=log_path,
    )
    try:
        yield handle.client
    finally:
        handle.close()


# describing --------------------------------------------------------------------------------------


def cluster_resources(client: Client) -> dict[str, Any]:
    """What a connected cluster offers, with stable keys.

    "address": the scheduler's; "workers": how many; "cpu_threads": their threads in all; "cpus" and
    "gpus": the totals of the CPU and GPU resources they advertise (0 where none is advertised: a task
    asking for a resource runs only on workers that advertise it); "per_worker": worker address ->
    {"name", "host", "nthreads", "resources", "memory_limit"}, sorted by address.
    """
    info = client.scheduler_info(n_workers=-1)
    workers = info.get("workers") or {}
    per_worker: dict[str, dict[str, Any]] = {}
    for address in sorted(workers):
        worker = workers[address]
        per_worker[address] = {
            "name": str(worker.get("name", address)),
            "host": str(worker.get("host", "")),
            "nthreads": int(worker.get("nthreads", 0)),
            "resources": dict(worker.get("resources") or {}),
            "memory_limit": int(worker.get("memory_limit") or 0),
        }

    def total(name: str) -> float:
        value = sum((float(w["resources"].get(name, 0)) for w in per_worker.values()), 0.0)
        return int(value) if value.is_integer() else value

    return {
        "address": str(info.get("address", "")),
        "workers": len(per_worker),
        "cpu_threads": sum(w["nthreads"] for w in per_worker.values()),
        "cpus": total("CPU"),
        "gpus": total("GPU"),
        "per_worker": per_worker,
    }
