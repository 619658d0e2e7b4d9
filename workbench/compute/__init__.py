"""Where searches run: a Dask cluster started here (CPU or GPU workers) or an existing one.

`cluster(spec)` is the one entry point: a context manager yielding a connected `distributed.Client`.
`plan_cluster` and `start` split it into a pure plan and the real start; `detect_gpus` finds GPUs
through NVML; `cluster_resources` summarises what a connected cluster offers.

Importing this package imports neither Dask nor `dask_cuda` nor `pynvml`: they load when a cluster is
planned or started.
"""

from __future__ import annotations

from workbench.compute._cluster import (
    ACCEPTED_SPECS,
    DEFAULT_ALLOWED_FAILURES,
    DEFAULT_CONNECT_TIMEOUT_S,
    LOOPBACK,
    ClusterHandle,
    ClusterKind,
    ClusterPlan,
    available_cpus,
    check_cluster,
    cluster,
    cluster_resources,
    is_remote_spec,
    open_cluster,
    plan_cluster,
    start,
)
from workbench.compute._gpus import GPUS_ENV, GpuInfo, detect_gpus, filter_visible

__all__ = [
    "ACCEPTED_SPECS",
    "DEFAULT_ALLOWED_FAILURES",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "GPUS_ENV",
    "LOOPBACK",
    "ClusterHandle",
    "ClusterKind",
    "ClusterPlan",
    "GpuInfo",
    "available_cpus",
    "check_cluster",
    "cluster",
    "cluster_resources",
    "detect_gpus",
    "filter_visible",
    "is_remote_spec",
    "open_cluster",
    "plan_cluster",
    "start",
]
