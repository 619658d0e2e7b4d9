"""The worker side of a trial: the task Dask runs, and its line back to the driver."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from workbench.search._protocol import (
    Reporter,
    TrialData,
    TrialPruned,
    TrialResult,
    TrialSpec,
    WorkerResources,
)

__all__ = [
    "DaskReporter",
    "TrialFunction",
    "execute_trial",
    "prune_event_name",
    "report_topic",
    "trial_resources",
]

TrialFunction = Callable[[TrialSpec, TrialData, WorkerResources, Reporter], TrialResult]


def report_topic(run_id: str) -> str:
    return f"wb-reports-{run_id}"


def prune_event_name(run_key: str) -> str:
    """The Dask event the driver sets to stop one submission of a trial (`TrialSpec.run_key`)."""
    return f"wb-prune-{run_key}"


class DaskReporter:
    """Sends "started" and intermediate values to the driver as worker events (batched on the worker's
    existing stream to the scheduler: no round trip), and raises TrialPruned once the driver has set the
    trial's prune event. Outside a Dask worker it records values only."""

    def __init__(self, spec: TrialSpec) -> None:
        self.spec = spec
        self.values: list[tuple[int, float]] = []
        self._worker: Any = None
        self._prune: Any = None
        if spec.run_id:
            try:
                from distributed import get_worker

                self._worker = get_worker()
            except ValueError:  # not inside a worker: nobody to report to
                self._worker = None

    def _send(self, message: tuple[Any, ...]) -> None:
        if self._worker is not None:
            self._worker.log_event(report_topic(self.spec.run_id), message)

    def _send_now(self, message: tuple[Any, ...]) -> None:
        """Send `message` and return once the scheduler has it (a round trip of a few ms): the driver blames
        a lost worker on the trials it knows were running there, and a batched message sent just before
        the worker died (a crash, os._exit) dies with it."""
        if self._worker is None:
            return
        try:
            from distributed import get_client

            client = get_client()
        except Exception:  # a worker that cannot open a client to its scheduler still reports, batched
            self._send(message)
            return
        client.log_event(report_topic(self.spec.run_id), message)

    def started(self, address: str, limit_s: float | None = None) -> None:
        """Tell the driver the trial started here, and the time limit it runs under (None: none)."""
        self._send_now(("started", self.spec.run_key, address, time.time(), limit_s))

    def ended(self) -> None:
        """Tell the driver the trial's code returned (also after the driver cancelled it): its worker is free."""
        self._send_now(("ended", self.spec.run_key))

    def report(self, step: int, value: float) -> None:
        self.values.append((int(step), float(value)))
        self._send(("report", self.spec.run_key, int(step), float(value)))
        if self.should_prune():
            raise TrialPruned(f"pruned at step {step}")

    def should_prune(self) -> bool:
        if self._worker is None:
            return False
        if self._prune is None:
            from distributed import Event, get_client

            self._prune = Event(prune_event_name(self.spec.run_key), client=get_client())
        return bool(self._prune.is_set())


def trial_resources(spec: TrialSpec, resources: WorkerResources) -> WorkerResources:
    """What a trial starting now may use: its worker's resources, the cores the driver lent it
    (`spec.cpus`), and its deadline (`spec.limit_at_start()` from now)."""
    if spec.cpus:
        resources = replace(resources, cpus=max(1, int(spec.cpus)))
    limit = spec.limit_at_start()
    if limit is not None:
        resources = replace(resources, deadline=time.monotonic() + limit)
    return resources


def execute_trial(function: TrialFunction, spec: TrialSpec, data: TrialData) -> TrialResult:
    """Run one trial on whatever worker Dask chose. Stateless: it writes nothing anywhere."""
    resources = trial_resources(spec, WorkerResources.current())
    reporter = DaskReporter(spec)
    reporter.started(resources.address, resources.time_left())
    start = time.perf_counter()
    try:
        result = function(spec, data, resources, reporter)
    except TrialPruned:
        result = TrialResult(status="pruned")
    except MemoryError:
        raise
    except Exception as exc:
        # Only the message crosses the wire: exception objects from model libraries may not unpickle.
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise RuntimeError(f"trial {spec.key} failed: {detail}") from None
    finally:
        _shutdown_ray()
        reporter.ended()
    result.intermediate = result.intermediate or reporter.values
    result.worker = resources.address
    result.duration_s = time.perf_counter() - start
    return result


def _shutdown_ray() -> None:
    """AutoGluon may start Ray inside the worker; never leave it running after a trial."""
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        ray.shutdown()
