from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serve_support import SUBPROCESS_ENV, FileSource, SlowModel

from workbench.model import FittedModel, LoadedModel
from workbench.serve import contract_check
from workbench.serve._contract import _post, edge_records

pytestmark = pytest.mark.slow


@pytest.fixture
def served(fitted: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> tuple[FileSource, LoadedModel]:
    """The fitted model's source, which the server subprocess imports, and its in-process load."""
    monkeypatch.setenv("PYTHONPATH", SUBPROCESS_ENV["PYTHONPATH"])
    source = FileSource(fitted[0])
    return source, source.load()


def test_contract_check_passes(served: tuple[FileSource, LoadedModel]) -> None:
    source, loaded = served
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


def test_contract_check_fails_when_answers_differ(served: tuple[FileSource, LoadedModel]) -> None:
    source, loaded = served
    report = contract_check(source, replace(loaded, model=Rolled(loaded.model)), b1_requests=5, b100_requests=2)
    assert not report.passed
    assert any("predictions differ" in m for m in report.mismatches)
    assert any("/invocations" in m for m in report.mismatches)


class SlowFirstPrediction(SlowModel):
    """The served model, whose first prediction in this process takes `delay_s`: longer than uvicorn keeps an
    idle connection open (5 s), as an AutoGluon model's first prediction can when its library loads."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        delay_s, self.delay_s = self.delay_s, 0.0
        time.sleep(delay_s)
        return self.inner.predict_proba(X)


def test_a_slow_first_in_process_prediction_does_not_break_the_check(served: tuple[FileSource, LoadedModel]) -> None:
    source, loaded = served
    slow = replace(loaded, model=SlowFirstPrediction(loaded.model, delay_s=6.0))
    report = contract_check(source, slow, b1_requests=5, b100_requests=2)
    assert report.passed and report.mismatches == []


class ClosesAfterEachAnswer(http.server.BaseHTTPRequestHandler):
    """Answers with keep-alive (HTTP/1.1, no `Connection: close`), then closes: what a client sees of a
    server that closed the kept-alive connection while it was idle."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"answer": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_request_on_a_connection_the_server_closed_is_sent_again_on_a_new_one() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ClosesAfterEachAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        answers = [_post(conn, f"/r{i}", {"i": i}) for i in range(3)]
        time.sleep(0.2)  # the server has closed the connection by now
        answers.append(_post(conn, "/late", {}))
    finally:
        conn.close()
        server.shutdown()
        server.server_close()
    assert answers == [(200, {"answer": path}) for path in ("/r0", "/r1", "/r2", "/late")]
