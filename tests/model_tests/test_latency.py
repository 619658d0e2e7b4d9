"""Latency is measured by timing the call a server makes; a slow model's measurement stays bounded."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from workbench.model import FittedModel, InputSchema, measure_latency, measuring_s


class TimedRegressor(FittedModel):
    """A regressor whose every call takes `call_s` seconds, counting its calls and the rows it was given."""

    def __init__(self, call_s: float) -> None:
        self.problem_type = "regression"
        self.classes_ = None
        self.input_schema_ = InputSchema.from_frame(pd.DataFrame({"x": [0.0]}))
        self.call_s = call_s
        self.calls: list[int] = []

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError("a regressor")

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(X))
        time.sleep(self.call_s)
        return np.zeros(len(X))


ROWS = pd.DataFrame({"x": np.arange(30, dtype=float)})


def test_a_quick_model_is_timed_on_every_call() -> None:
    model = TimedRegressor(0.0)
    latency = measure_latency(model, ROWS)
    # One warm-up call, 20 single rows, 5 batches of 100.
    assert model.calls == [1] + [1] * 20 + [100] * 5
    assert latency.batch_rows == 100 and latency.row_ms >= 0.0 and latency.batch_ms >= 0.0
    assert measuring_s(0.001) == pytest.approx(0.026)


def test_a_slow_model_stops_each_series_after_its_time_with_five_calls_at_least() -> None:
    model = TimedRegressor(0.15)
    latency = measure_latency(model, ROWS)
    # 0.5 s per series: 4 calls of 0.15 s reach 0.6 s, but each series makes five.
    assert model.calls == [1] + [1] * 5 + [100] * 5
    assert latency.row_ms >= 150.0 and latency.batch_ms >= 150.0
    assert measuring_s(0.15) == pytest.approx(0.15 * 11)
    slower = TimedRegressor(0.01)
    measure_latency(slower, ROWS, max_s=0.1)
    singles = slower.calls[1:-5]
    # Every call takes 0.01 s at least: ten singles reach 0.1 s (fewer when the machine is slow); five
    # batches are the most.
    assert singles == [1] * len(singles) and 5 <= len(singles) <= 10 and slower.calls[-5:] == [100] * 5
    assert measuring_s(0.01, max_s=0.1) == pytest.approx(0.01 * 16)
