"""Where the driver's trials run: which trial holds which worker, and the idle cores a trial may borrow.

The driver places each trial on a free worker itself (pinned loosely: should the worker be gone, Dask runs
the trial on another), so it always knows which workers are free. Dask alone would bind a trial queued
beyond the free workers to a busy worker as soon as it is submitted, where it may wait behind a long
trial while another worker idles.

Workers on one host share its cores. When the driver has fewer trials to start than a host has free
workers (the end of a trial budget), or when every engine prefers whole hosts (AutoGluon alone: its fit
uses every core it is given), a trial is pinned to one free worker and the host's other free workers are
lent to it: they get no trial until it ends, and it runs with their cores too (`TrialSpec.cpus`).

Without worker information (GPU clusters, whose trials keep to their own worker's resources) nothing is
placed: trials go wherever Dask puts them.

Pure bookkeeping: the driver tells the pool what it submitted, where each trial started and when it ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Placement", "WorkerPool", "WorkerSlot", "worker_slots"]


@dataclass(frozen=True)
class WorkerSlot:
    """A worker that runs one trial at a time, the host it runs on, and the cores it stands for."""

    address: str
    host: str
    cpus: int


@dataclass(frozen=True)
class Placement:
    """Where a trial goes: pinned to `worker` (None: wherever Dask chooses), with `cpus` cores (None: its
    worker's own), keeping the workers `lent` to it idle while it runs. `queued`: behind the trial its
    worker runs now."""

    worker: str | None = None
    cpus: int | None = None
    lent: tuple[str, ...] = ()
    queued: bool = False

    @property
    def workers_held(self) -> int:
        return 1 + len(self.lent)


def worker_slots(workers: Mapping[str, Mapping[str, Any]]) -> list[WorkerSlot]:
    """The slots of a cluster from `scheduler_info()["workers"]`; none when any worker has a GPU (GPU
    trials keep to their own worker's resources)."""
    slots = []
    for address, info in sorted(workers.items()):
        resources = info.get("resources") or {}
        if resources.get("GPU"):
            return []
        cpus = int(resources.get("CPU") or info.get("nthreads") or 1)
        slots.append(WorkerSlot(address, str(info.get("host") or address), max(1, cpus)))
    return slots


@dataclass
class _Held:
    worker: str | None
    lent: tuple[str, ...]


class WorkerPool:
    """The driver's view of its workers: which trial holds which worker, and what a new trial may take."""

    def __init__(self, workers: Iterable[WorkerSlot] = ()) -> None:
        self._workers = list(workers)
        self._trials: dict[str, _Held] = {}

    def update(self, workers: Iterable[WorkerSlot]) -> None:
        """The cluster's workers now (workers come and go); what trials hold is kept."""
        self._workers = list(workers)

    @property
    def known(self) -> bool:
        """Whether the pool places trials (it knows the cluster's CPU workers)."""
        return bool(self._workers)

    def knows(self, address: str) -> bool:
        return any(slot.address == address for slot in self._workers)

    def _free(self) -> dict[str, list[WorkerSlot]]:
        """The free workers (holding no trial, lent to none) by host."""
        busy = {held.worker for held in self._trials.values()} | {w for h in self._trials.values() for w in h.lent}
        free: dict[str, list[WorkerSlot]] = {}
        for slot in self._workers:
            if slot.address not in busy:
                free.setdefault(slot.host, []).append(slot)
        return free

    def free_count(self) -> int:
        return sum(len(slots) for slots in self._free().values())

    def place(self, to_submit: int, whole_host: bool = False) -> Placement | None:
        """A free worker for the next of `to_submit` trials about to be started, or None when none is free.

        The trial borrows free workers of the same host when they outnumber the trials to start (each trial
        gets an equal share), or all of them when `whole_host`. Without worker information: Placement()
        (wherever Dask puts it).
        """
        if not self._workers:
            return Placement()
        free = self._free()
        if not free:
            return None
        idle = max(free.values(), key=len)
        share = len(idle) if whole_host else len(idle) // max(1, to_submit)
        if share >= 2:
            chosen = idle[:share]
            return Placement(
                worker=chosen[0].address,
                cpus=sum(slot.cpus for slot in chosen),
                lent=tuple(slot.address for slot in chosen[1:]),
            )
        return Placement(worker=idle[0].address)

    def assign(self, key: str, placement: Placement) -> None:
        """Trial `key` was submitted with `placement`."""
        self._trials[key] = _Held(placement.worker, placement.lent)

    def started(self, key: str, worker: str) -> None:
        """Trial `key` started on `worker` (a pinned trial whose worker died runs elsewhere)."""
        held = self._trials.get(key)
        if held is not None:
            held.worker = worker

    def release(self, key: str) -> None:
        """Trial `key` ended: its worker and those lent to it are free."""
        self._trials.pop(key, None)
