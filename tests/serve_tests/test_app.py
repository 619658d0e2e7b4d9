"""In-process tests of the model server (TestClient): routes, parity with the model, bad requests, auth."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serve_support import BrokenSource, FileSource

from workbench.model import FittedModel
from workbench.serve import ServeSettings, create_app
from workbench.serve._schema import json_depth, oip_datatype


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return out


def oip(model: FittedModel, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": c.name, "shape": [len(rows)], "datatype": oip_datatype(c), "data": [r.get(c.name) for r in rows]}
            for c in model.input_schema_.columns
        ]
    }


def test_metadata_routes(client: TestClient, model: FittedModel) -> None:
    assert client.get("/v2").json()["name"] == "workbench"
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/ping").status_code == 200
    assert client.get("/v2/models/penguins/ready").status_code == 200
    assert client.get("/v2/models/penguins/versions/1/ready").status_code == 200
    meta = client.get("/v2/models/penguins").json()
    assert meta["versions"] == ["1"]
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {
        "island": "BYTES",
        "bill_length_mm": "FP64",
        "bill_depth_mm": "FP64",
        "flipper_length_mm": "FP64",
        "body_mass_g": "FP64",
        "sex": "BYTES",
        "year": "INT64",
    }
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert meta["outputs"][1]["shape"] == [-1, 3]
    assert client.get("/v2/models/penguins/versions/1").status_code == 200
    assert client.get("/v2/models/other").status_code == 404
    assert client.get("/v2/models/penguins/versions/9").status_code == 404
    assert client.post("/v2/models/other/infer", json=oip(model, [{}])).status_code == 404
    openapi = client.get("/openapi.json").json()
    assert "InferenceRequest" in openapi["components"]["schemas"]


def test_predictions_equal_in_process(client: TestClient, model: FittedModel, rows: pd.DataFrame) -> None:
    assert client.get("/v2/models/penguins").json()["parameters"]["fast_path"] is True
    assert "workbench_model_fast_path 1" in client.get("/metrics").text
    check_predictions(client, model, rows)


@pytest.mark.parametrize(("limit_s", "inline"), [(3600.0, True), (0.0, False)])
def test_small_requests_run_inline_only_for_a_fast_enough_fast_path(
    source: FileSource, monkeypatch: pytest.MonkeyPatch, limit_s: float, inline: bool
) -> None:
    """The decision follows the row time measured at load against INLINE_MAX_S (no wall-clock assert)."""
    from workbench.serve import _state

    monkeypatch.setattr(_state, "INLINE_MAX_S", limit_s)
    prepared = _state.prepare(source.load(), max_rows=100)
    assert prepared.fast is not None and prepared.inline is inline
    assert _state.prepare(source.load(), max_rows=100, fast_path=False).inline is False


def test_predictions_through_pandas_equal_in_process(
    fitted: tuple[Path, pd.DataFrame], model: FittedModel, rows: pd.DataFrame
) -> None:
    with TestClient(
        base_url="http://127.0.0.1", app=create_app(FileSource(fitted[0], frame_only=True), ServeSettings())
    ) as frame_client:
        from serve_support import wait_ready

        wait_ready(frame_client)
        assert frame_client.get("/v2/models/penguins").json()["parameters"]["fast_path"] is False
        assert "workbench_model_fast_path 0" in frame_client.get("/metrics").text
        assert not frame_client.app.state.holder.current.inline  # type: ignore[attr-defined]
        check_predictions(frame_client, model, rows)


def check_predictions(client: TestClient, model: FittedModel, rows: pd.DataFrame) -> None:
    """Every inference route, batches and single rows, answers exactly what the model predicts in-process."""
    batch = records(rows)
    expected = model.predict_proba(rows)
    labels = model.predict(rows).tolist()

    body = client.post("/v2/models/penguins/infer", json=oip(model, batch) | {"id": "r1"}).json()
    assert body["id"] == "r1" and body["model_version"] == "1"
    out = {o["name"]: o for o in body["outputs"]}
    assert out["probabilities"]["shape"] == [len(rows), 3]
    np.testing.assert_allclose(np.reshape(out["probabilities"]["data"], expected.shape), expected, rtol=1e-12)
    assert out["label"]["data"] == labels
    assert client.post("/v2/models/penguins/versions/1/infer", json=oip(model, batch)).status_code == 200

    single = client.post("/v2/models/penguins/infer", json=oip(model, batch[:1])).json()
    np.testing.assert_allclose(single["outputs"][1]["data"], expected[0], rtol=1e-12)

    columns = list(rows.columns)
    split = {"columns": columns, "data": [[r[c] for c in columns] for r in batch]}
    by_column = {c: [r[c] for r in batch] for c in columns}
    for payload in (
        {"dataframe_split": split},
        {"dataframe_records": batch},
        {"instances": batch},
        {"inputs": by_column},
        {"inputs": batch},
    ):
        response = client.post("/invocations", json=payload)
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": labels}

    predicted = client.post("/predict", json=batch).json()
    assert predicted["predictions"] == labels and predicted["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    np.testing.assert_allclose(predicted["probabilities"], expected, rtol=1e-12)


def test_edge_values_accepted(client: TestClient, model: FittedModel) -> None:
    row = {"island": "Atlantis", "bill_length_mm": 1e30, "bill_depth_mm": -1e30, "flipper_length_mm": 0, "year": 2007}
    response = client.post("/predict", json=[row])  # unseen category, extreme numbers, optional columns missing
    assert response.status_code == 200
    frame = pd.DataFrame([{**row, "body_mass_g": np.nan, "sex": None}])[list(model.input_schema_.names)]
    frame = frame.astype({"flipper_length_mm": "float64"})
    np.testing.assert_allclose(response.json()["probabilities"], model.predict_proba(frame), rtol=1e-12)


def test_numbers_beyond_float32_are_refused(client: TestClient) -> None:
    response = client.post("/predict", json=[{"island": "Dream", "bill_length_mm": 1e300, "year": 2008}])
    assert response.status_code == 422 and "3.4e38" in response.json()["error"]


GOOD = {"island": "Dream", "bill_length_mm": 40.0, "sex": "male", "year": 2008}

BAD_BODIES: list[tuple[str, str, bytes | str, int]] = [
    ("malformed json", "/predict", b'[{"island": ', 400),
    ("not utf-8", "/predict", b"[\xff\xfe]", 400),
    ("empty body", "/predict", b"", 400),
    ("NaN in a required column", "/predict", '[{"island": "Dream", "year": NaN}]', 400),
    ("NaN in a categorical column", "/predict", '[{"island": "Dream", "year": 2008, "sex": NaN}]', 400),
    ("Infinity token", "/predict", '[{"island": "Dream", "year": 2008, "bill_length_mm": Infinity}]', 400),
    (
        "-Infinity token",
        "/invocations",
        '{"inputs": {"island": ["Dream"], "year": [2008], "body_mass_g": [-Infinity]}}',
        400,
    ),
    ("deep nesting", "/predict", "[" * 40 + "]" * 40, 400),
    ("very deep nesting", "/invocations", "[" * 100_000 + "]" * 100_000, 400),
    ("empty list", "/predict", "[]", 422),
    ("not a list", "/predict", '{"island": "Dream"}', 422),
    ("string in numeric", "/predict", json.dumps([{**GOOD, "bill_length_mm": "long"}]), 422),
    ("bool in numeric", "/predict", json.dumps([{**GOOD, "year": True}]), 422),
    ("number in categorical", "/predict", json.dumps([{**GOOD, "island": 3}]), 422),
    ("nested value", "/predict", json.dumps([{**GOOD, "island": ["Dream"]}]), 422),
    ("missing required", "/predict", json.dumps([{"island": "Dream"}]), 422),
    ("null in required", "/predict", json.dumps([{**GOOD, "year": None}]), 422),
    ("extra column", "/predict", json.dumps([{**GOOD, "<script>secret</script>": 1}]), 422),
    ("huge integer", "/predict", json.dumps([{**GOOD, "bill_length_mm": 10**400}]), 422),
    ("too many rows", "/predict", json.dumps([GOOD] * 101), 413),
    ("two formats", "/invocations", json.dumps({"instances": [GOOD], "dataframe_records": [GOOD]}), 422),
    ("no format", "/invocations", "{}", 422),
    ("unknown key", "/invocations", json.dumps({"records": [GOOD]}), 422),
    (
        "ragged split",
        "/invocations",
        json.dumps({"dataframe_split": {"columns": ["island", "year"], "data": [["Dream"]]}}),
        422,
    ),
    ("ragged columns", "/invocations", json.dumps({"inputs": {"island": ["Dream", "Biscoe"], "year": [2008]}}), 422),
    ("oip no inputs", "/v2/models/penguins/infer", json.dumps({"inputs": []}), 422),
    (
        "oip wrong datatype",
        "/v2/models/penguins/infer",
        json.dumps({"inputs": [{"name": "year", "shape": [1], "datatype": "BYTES", "data": ["2008"]}]}),
        422,
    ),
    (
        "oip shape mismatch",
        "/v2/models/penguins/infer",
        json.dumps(
            {
                "inputs": [
                    {"name": "island", "shape": [2], "datatype": "BYTES", "data": ["Dream"]},
                    {"name": "year", "shape": [1], "datatype": "INT64", "data": [2008]},
                ]
            }
        ),
        422,
    ),
    (
        "oip duplicate input",
        "/v2/models/penguins/infer",
        json.dumps({"inputs": [{"name": "year", "shape": [1], "datatype": "INT64", "data": [2008]}] * 2}),
        422,
    ),
    (
        "oip unknown output",
        "/v2/models/penguins/infer",
        json.dumps(
            {
                "inputs": [
                    {"name": "island", "shape": [1], "datatype": "BYTES", "data": ["Dream"]},
                    {"name": "year", "shape": [1], "datatype": "INT64", "data": [2008]},
                ],
                "outputs": [{"name": "nope"}],
            }
        ),
        422,
    ),
]


@pytest.fixture
def strict_client(source: FileSource) -> Any:
    # raise_server_exceptions: any request reaching the catch-all 500 handler fails the test loudly.
    settings = ServeSettings(max_batch_rows=100, max_body_bytes=1_000_000)
    with TestClient(base_url="http://127.0.0.1", app=create_app(source, settings), raise_server_exceptions=True) as c:
        from serve_support import wait_ready

        wait_ready(c)
        yield c


@pytest.mark.parametrize(("label", "path", "body", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_requests_are_4xx_without_echo(
    strict_client: TestClient, label: str, path: str, body: bytes | str, status: int
) -> None:
    raw = body.encode() if isinstance(body, str) else body
    response = strict_client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert (
        "secret" not in message and "long" not in message and "Infinity" not in message.replace("NaN and Infinity", "")
    )
    assert strict_client.app.state.metrics.unhandled_errors == 0  # type: ignore[attr-defined]


def test_body_limit_and_bad_content_length(strict_client: TestClient) -> None:
    big = b"[" + b" " * 1_100_000 + b"]"
    assert strict_client.post("/predict", content=big).status_code == 413

    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 100_000

    assert strict_client.post("/predict", content=chunks()).status_code == 413


def _reference_depth(body: bytes) -> int:
    """Bracket depth by a byte-at-a-time walk of JSON's string rules. A backslash outside a string is
    invalid JSON, which the parser refuses where it stands (so no deeper nesting after it is parsed); there
    the walk, like the scan, takes a quote right after an odd run of backslashes as escaped."""
    depth = deepest = 0
    inside = escaped = False
    for byte in body:
        char = chr(byte)
        if escaped:
            escaped = False
            if inside or char in '"\\':
                continue
        if inside:
            if char == "\\":
                escaped = True
            elif char == '"':
                inside = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def test_json_depth_scan_skips_strings() -> None:
    assert json_depth(b'[[{"a": "[[[[[[[["}]]') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b'["\\\\", [["x"]]]') == 3  # an escaped backslash does not escape the quote after it
    rng = np.random.default_rng(0)
    alphabet = np.frombuffer(b'[]{}"\\a', dtype=np.uint8)
    for _ in range(2000):
        body = rng.choice(alphabet, size=int(rng.integers(1, 40))).tobytes()
        assert json_depth(body) == _reference_depth(body), body


def test_a_body_built_to_stall_the_depth_scan_is_answered(strict_client: TestClient) -> None:
    # Unclosed escaped quotes made the former regex pre-scan quadratic (a 20 KB body held the GIL for 3 s).
    body = b"[" * 40 + b'\\"' * 10_000
    assert json_depth(body) == 40
    answer = strict_client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "nested deeper" in answer.json()["error"]


def test_auth(source: FileSource, model: FittedModel) -> None:
    with TestClient(base_url="http://127.0.0.1", app=create_app(source, ServeSettings(api_key="s3cret-key"))) as c:
        from serve_support import wait_ready

        wait_ready(c)
        payload = [GOOD]
        assert c.get("/v2/health/live").status_code == 200
        assert c.get("/ping").status_code == 200
        assert c.post("/predict", json=payload).status_code == 401
        assert c.post("/predict", json=payload, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/predict", json=payload, headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert c.post("/predict", json=payload, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        assert c.get("/v2/models/penguins").status_code == 401
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"X-API-Key": "s3cret-key"}).status_code == 200


def test_not_ready_until_loaded_and_broken_source(fitted: tuple[Path, pd.DataFrame]) -> None:
    with TestClient(base_url="http://127.0.0.1", app=create_app(FileSource(fitted[0], load_delay_s=1.0))) as c:
        assert c.get("/v2/health/live").status_code == 200
        for path in ("/v2/health/ready", "/ping", "/v2/models/penguins/ready"):
            response = c.get(path)
            assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert c.post("/predict", json=[GOOD]).status_code == 503
        from serve_support import wait_ready

        wait_ready(c)
    with TestClient(base_url="http://127.0.0.1", app=create_app(BrokenSource())) as c:
        assert c.get("/v2/health/live").status_code == 200
        assert c.get("/v2/health/ready").status_code == 503


def test_metrics_and_reload(tmp_path: Path, fitted: tuple[Path, pd.DataFrame]) -> None:
    version = tmp_path / "version"
    version.write_text("1")
    source = FileSource(fitted[0], version_file=version)
    with TestClient(base_url="http://127.0.0.1", app=create_app(source)) as open_server:
        from serve_support import wait_ready

        wait_ready(open_server)
        refused = open_server.post("/v2/repository/models/penguins/load")  # no key: nobody may swap the model
        assert refused.status_code == 403 and "SIGHUP" in refused.json()["error"]
    key = {"X-API-Key": "k-reload"}
    with TestClient(base_url="http://127.0.0.1", app=create_app(source, ServeSettings(api_key="k-reload"))) as c:
        wait_ready(c)
        assert c.post("/predict", json=[GOOD], headers=key).status_code == 200
        version.write_text("2")  # the alias moved
        assert c.post("/v2/repository/models/penguins/load").status_code == 401
        response = c.post("/v2/repository/models/penguins/load", headers=key)
        assert response.json() == {"name": "penguins", "version": "2", "loaded": True}
        assert c.get("/v2/models/penguins", headers=key).json()["versions"] == ["2"]
        text = c.get("/metrics", headers=key).text
    assert 'workbench_requests_total{route="/predict",method="POST",status="200"} 1' in text
    assert 'workbench_model_info{name="penguins",version="2"} 1' in text
    assert 'workbench_request_duration_seconds_bucket{route="/predict",le="+Inf"} 1' in text
    assert "workbench_requests_in_flight 0" in text and "workbench_model_reloads_total 1" in text


def test_the_host_names_a_server_answers() -> None:
    from workbench.serve import allowed_hosts_for
    from workbench.serve._hosts import host_name

    assert allowed_hosts_for("127.0.0.1") == ("127.0.0.1", "localhost", "::1")
    assert allowed_hosts_for("10.0.0.5") == ("127.0.0.1", "localhost", "::1", "10.0.0.5")
    assert allowed_hosts_for("0.0.0.0") == ("127.0.0.1", "localhost", "::1", "*")  # clients name it as they know it
    assert allowed_hosts_for("0.0.0.0", ["models.example"]) == ("127.0.0.1", "localhost", "::1", "models.example")
    assert [host_name(h) for h in (b"[::1]:8000", b"LocalHost:80", b"::1", b"evil.example")] == [
        "::1",
        "localhost",
        "::1",
        "evil.example",
    ]
