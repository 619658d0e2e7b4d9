"""What crosses the wire between the driver and a worker: the trial to run, the data, and the result.

Workers are stateless: a trial task gets everything it needs as arguments and returns everything the
driver records. Only the driver writes to the store, so a task that Dask recomputes (after a worker
died) can never create a second trial.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from workbench.store import TrialData

__all__ = [
    "CandidateResult",
    "Reporter",
    "TrialData",
    "TrialPruned",
    "TrialResult",
    "TrialSpec",
    "WorkerResources",
]


class TrialPruned(Exception):
    """Raised inside a trial when the driver decided to prune it."""


@dataclass(frozen=True)
class TrialSpec:
    experiment_id: int
    engine: str
    number: int  # per experiment and engine, assigned by the driver
    params: dict[str, Any]
    seed: int
    time_limit_s: float | None = None
    needs_gpu: bool = False
    run_id: str = ""  # names the driver's report queue for this search run

    @property
    def key(self) -> str:
        """The Dask key of the trial's task, unique per trial."""
        return f"wb-trial-{self.experiment_id}-{self.engine}-{self.number}"


@dataclass(frozen=True)
class WorkerResources:
    """What the worker a trial landed on may use."""

    cpus: int
    gpus: int = 0
    gpu_ids: tuple[str, ...] = ()
    address: str = ""

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
