"""Predict latency, measured the same way for every model."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.model._base import FittedModel

__all__ = ["Latency", "measure_latency"]


@dataclass(frozen=True)
class Latency:
    row_ms: float  # median time of one single-row predict call
    batch_ms: float  # median time of one predict call on `batch_rows` rows
    batch_rows: int


def measure_latency(model: FittedModel, rows: pd.DataFrame, single_calls: int = 20, batch_rows: int = 100) -> Latency:
    """Median single-row and batch latency of the call a server makes (predict_proba for classifiers)."""
    call = model.predict_proba if model.problem_type != "regression" else model.predict
    call(rows.iloc[:1])  # warm caches and lazy loads outside the measurement
    singles = []
    for i in range(single_calls):
        row = rows.iloc[[i % len(rows)]]
        start = time.perf_counter()
        call(row)
        singles.append(time.perf_counter() - start)
    batch = rows.iloc[np.arange(batch_rows) % len(rows)]
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        call(batch)
        batches.append(time.perf_counter() - start)
    return Latency(float(np.median(singles) * 1e3), float(np.median(batches) * 1e3), batch_rows)
