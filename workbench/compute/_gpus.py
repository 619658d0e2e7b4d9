"""GPU detection through NVML, filtered the way CUDA would filter it.

`pynvml` (the `nvidia-ml-py` package, in the `gpu` extra) is imported only inside `detect_gpus`, so
importing this module never touches the NVIDIA driver.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from workbench.errors import InvalidInputError

__all__ = ["GPUS_ENV", "GpuInfo", "detect_gpus", "filter_visible"]

GPUS_ENV = "WORKBENCH_GPUS"
"""Environment variable: `none` hides every GPU from the workbench; `auto` (or unset) detects them."""


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as NVML reports it. `index` is NVML's (physical) index, which ignores CUDA_VISIBLE_DEVICES."""

    index: int
    name: str
    memory_total_bytes: int
    uuid: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: str | bytes) -> str:
    """NVML returns bytes in older bindings and str in newer ones."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _query_nvml(nvml: Any) -> list[GpuInfo]:
    nvml.nvmlInit()
    try:
        gpus = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_total_bytes=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                )
            )
        return gpus
    finally:
        nvml.nvmlShutdown()


def filter_visible(gpus: Sequence[GpuInfo], cuda_visible_devices: str | None) -> list[GpuInfo]:
    """The GPUs a CUDA process would see under `cuda_visible_devices`, in that variable's order.

    `None` (the variable is unset) keeps every GPU. Entries are NVML indices or UUIDs (a unique prefix
    such as `GPU-8f2a` is enough). Like CUDA, the list ends at the first entry that names no device, so
    an empty value or `-1` hides every GPU. A device listed twice is kept once.
    """
    if cuda_visible_devices is None:
        return list(gpus)
    visible: list[GpuInfo] = []
    for raw in cuda_visible_devices.split(","):
        entry = raw.strip()
        if entry.isdigit():
            matches = [g for g in gpus if g.index == int(entry)]
        elif entry:
            matches = [g for g in gpus if g.uuid.startswith(entry)]
        else:
            matches = []
        if len(matches) != 1:
            break
        if matches[0] not in visible:
            visible.append(matches[0])
    return visible


def detect_gpus(nvml: Any | None = None, environ: Mapping[str, str] | None = None) -> list[GpuInfo]:
    """The GPUs this process may use; `[]` when there are none or they cannot be queried.

    `nvml` is a module-like object with pynvml's functions (tests pass a fake); by default `pynvml` is
    imported here. A missing `pynvml`, a missing driver or any other NVML failure gives `[]`, never an
    exception. `environ` (default `os.environ`) is read for `WORKBENCH_GPUS` (`none` gives `[]`
    without asking NVML) and `CUDA_VISIBLE_DEVICES` (see `filter_visible`).

    Raises InvalidInputError when WORKBENCH_GPUS holds anything other than `auto` or `none`.
    """
    env = os.environ if environ is None else environ
    setting = env.get(GPUS_ENV, "auto").strip().lower()
    if setting == "none":
        return []
    if setting not in ("auto", ""):
        raise InvalidInputError(f"{GPUS_ENV} must be 'auto' or 'none', not {env[GPUS_ENV]!r}.")
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            return []
        nvml = pynvml
    try:
        gpus = _query_nvml(nvml)
    except Exception:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no usable GPU
        return []
    return filter_visible(gpus, env.get("CUDA_VISIBLE_DEVICES"))
