"""Triton's own OIP v2 client (`tritonclient.http`) against a real uvicorn server on 127.0.0.1: JSON and binary
tensors both ways, missing values as NaN, every datatype a column takes; and malformed binary bodies, sent raw."""

from __future__ import annotations

import json
import string
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from serve_support import SUBPROCESS_ENV, FileSource, TableModel, fit_pickled
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from workbench.model import FittedModel, InputSchema, dumps_model, loads_model
from workbench.serve import ServeSettings
from workbench.serve._contract import running_server
from workbench.serve._schema import oip_datatype

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MAX_BODY = 200_000


def _serve(path: Path, name: str) -> Any:
    settings = ServeSettings(max_body_bytes=MAX_BODY, max_batch_rows=1000)
    return running_server(FileSource(path, name=name), settings, 60, SUBPROCESS_ENV)


@pytest.fixture(scope="module")
def penguins_url(fitted: tuple[Path, pd.DataFrame]) -> Iterator[str]:
    with _serve(fitted[0], "penguins") as url:
        yield url


@pytest.fixture(scope="module")
def grunfeld(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A LightGBM regressor fitted on grunfeld (every column required), pickled, and its held-out rows."""
    return fit_pickled(tmp_path_factory.mktemp("grunfeld"), "grunfeld")


@pytest.fixture(scope="module")
def grunfeld_url(grunfeld: tuple[Path, pd.DataFrame]) -> Iterator[str]:
    with _serve(grunfeld[0], "grunfeld") as url:
        yield url


@pytest.fixture(scope="module")
def table_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("table") / "table.pkl"
    path.write_bytes(dumps_model(TableModel()))
    with _serve(path, "table") as url:
        yield url


def _client(url: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url.removeprefix("http://"), connection_timeout=10, network_timeout=10)


def _inputs(
    frame: pd.DataFrame, schema: InputSchema, binary: bool, datatypes: dict[str, str] | None = None
) -> list[triton.InferInput]:
    """One tritonclient input per column of `frame`, in the datatype the server advertises unless given."""
    inputs = []
    for spec in schema.columns:
        if spec.name not in frame.columns:
            continue
        datatype = (datatypes or {}).get(spec.name, oip_datatype(spec))
        column = frame[spec.name]
        if datatype == "BYTES":
            array = np.array([str(v) for v in column], dtype=object)
        else:
            array = column.to_numpy(dtype=triton_to_np_dtype(datatype))
        tensor = triton.InferInput(spec.name, [len(frame)], datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def _strings(array: np.ndarray) -> list[Any]:
    return [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]


def _sent_as(result: triton.InferResult, name: str) -> str:
    output = result.get_output(name)
    assert output is not None
    return "binary" if "binary_data_size" in (output.get("parameters") or {}) else "json"


def _penguins_with_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """Test rows with a category in every row (tritonclient has no missing string) and numbers left out."""
    frame = rows[rows["sex"].notna()].head(24).reset_index(drop=True)
    frame.loc[[0, 3], "bill_length_mm"] = np.nan
    frame.loc[[1, 3], "body_mass_g"] = np.nan
    frame.loc[2, ["bill_depth_mm", "flipper_length_mm"]] = np.nan
    return frame


# What the client asks for: no outputs listed (tritonclient then asks binary_data_output), or these outputs
# with binary_data true or false.
OUTPUTS: dict[str, list[tuple[str, bool]] | None] = {
    "default": None,
    "binary": [("label", True), ("probabilities", True)],
    "json": [("label", False), ("probabilities", False)],
    "mixed": [("label", False), ("probabilities", True)],
    "probabilities only": [("probabilities", True)],
}


@pytest.mark.parametrize("asked", list(OUTPUTS))
@pytest.mark.parametrize("binary_inputs", [False, True], ids=["json inputs", "binary inputs"])
def test_classification_through_tritonclient(
    penguins_url: str, model: FittedModel, rows: pd.DataFrame, binary_inputs: bool, asked: str
) -> None:
    frame = _penguins_with_gaps(rows)
    expected = model.predict_proba(frame)
    labels = model.predict(frame).tolist()
    wanted = OUTPUTS[asked]
    outputs = None if wanted is None else [triton.InferRequestedOutput(n, binary_data=b) for n, b in wanted]
    client = _client(penguins_url)
    try:
        result = client.infer("penguins", _inputs(frame, model.input_schema_, binary_inputs), outputs=outputs)
    finally:
        client.close()
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=1e-12)
    assert _sent_as(result, "probabilities") == ("json" if asked == "json" else "binary")
    if asked == "probabilities only":
        assert result.as_numpy("label") is None
    else:
        assert _strings(result.as_numpy("label")) == labels
        assert _sent_as(result, "label") == ("binary" if asked in ("default", "binary") else "json")


@pytest.mark.parametrize("binary_inputs", [False, True], ids=["json inputs", "binary inputs"])
def test_optional_columns_left_out_through_tritonclient(
    penguins_url: str, model: FittedModel, rows: pd.DataFrame, binary_inputs: bool
) -> None:
    frame = _penguins_with_gaps(rows)
    sent = frame.drop(columns=["sex", "flipper_length_mm"])
    expected = model.predict_proba(frame.assign(sex=None, flipper_length_mm=np.nan))
    client = _client(penguins_url)
    try:
        result = client.infer("penguins", _inputs(sent, model.input_schema_, binary_inputs), model_version="1")
    finally:
        client.close()
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=1e-12)


@pytest.mark.parametrize("binary_outputs", [False, True], ids=["json outputs", "binary outputs"])
@pytest.mark.parametrize("binary_inputs", [False, True], ids=["json inputs", "binary inputs"])
def test_regression_through_tritonclient(
    grunfeld_url: str, grunfeld: tuple[Path, pd.DataFrame], binary_inputs: bool, binary_outputs: bool
) -> None:
    model = loads_model(grunfeld[0].read_bytes())
    frame = grunfeld[1]
    client = _client(grunfeld_url)
    try:
        result = client.infer(
            "grunfeld",
            _inputs(frame, model.input_schema_, binary_inputs),
            outputs=[triton.InferRequestedOutput("prediction", binary_data=binary_outputs)],
        )
    finally:
        client.close()
    np.testing.assert_allclose(result.as_numpy("prediction"), model.predict_values(frame), rtol=1e-12)
    assert _sent_as(result, "prediction") == ("binary" if binary_outputs else "json")


@pytest.mark.parametrize("binary_inputs", [False, True], ids=["json inputs", "binary inputs"])
def test_missing_values_where_the_model_takes_none_are_refused_by_name(
    grunfeld_url: str, grunfeld: tuple[Path, pd.DataFrame], binary_inputs: bool
) -> None:
    model = loads_model(grunfeld[0].read_bytes())
    frame = grunfeld[1].head(3).copy()
    frame.loc[1, "capital"] = np.nan  # grunfeld has no missing values: every column is required
    client = _client(grunfeld_url)
    try:
        with pytest.raises(InferenceServerException) as refused:
            client.infer("grunfeld", _inputs(frame, model.input_schema_, binary_inputs))
        assert refused.value.status() == "400"
        assert "'capital'" in refused.value.message() and "missing value" in refused.value.message()
        frame.loc[1, "capital"] = np.inf
        with pytest.raises(InferenceServerException) as infinite:
            client.infer("grunfeld", _inputs(frame, model.input_schema_, binary_inputs))
        # JSON: tritonclient writes the token Infinity, refused as JSON; binary: refused by the column.
        assert infinite.value.status() == ("422" if binary_inputs else "400")
    finally:
        client.close()


def _table(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.5, np.nan, -2.25, 100.0, 0.0][:n],
            "n": [3, 0, 7, 100, 1][:n],
            "flag": [True, False, True, False, True][:n],
            "cat": ["a", "b", "c", "zz-unseen", "a"][:n],
            "when": ["2020-01-01", "2021-07-04T12:00:00", "1999-12-31", "2024-02-29", "2000-01-01"][:n],
        }
    )


def _expected(frame: pd.DataFrame) -> np.ndarray:
    return TableModel().predict_values(frame.assign(when=pd.to_datetime(frame["when"], format="ISO8601")))


NUMERIC = ["FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"]


@pytest.mark.parametrize("binary_inputs", [False, True], ids=["json inputs", "binary inputs"])
def test_every_datatype_a_column_takes_reaches_the_model(table_url: str, binary_inputs: bool) -> None:
    schema = TableModel.input_schema_
    client = _client(table_url)
    try:
        for datatype in NUMERIC:
            frame = _table(5) if datatype.startswith("FP") else _table(4).assign(x=[1, 2, 3, 100])
            # Each number travels in `datatype`; the model sees what the same numbers would be in-process.
            dtype = triton_to_np_dtype(datatype)
            sent = frame.assign(x=frame["x"].astype(dtype), n=frame["n"].astype(dtype))
            types = {"x": datatype, "n": datatype}
            result = client.infer("table", _inputs(sent, schema, binary_inputs, types))
            seen = frame.assign(x=sent["x"].astype(float), n=sent["n"].astype(np.int64))
            np.testing.assert_allclose(result.as_numpy("prediction"), _expected(seen), rtol=1e-12, err_msg=datatype)
        for wrong, column in (("FP64", "flag"), ("BOOL", "x"), ("INT64", "cat"), ("FP32", "when")):
            with pytest.raises(InferenceServerException) as refused:
                frame = _table(2).assign(**{column: [1, 0]})
                client.infer("table", _inputs(frame, schema, binary_inputs, {column: wrong}))
            assert refused.value.status() == "422" and f"'{column}'" in refused.value.message()
    finally:
        client.close()


def test_bool_elements_are_single_bytes_0_or_1(table_url: str) -> None:
    tensors = [
        ("x", "FP64", np.array([1.5]).tobytes()),
        ("n", "INT64", np.array([3], dtype="<i8").tobytes()),
        ("flag", "BOOL", b"\x01"),
        ("cat", "BYTES", struct.pack("<I", 1) + b"a"),
        ("when", "BYTES", struct.pack("<I", 10) + b"2020-01-01"),
    ]

    def infer(flag: bytes) -> httpx.Response:
        inputs = [
            {"name": name, "shape": [1], "datatype": datatype, "parameters": {"binary_data_size": len(blob)}}
            for name, datatype, blob in tensors
        ]
        header = json.dumps({"inputs": inputs}).encode()
        body = header + b"".join(flag if name == "flag" else blob for name, _, blob in tensors)
        return _post(table_url, "/v2/models/table/infer", body, {"Inference-Header-Content-Length": str(len(header))})

    answer = infer(b"\x01")
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == _expected(_table(1)).tolist()
    refused = infer(b"\x02")
    assert (
        refused.status_code == 400
        and refused.json()["error"] == "Input 'flag' is BOOL: each element is one byte, 0 or 1."
    )


def _post(url: str, path: str, body: bytes, headers: dict[str, str] | list[tuple[str, str]]) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=10) as c:
        return c.post(path, content=body, headers=headers)


def test_nan_literals_are_missing_values_on_every_route(
    penguins_url: str, model: FittedModel, rows: pd.DataFrame
) -> None:
    frame = _penguins_with_gaps(rows).head(6)
    frame.loc[4, "sex"] = None
    expected = model.predict_proba(frame)
    labels = model.predict(frame).tolist()
    records = frame.to_dict(orient="records")
    text = json.dumps(records)  # NaN floats are written as the NaN token, as Python's and Triton's JSON do
    assert "NaN" in text and records[4]["sex"] is None
    json_headers = {"Content-Type": "application/json"}

    predicted = _post(penguins_url, "/predict", text.encode(), json_headers)
    assert predicted.status_code == 200, predicted.text
    np.testing.assert_allclose(predicted.json()["probabilities"], expected, rtol=1e-12)
    columns = list(frame.columns)
    split = {"columns": columns, "data": [[r[c] for c in columns] for r in records]}
    by_column = {c: [r[c] for r in records] for c in columns}
    for payload in ({"dataframe_split": split}, {"dataframe_records": records}, {"inputs": by_column}):
        answer = _post(penguins_url, "/invocations", json.dumps(payload).encode(), json_headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": labels}
    spec = {c.name: c for c in model.input_schema_.columns}
    oip = {
        "inputs": [
            {"name": c, "shape": [len(records)], "datatype": oip_datatype(spec[c]), "data": by_column[c]}
            for c in columns
        ]
    }
    inferred = _post(penguins_url, "/v2/models/penguins/infer", json.dumps(oip).encode(), json_headers)
    assert inferred.status_code == 200, inferred.text
    out = {o["name"]: o for o in inferred.json()["outputs"]}
    np.testing.assert_allclose(np.reshape(out["probabilities"]["data"], expected.shape), expected, rtol=1e-12)


# One row on every route: year is required (penguins always have one), body_mass_g is not.
ROUTES = [
    ("/predict", '[{"island": "Dream", "year": $year, "body_mass_g": $mass}]'),
    (
        "/invocations",
        '{"dataframe_split": {"columns": ["island", "year", "body_mass_g"], "data": [["Dream", $year, $mass]]}}',
    ),
    ("/invocations", '{"inputs": {"island": ["Dream"], "year": [$year], "body_mass_g": [$mass]}}'),
    (
        "/v2/models/penguins/infer",
        '{"inputs": [{"name": "island", "shape": [1], "datatype": "BYTES", "data": ["Dream"]},'
        ' {"name": "year", "shape": [1], "datatype": "INT64", "data": [$year]},'
        ' {"name": "body_mass_g", "shape": [1], "datatype": "FP64", "data": [$mass]}]}',
    ),
]


@pytest.mark.parametrize(("path", "body"), ROUTES, ids=[f"{p} {i}" for i, (p, _) in enumerate(ROUTES)])
def test_nan_where_the_model_takes_none_and_infinity_are_400s_on_every_route(
    penguins_url: str, path: str, body: str
) -> None:
    headers = {"Content-Type": "application/json"}
    template = string.Template(body)
    assert _post(penguins_url, path, template.substitute(year=2008, mass="NaN").encode(), headers).status_code == 200
    refused = _post(penguins_url, path, template.substitute(year="NaN", mass=4000).encode(), headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "Column 'year' cannot hold a missing value (NaN): the model needs a value there."
    for token in ("Infinity", "-Infinity"):
        infinite = _post(penguins_url, path, template.substitute(year=2008, mass=token).encode(), headers)
        assert infinite.status_code == 400 and "infinite" in infinite.json()["error"], infinite.text


# A valid binary request for penguins: island (BYTES) and year (INT64) after the JSON header.
ISLAND = struct.pack("<I", 5) + b"Dream"
YEAR = np.array([2008], dtype="<i8").tobytes()


def _island(**changes: Any) -> dict[str, Any]:
    return {"name": "island", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 9}} | changes


def _year(**changes: Any) -> dict[str, Any]:
    return {"name": "year", "shape": [1], "datatype": "INT64", "parameters": {"binary_data_size": 8}} | changes


def _binary(inputs: list[dict[str, Any]], tail: bytes = ISLAND + YEAR, **top: Any) -> tuple[bytes, int]:
    header = json.dumps({"inputs": inputs, **top}).encode()
    return header + tail, len(header)


class Refusal(NamedTuple):
    says: str  # a part of the answer's message
    body: bytes
    length: Any  # Inference-Header-Content-Length ("": not sent)
    status: int = 400
    content_type: str = "application/octet-stream"


def _malformed() -> dict[str, Refusal]:
    good, n = _binary([_island(), _year()])
    not_json = b'{"inputs": [oops'
    not_utf8 = b'{"inputs": "\xff\xfe"}'
    deep = b"[" * 40 + b"]" * 40
    bf16 = {"name": "x", "shape": [1], "datatype": "BF16", "parameters": {"binary_data_size": 2}}
    classify = [{"name": "probabilities", "parameters": {"classification": 2}}]
    past_limit = [_island(), _year(parameters={"binary_data_size": MAX_BODY})]
    return {
        "header longer than the body": Refusal("larger than the body", good, len(good) + 1),
        "header length not a number": Refusal("decimal digits", good, "12a"),
        "negative header length": Refusal("decimal digits", good, -5),
        "huge header length": Refusal("decimal digits", good, 10**30),
        "header not JSON": Refusal("header is not valid JSON", not_json + ISLAND + YEAR, len(not_json)),
        "header not UTF-8": Refusal("header is not valid UTF-8", not_utf8 + ISLAND + YEAR, len(not_utf8)),
        "empty header": Refusal("header is empty", good, 0),
        "header nested too deep": Refusal("nested deeper than 32", deep + ISLAND + YEAR, len(deep)),
        "bytes left over": Refusal("add up to 17 bytes, but 22", good + b"extra", n),
        "size past the end": Refusal(
            "'year': binary_data_size runs past", *_binary([_island(), _year(parameters={"binary_data_size": 16})])
        ),
        "negative size": Refusal("non-negative", *_binary([_island(), _year(parameters={"binary_data_size": -8})])),
        "huge size": Refusal("runs past", *_binary([_island(), _year(parameters={"binary_data_size": 10**18})])),
        "size as a string": Refusal("non-negative", *_binary([_island(), _year(parameters={"binary_data_size": "8"})])),
        "size as a boolean": Refusal(
            "non-negative", *_binary([_island(), _year(parameters={"binary_data_size": True})])
        ),
        "fewer elements than the shape": Refusal(
            "'year': binary_data_size does not match its shape", *_binary([_island(), _year(shape=[2])])
        ),
        "more elements than the shape": Refusal(
            "does not match its shape",
            *_binary([_island(), _year(parameters={"binary_data_size": 16})], ISLAND + YEAR + YEAR),
        ),
        "string length past its tensor": Refusal(
            "'island': its BYTES elements", *_binary([_island(), _year()], struct.pack("<I", 99) + b"Dream" + YEAR)
        ),
        "fewer strings than the shape": Refusal("its BYTES elements", *_binary([_island(shape=[2]), _year()])),
        "string not UTF-8": Refusal(
            "not valid UTF-8", *_binary([_island(), _year()], struct.pack("<I", 5) + b"\xff\xfe\xfd\xfc\xfb" + YEAR)
        ),
        "datatype without a binary form": Refusal(
            "Input tensor 3 has a datatype without a binary form",
            *_binary([_island(), _year(), bf16], ISLAND + YEAR + b"\x00\x00"),
        ),
        "binary size without the header": Refusal(
            "no Inference-Header-Content-Length", _binary([_island(), _year()], b"")[0], "", 400, "application/json"
        ),
        "data and a binary size": Refusal("both data and", *_binary([_island(), _year(data=[2008])], ISLAND)),
        "binary_data_output not a boolean": Refusal(
            "binary_data_output is true or false",
            *_binary([_island(), _year()], parameters={"binary_data_output": "yes"}),
        ),
        "outputs asked as classification": Refusal(
            "no classification", *_binary([_island(), _year()], outputs=classify)
        ),
        "shape far past the row limit": Refusal(
            "more than 1000 rows", *_binary([_island(), _year(shape=[10**12])]), status=413
        ),
        "octet-stream without the header": Refusal("needs an Inference-Header-Content-Length", good, "", 415),
        "binary body sent as text/plain": Refusal("Send the body as JSON", good, n, 415, "text/plain"),
        "body over the size limit": Refusal(
            "larger than 200000 bytes", *_binary(past_limit, ISLAND + b"\x00" * MAX_BODY), status=413
        ),
    }


MALFORMED = _malformed()


def test_binary_bodies_as_clients_send_them(penguins_url: str) -> None:
    body, n = _binary([_island(), _year()])
    answers = []
    # tritonclient sends no Content-Type; others send application/octet-stream or application/json.
    for content_type in (None, "application/octet-stream", "application/json", "Application/Octet-Stream; x=y"):
        headers = {"Inference-Header-Content-Length": str(n)} | ({"Content-Type": content_type} if content_type else {})
        answer = _post(penguins_url, "/v2/models/penguins/infer", body, headers)
        assert answer.status_code == 200, (content_type, answer.text)
        assert answer.headers["content-type"] == "application/json"  # no binary output asked for
        answers.append(answer.json())
    assert all(a == answers[0] for a in answers)
    asked, n = _binary([_island(), _year()], outputs=[{"name": "label", "parameters": {"binary_data": True}}])
    answer = _post(penguins_url, "/v2/models/penguins/infer", asked, {"Inference-Header-Content-Length": str(n)})
    length = int(answer.headers["inference-header-content-length"])
    assert answer.headers["content-type"] == "application/octet-stream"
    header = json.loads(answer.content[:length])
    assert header["outputs"] == [
        {
            "name": "label",
            "datatype": "BYTES",
            "shape": [1],
            "parameters": {"binary_data_size": len(answer.content) - length},
        }
    ]
    label = answers[0]["outputs"][0]["data"][0]
    assert answer.content[length:] == struct.pack("<I", len(label)) + label.encode()


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_binary_bodies_are_refused_in_one_sentence(penguins_url: str, case: str) -> None:
    refusal = MALFORMED[case]
    headers = {"Content-Type": refusal.content_type}
    if refusal.length != "":
        headers["Inference-Header-Content-Length"] = str(refusal.length)
    answer = _post(penguins_url, "/v2/models/penguins/infer", refusal.body, headers)
    assert answer.status_code == refusal.status, answer.text
    message = answer.json()["error"]
    assert refusal.says in message, message
    assert message.endswith(".") and "\n" not in message and message.count(". ") == 0, message
    assert "Dream" not in message and "oops" not in message


def test_binary_framing_elsewhere_twice_or_compressed_is_refused(penguins_url: str, model: FittedModel) -> None:
    body, n = _binary([_island(), _year()])
    twice = [("Inference-Header-Content-Length", str(n)), ("Inference-Header-Content-Length", "1")]
    assert _post(penguins_url, "/v2/models/penguins/infer", body, twice).status_code == 400
    records = b'[{"island": "Dream", "year": 2008}]'
    for path in ("/predict", "/invocations"):
        octet = _post(penguins_url, path, records, {"Content-Type": "application/octet-stream"})
        assert octet.status_code == 415 and "inference routes" in octet.json()["error"]
        framed = _post(penguins_url, path, records, {"Inference-Header-Content-Length": "10"})
        assert framed.status_code == 415
    assert _post(penguins_url, "/predict", records, {"Content-Type": "application/json"}).status_code == 200
    client = _client(penguins_url)
    try:
        frame = pd.DataFrame({"island": ["Dream"], "year": [2008]})
        with pytest.raises(InferenceServerException) as gzipped:
            client.infer("penguins", _inputs(frame, model.input_schema_, True), request_compression_algorithm="gzip")
        assert gzipped.value.status() == "415" and "uncompressed" in gzipped.value.message()
    finally:
        client.close()
    metrics = httpx.get(penguins_url + "/metrics", timeout=10).text
    assert "workbench_unhandled_errors_total 0" in metrics
    server = httpx.get(penguins_url + "/v2", timeout=10).json()
    assert "binary_tensor_data" in server["extensions"]
