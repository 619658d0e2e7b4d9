"""What crosses the wire between the driver and a worker: the trial to run, the data, and the result.

Workers are stateless: a trial task gets everything it needs as arguments and returns everything the
driver records. Only the driver writes to the store, so a task that Dask recomputes (after a worker
died) can never create a second trial.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from workbench.store import TrialData

__all__ = [
    "MIN_TRIAL_S",
    "CandidateResult",
    "Reporter",
    "TrialData",
    "TrialPruned",
    "TrialResult",
    "TrialSpec",
    "WorkerResources",
]


# A trial is never given less time than this, however little is left of the run's budget.
MIN_TRIAL_S = 5.0


class TrialPruned(Exception):
    """Raised inside a trial when the driver decided to prune it."""


@dataclass(frozen=True)
class TrialSpec:
    """One trial as the driver submits it.

    time_limit_s: how long the trial may take, fitting and scoring included (the time left of the run's
        budget when it was submitted); None: no limit. ends_at: the wall-clock time (`time.time()`) the
        run's budget ends, so that a trial that waited in a queue gets only what is left when it starts.
    cpus: the cores the trial may use when the driver lent it idle workers' cores; None: its worker's own.
    attempt: which submission of the trial this is. The driver submits a trial again when it moves it off
        a busy worker's queue or loses it with its worker; an earlier submission may still be running.
    """

    experiment_id: int
    engine: str
    number: int  # per experiment and engine, assigned by the driver
    params: dict[str, Any]
    seed: int
    time_limit_s: float | None = None
    needs_gpu: bool = False
    run_id: str = ""  # names the driver's report queue for this search run
    ends_at: float | None = None
    cpus: int | None = None
    attempt: int = 0

    @property
    def key(self) -> str:
        """The trial's name, unique per trial."""
        return f"wb-trial-{self.experiment_id}-{self.engine}-{self.number}"

    @property
    def run_key(self) -> str:
        """The Dask key of this submission of the trial: its messages and prune event carry it, so that an
        earlier submission still running is told apart from this one."""
        return f"{self.key}-{self.run_id}-{self.attempt}"

    def limit_at_start(self, now: float | None = None) -> float | None:
        """The trial's time limit counted from its start at wall-clock `now` (default: now): `time_limit_s`,
        cut to what is left of the budget (`ends_at`), never below MIN_TRIAL_S; None without a limit."""
        if self.time_limit_s is None:
            return None
        limit = float(self.time_limit_s)
        if self.ends_at is not None:
            left = self.ends_at - (time.time() if now is None else now)
            limit = min(limit, left)
        return max(MIN_TRIAL_S, limit)


@dataclass(frozen=True)
class WorkerResources:
    """What the worker a trial landed on may use: cores, GPUs, and time.

    deadline: the `time.monotonic()` reading (in the process running the trial) by which the work given
    these resources should be done; model fits stop training then and keep their best iteration. None: no
    limit.
    """

    cpus: int
    gpus: int = 0
    gpu_ids: tuple[str, ...] = ()
    address: str = ""
    deadline: float | None = None

    def time_left(self) -> float | None:
        """Seconds until the deadline (negative once past it); None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def out_of_time(self) -> bool:
        """Whether the deadline has passed (never without one)."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    @classmethod
    def local(cls) -> WorkerResources:
        return cls(cpus=os.cpu_count() or 1)

    @classmethod
    def current(cls) -> WorkerResources:
        """The resources of the Dask worker running this code; outside a worker, the local machine's."""
        try:
            from distributed import get_worker

            worker = get_worker()
        except ValueError:
            return cls.local()
        total = dict(worker.state.total_resources)
        cpus = int(total.get("CPU", worker.state.nthreads))
        gpus = int(total.get("GPU", 0))
        # dask-cuda gives each worker every GPU, its own first: keep only the worker's own devices.
        visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
        return cls(cpus=max(cpus, 1), gpus=gpus, gpu_ids=tuple(visible[:gpus]), address=worker.address)


class Reporter(Protocol):
    """A trial's line back to the driver while it runs."""

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value (a boosting round's or epoch's valid score); raises TrialPruned when
        the driver decided to stop this trial."""

    def should_prune(self) -> bool:
        """Whether the driver asked this trial to stop."""


@dataclass
class CandidateResult:
    """One fitted model and how it did, as a worker returns it."""

    name: str
    model_type: str
    valid_pred: np.ndarray  # probabilities (n, k) in TrialData.classes order, or values
    test_pred: np.ndarray
    valid_score: float
    test_score: float
    fit_time_s: float
    predict_row_ms: float
    predict_batch_ms: float  # one call on `batch_rows` (100) rows
    size_bytes: int
    params: dict[str, Any]
    artifact: str  # the name, in TrialResult.artifacts, of the bytes that hold this model
    model_in_artifact: str | None = None  # which model inside a multi-model artifact (AutoGluon)
    calibration: dict[str, Any] | None = None  # Calibration.to_dict() when the metric is log loss


@dataclass
class TrialResult:
    status: Literal["complete", "pruned", "failed"]
    candidates: list[CandidateResult] = field(default_factory=list)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    values: Sequence[float] = ()  # the objective values told to the sampler
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    error: str | None = None
    worker: str = ""
    duration_s: float = 0.0
