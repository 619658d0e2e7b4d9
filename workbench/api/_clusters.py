"""Clusters: what a cluster spec gives before a search launches, starting one for others, describing one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench._json import to_jsonable

if TYPE_CHECKING:
    from workbench.compute import ClusterHandle

__all__ = ["ClusterInfo", "cluster_info", "start_cluster"]


@dataclass(frozen=True)
class ClusterInfo:
    """What a cluster spec offers. started: False for a cluster the search would start (its plan), True
    for an existing one (read from its scheduler). per_worker: address -> name, threads, resources."""

    spec: str
    kind: str  # local | cuda | remote
    description: str
    workers: int
    threads: int
    cpus: float
    gpus: float
    started: bool
    address: str | None = None
    per_worker: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


def cluster_info(spec: str = "auto", *, connect_timeout_s: float = 10.0, running_only: bool = False) -> ClusterInfo:
    """The workers, threads and GPUs `spec` gives: planned (nothing starts) for "auto" and "local:N",
    read from the running scheduler for an address or a scheduler file (refused when it does not answer).
    `running_only` refuses specs of clusters that would be started."""
    from workbench.compute import cluster_resources, is_remote_spec, plan_cluster, start
    from workbench.errors import InvalidInputError

    if running_only and not is_remote_spec(spec):
        raise InvalidInputError(
            f"cluster info needs a running scheduler (tcp://HOST:PORT or a scheduler file), not {spec!r}."
        )
    plan = plan_cluster(spec)
    if not is_remote_spec(spec):
        return ClusterInfo(
            spec=spec,
            kind=plan.kind,
            description=plan.describe(),
            workers=plan.n_workers,
            threads=plan.n_workers * plan.threads_per_worker,
            cpus=plan.resources.get("CPU", 0) * plan.n_workers,
            gpus=len(plan.gpus),
            started=False,
        )
    with start(plan, connect_timeout=connect_timeout_s) as handle:
        summary = cluster_resources(handle.client)
    return ClusterInfo(
        spec=spec,
        kind="remote",
        description=plan.describe(),
        workers=summary["workers"],
        threads=summary["cpu_threads"],
        cpus=summary["cpus"],
        gpus=summary["gpus"],
        started=True,
        address=summary["address"],
        per_worker=summary["per_worker"],
    )


def start_cluster(
    *,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    gpus: bool = True,
    port: int = 8786,
    allowed_failures: int | None = None,
) -> ClusterHandle:
    """Start a scheduler on 127.0.0.1:`port` and workers (one per GPU found, else one per core) for other
    processes to join; close the handle (or use it as a context manager) to stop them."""
    from workbench.compute import DEFAULT_ALLOWED_FAILURES, plan_cluster, start

    plan = plan_cluster(
        "auto" if gpus else "local", n_workers=workers, threads_per_worker=threads_per_worker, scheduler_port=port
    )
    return start(plan, allowed_failures=DEFAULT_ALLOWED_FAILURES if allowed_failures is None else allowed_failures)
