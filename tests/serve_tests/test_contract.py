from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serve_support import SUBPROCESS_ENV, FileSource

from workbench.model import FittedModel
from workbench.serve import contract_check
from workbench.serve._contract import edge_records

pytestmark = pytest.mark.slow


def test_contract_check_passes(fitted: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", SUBPROCESS_ENV["PYTHONPATH"])
    source = FileSource(fitted[0])
    loaded = source.load()
    rows = edge_records(loaded.input_schema)
    assert any(r.get("island") == "__unseen_category__" for r in rows) and any("sex" not in r for r in rows)
    report = contract_check(source, loaded, b1_requests=50, b100_requests=10)
    assert report.passed and report.mismatches == []
    assert set(report.latency_ms) == {"b1", "b100"}
    assert all(set(figures) == {"p50", "p99"} for figures in report.latency_ms.values())
    assert report.to_dict()["passed"] is True


class Rolled(FittedModel):
    """The served model with its class probabilities rotated: what a server answering wrongly looks like."""

    def __init__(self, inner: FittedModel) -> None:
        self.inner = inner
        self.problem_type = inner.problem_type
        self.classes_ = inner.classes_
        self.input_schema_ = inner.input_schema_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.roll(self.inner.predict_proba(X), 1, axis=1)

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        raise TypeError("a classifier")


def test_contract_check_fails_when_answers_differ(
    fitted: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", SUBPROCESS_ENV["PYTHONPATH"])
    source = FileSource(fitted[0])
    loaded = source.load()
    report = contract_check(source, replace(loaded, model=Rolled(loaded.model)), b1_requests=5, b100_requests=2)
    assert not report.passed
    assert any("predictions differ" in m for m in report.mismatches)
    assert any("/invocations" in m for m in report.mismatches)
