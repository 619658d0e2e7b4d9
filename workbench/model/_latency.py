"""Predict latency, measured the same way for every model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.model._base import FittedModel

__all__ = ["Latency", "measure_latency", "measuring_s"]

# Each series of timed calls stops after MAX_S seconds once it has MIN_CALLS calls: its median is then
# steady to a few percent, and timing a slow model 25 times would take seconds of its trial.
MAX_S = 0.5
MIN_CALLS = 5


@dataclass(frozen=True)
class Latency:
    row_ms: float  # median time of one single-row predict call
    batch_ms: float  # median time of one predict call on `batch_rows` rows
    batch_rows: int


def measure_latency(
    model: FittedModel,
    rows: pd.DataFrame,
    single_calls: int = 20,
    batch_rows: int = 100,
    batch_calls: int = 5,
    max_s: float = MAX_S,
) -> Latency:
    """Median single-row and batch latency of the call a server makes (predict_proba for classifiers).

    At most `single_calls` single-row calls and `batch_calls` batch calls; a slow model (an AutoGluon
    ensemble of bags: 70 ms a row) stops each series once it has taken `max_s`, after MIN_CALLS calls."""
    call = model.predict_proba if model.problem_type != "regression" else model.predict
    call(rows.iloc[:1])  # warm caches and lazy loads outside the measurement
    singles = _timed(call, (rows.iloc[[i % len(rows)]] for i in range(single_calls)), max_s)
    batch = rows.iloc[np.arange(batch_rows) % len(rows)]
    batches = _timed(call, (batch for _ in range(batch_calls)), max_s)
    return Latency(float(np.median(singles) * 1e3), float(np.median(batches) * 1e3), batch_rows)


def measuring_s(call_s: float, single_calls: int = 20, batch_calls: int = 5, max_s: float = MAX_S) -> float:
    """About how long `measure_latency` takes for a model whose every call takes `call_s` seconds."""
    timed = max(MIN_CALLS, math.ceil(max_s / max(call_s, 1e-9)))  # the calls a series makes before it stops
    return call_s * (1 + min(single_calls, timed) + min(batch_calls, timed))


def _timed(call: Callable[[pd.DataFrame], object], inputs: Iterable[pd.DataFrame], max_s: float) -> list[float]:
    """The seconds of each call on `inputs`, until they add up to `max_s` (MIN_CALLS calls at least)."""
    times: list[float] = []
    for rows in inputs:
        start = time.perf_counter()
        call(rows)
        times.append(time.perf_counter() - start)
        if len(times) >= MIN_CALLS and sum(times) >= max_s:
            break
    return times
