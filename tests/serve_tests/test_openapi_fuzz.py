"""Schemathesis against the served OpenAPI document: no generated request may end in a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from serve_support import SUBPROCESS_ENV, FileSource

from workbench.serve import ServeSettings
from workbench.serve._contract import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_url(fitted: tuple[Path, pd.DataFrame]) -> Iterator[str]:
    with running_server(FileSource(fitted[0]), ServeSettings(max_batch_rows=200), 60, SUBPROCESS_ENV) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(live_url: str) -> Any:
    return schemathesis.openapi.from_url(live_url + "/openapi.json")


def test_no_server_errors(api_schema: Any, live_url: str) -> None:
    # Schemathesis' pytest plugin does not load under this pytest; drive its strategies with hypothesis.
    checked: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            response = case.call(timeout=10)
            assert response.status_code < 500, (case.method, case.path, response.status_code)

        run()
        checked.append(operation.label)
    assert len(checked) >= 14, checked
    assert "workbench_unhandled_errors_total 0" in httpx.get(live_url + "/metrics", timeout=10).text
