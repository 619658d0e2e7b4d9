from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from serve_support import SUBPROCESS_ENV, FileSource

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
    assert report.passed, report.mismatches
    assert set(report.latency_ms) == {"b1", "b100"}
    assert 0 < report.latency_ms["b1"]["p50"] <= report.latency_ms["b1"]["p99"]
