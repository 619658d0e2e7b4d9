"""Open Inference Protocol v2 (KServe / Triton): metadata and inference, one input tensor per column."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from workbench._version import __version__
from workbench.serve._binary import (
    BINARY_NEEDS_HEADER,
    OCTET_STREAM,
    decode,
    encode,
    is_octet_stream,
    parse_header_length,
    split,
)
from workbench.serve._errors import RequestError
from workbench.serve._models import InferenceRequest, RequestInput, validate
from workbench.serve._schema import OIP_DATATYPES, oip_datatype, parse_json
from workbench.serve._state import ModelHolder, Prepared, run_request

__all__ = ["InferHandler", "body_schema", "check_model", "infer_body", "infer_handler", "model_metadata", "oip_router"]

JSON = "application/json"
# Triton's output parameters this server does not implement: refused rather than silently ignored.
_UNSUPPORTED_OUTPUT = frozenset({"classification", "shared_memory_region"})
_CLASSIFIER_OUTPUTS = ("label", "probabilities")
_REGRESSOR_OUTPUTS = ("prediction",)
_NONE: frozenset[str] = frozenset()
BINARY_DESCRIPTION = (
    "The body is the JSON request below, or (the binary tensor data extension) that JSON followed by the "
    "inputs' raw bytes: the JSON's length in the Inference-Header-Content-Length header, each binary input's "
    "size in parameters.binary_data_size. Outputs come back binary when asked for (parameters.binary_data "
    "per output, binary_data_output for all), after a JSON header whose length is in the response's "
    "Inference-Header-Content-Length. NaN is a missing value where the column may be missing."
)


def body_schema(model: str) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself but documents it as `model`."""
    return {"requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{model}"}}}}}


def model_metadata(prepared: Prepared) -> dict[str, Any]:
    loaded = prepared.loaded
    inputs = [
        {
            "name": c.name,
            "datatype": oip_datatype(c),
            "shape": [-1],
            "parameters": {"kind": c.kind, "required": c.required},
        }
        for c in loaded.input_schema.columns
    ]
    if prepared.classification:
        k = len(loaded.classes or ())
        outputs = [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {
                "name": "probabilities",
                "datatype": "FP64",
                "shape": [-1, k],
                "parameters": {"classes": prepared.class_names},
            },
        ]
    else:
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    return {
        "name": loaded.name,
        "versions": [str(loaded.version)],
        "platform": "workbench",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "problem_type": loaded.problem_type,
            "fast_path": prepared.fast is not None,
            "warnings": list(prepared.warnings),
        },
    }


def infer_body(
    prepared: Prepared, body: bytes, max_depth: int, header_length: int | None = None
) -> tuple[bytes, int | None]:
    """Parse, validate, predict and serialise one OIP request (runs in a worker thread).

    header_length: the request's Inference-Header-Content-Length (binary tensor data after the JSON).
    Returns the response body and, when it carries binary outputs, the length of its JSON header.
    """
    if header_length is None:
        request = validate(InferenceRequest, parse_json(body, max_depth))
        raw = None
    else:
        header, raw = split(body, header_length)
        request = validate(InferenceRequest, parse_json(header, max_depth, "The JSON header"))
    # Which outputs, and which of them in binary; nearly every JSON request says neither: all of them, in JSON.
    names = _CLASSIFIER_OUTPUTS if prepared.classification else _REGRESSOR_OUTPUTS
    wanted, binary = (None, _NONE) if request.outputs is None and request.parameters is None else _asked(request, names)
    batch = prepared.builder.from_columns(_columns(prepared, request, raw))
    result = prepared.predict(batch)
    n = batch.n
    outputs: list[dict[str, Any]]
    if result.proba is not None:
        k = result.proba.shape[1]
        outputs = [
            {"name": "label", "datatype": "BYTES", "shape": [n], "data": result.labels},
            {
                "name": "probabilities",
                "datatype": "FP64",
                "shape": [n, k],
                "data": result.proba if "probabilities" in binary else result.proba.ravel().tolist(),
                "parameters": {"classes": prepared.class_names},
            },
        ]
    else:
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [n], "data": result.values}]
    if wanted is not None:
        outputs = [o for o in outputs if o["name"] in wanted]
    blobs = []
    if binary:
        for output in outputs:
            if output["name"] in binary:
                blob = encode(output["datatype"], output.pop("data"))
                output["parameters"] = {**output.get("parameters", {}), "binary_data_size": len(blob)}
                blobs.append(blob)
    response: dict[str, Any] = {
        "model_name": prepared.loaded.name,
        "model_version": str(prepared.loaded.version),
        "outputs": outputs,
    }
    if request.id is not None:
        response["id"] = request.id
    content = json.dumps(response, allow_nan=False).encode()
    if not blobs:
        return content, None
    return b"".join([content, *blobs]), len(content)


InferHandler = Callable[[Prepared, bytes, int], tuple[bytes, int | None]]


def infer_handler(content_type: bytes, binary_header: bytes | None) -> InferHandler:
    """The handler for an inference POST with these Content-Type and Inference-Header-Content-Length values:
    JSON, or binary tensor data after a JSON header of the given length (only with that header)."""
    if binary_header is None:
        if is_octet_stream(content_type):
            raise RequestError(415, BINARY_NEEDS_HEADER)
        return infer_body
    return functools.partial(infer_body, header_length=parse_header_length(binary_header))


def _columns(prepared: Prepared, request: InferenceRequest, raw: memoryview | None) -> dict[str, list[Any]]:
    """One list of values per input tensor, from its JSON data or from the binary data after the header."""
    specs = prepared.builder.specs
    columns: dict[str, list[Any]] = {}
    offset = 0
    for i, tensor in enumerate(request.inputs):
        if tensor.name in columns:
            raise RequestError(422, "Each input tensor name may appear only once.")
        shape = tensor.shape
        if shape[0] < 0 or (len(shape) == 2 and shape[1] != 1):
            raise RequestError(422, "Each input tensor has shape [n] (or [n, 1]) and n data values.")
        spec = specs.get(tensor.name)
        if spec is not None and tensor.datatype not in OIP_DATATYPES[spec.kind]:
            raise RequestError(422, f"Input {spec.name!r} has datatype {oip_datatype(spec)}.")
        data = tensor.data
        if data is None or raw is not None:
            label = f"Input {spec.name!r}" if spec is not None else f"Input tensor {i + 1}"
            data, offset = _tensor_data(tensor, raw, offset, label, prepared.builder.max_rows)
        if shape[0] != len(data):
            raise RequestError(422, "Each input tensor has shape [n] (or [n, 1]) and n data values.")
        columns[tensor.name] = data
    if raw is not None and offset != len(raw):
        raise RequestError(
            400, f"The inputs' binary_data_size add up to {offset} bytes, but {len(raw)} follow the JSON header."
        )
    return columns


def _tensor_data(
    tensor: RequestInput, raw: memoryview | None, offset: int, label: str, max_rows: int
) -> tuple[list[Any], int]:
    """A tensor's values (JSON data, or its binary_data_size bytes of `raw` from `offset`) and the next offset."""
    parameters = tensor.parameters or {}
    if "shared_memory_region" in parameters:
        raise RequestError(400, "This server does not support shared-memory tensors; send data or binary data.")
    size = parameters.get("binary_data_size")
    if size is None:
        if tensor.data is None:
            raise RequestError(422, f"{label} has neither data nor parameters.binary_data_size.")
        return tensor.data, offset
    if raw is None:
        raise RequestError(
            400, f"{label} has binary_data_size, but the request has no Inference-Header-Content-Length."
        )
    if tensor.data is not None:
        raise RequestError(400, f"{label} has both data and binary_data_size; send one of them.")
    if type(size) is not int or size < 0:
        raise RequestError(400, f"{label}: binary_data_size must be a non-negative whole number of bytes.")
    if size > len(raw) - offset:
        raise RequestError(400, f"{label}: binary_data_size runs past the end of the body.")
    n = tensor.shape[0]
    if n > max_rows:
        raise RequestError(413, f"The request has more than {max_rows} rows.")
    return decode(tensor.datatype, raw[offset : offset + size], n, label), offset + size


def _flag(parameters: dict[str, Any] | None, key: str, default: bool) -> bool:
    if parameters is None or key not in parameters:
        return default
    value = parameters[key]
    if type(value) is not bool:
        raise RequestError(400, f"The parameter {key} is true or false.")
    return value


def _asked(request: InferenceRequest, names: tuple[str, ...]) -> tuple[set[str] | None, frozenset[str]]:
    """The outputs to answer (None: all of them) and those among them to answer in binary."""
    everything = _flag(request.parameters, "binary_data_output", False)
    if request.outputs is None:
        return None, frozenset(names) if everything else _NONE
    wanted: dict[str, bool] = {}
    for requested in request.outputs:
        if requested.parameters is not None and requested.parameters.keys() & _UNSUPPORTED_OUTPUT:
            raise RequestError(400, "Requested outputs may only set binary_data (no classification, no shared memory).")
        wanted[requested.name] = _flag(requested.parameters, "binary_data", everything)
    if not wanted.keys() <= set(names):
        raise RequestError(422, f"Requested outputs must be among: {', '.join(sorted(names))}.")
    return set(wanted), frozenset(name for name, binary in wanted.items() if binary)


def check_model(prepared: Prepared, name: str, version: str | None) -> None:
    if name != prepared.loaded.name or (version is not None and version != str(prepared.loaded.version)):
        raise RequestError(404, "No such model or version on this server.")


def oip_router(holder: ModelHolder, max_depth: int, server_name: str) -> APIRouter:
    router = APIRouter(tags=["Open Inference Protocol v2"])

    @router.get("/v2", summary="Server metadata")
    async def server_metadata() -> dict[str, Any]:
        return {"name": server_name, "version": __version__, "extensions": ["model_repository", "binary_tensor_data"]}

    @router.get("/v2/health/live", summary="Liveness: always 200 while the process runs")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/v2/health/ready", summary="Readiness: 503 until the model is loaded and verified")
    async def ready() -> dict[str, bool]:
        holder.require()
        return {"ready": True}

    @router.get("/v2/models/{name}", summary="Model metadata")
    async def metadata(name: str) -> dict[str, Any]:
        prepared = holder.require()
        check_model(prepared, name, None)
        return model_metadata(prepared)

    @router.get("/v2/models/{name}/versions/{version}", summary="Model metadata for one version")
    async def metadata_version(name: str, version: str) -> dict[str, Any]:
        prepared = holder.require()
        check_model(prepared, name, version)
        return model_metadata(prepared)

    @router.get("/v2/models/{name}/ready", summary="Model readiness")
    async def model_ready(name: str) -> dict[str, Any]:
        prepared = holder.require()
        check_model(prepared, name, None)
        return {"name": name, "ready": True}

    @router.get("/v2/models/{name}/versions/{version}/ready", summary="Model version readiness")
    async def model_version_ready(name: str, version: str) -> dict[str, Any]:
        prepared = holder.require()
        check_model(prepared, name, version)
        return {"name": name, "ready": True}

    async def _infer(request: Request, name: str, version: str | None) -> Response:
        # Reached only if the inference lane is bypassed: it answers these POSTs itself.
        handler = infer_handler(
            request.headers.get("content-type", "").encode("latin-1"),
            request.headers.get("inference-header-content-length", "").encode("latin-1") or None,
        )
        prepared = holder.require()
        check_model(prepared, name, version)
        body = await request.body()
        content, json_length = await run_request(prepared, handler, body, max_depth)
        if json_length is None:
            return Response(content, media_type=JSON)
        return Response(
            content,
            media_type=OCTET_STREAM.decode(),
            headers={"Inference-Header-Content-Length": str(json_length)},
        )

    @router.post(
        "/v2/models/{name}/infer",
        summary="Inference",
        description=BINARY_DESCRIPTION,
        openapi_extra=body_schema("InferenceRequest"),
    )
    async def infer(request: Request, name: str) -> Response:
        return await _infer(request, name, None)

    @router.post(
        "/v2/models/{name}/versions/{version}/infer",
        summary="Inference on one version",
        description=BINARY_DESCRIPTION,
        openapi_extra=body_schema("InferenceRequest"),
    )
    async def infer_version(request: Request, name: str, version: str) -> Response:
        return await _infer(request, name, version)

    @router.post("/v2/repository/models/{name}/load", summary="Reload the model from its source and swap it in")
    async def load(request: Request, name: str) -> dict[str, Any]:
        if not request.app.state.settings.api_key:
            # Without a key anybody who reaches the port could swap the model; a reload then is SIGHUP's.
            raise RequestError(403, "Reloading over HTTP needs an API key on this server; send SIGHUP instead.")
        prepared = holder.current
        if prepared is not None and name != prepared.loaded.name:
            raise RequestError(404, "No such model on this server.")
        try:
            new = await holder.reload()
        except Exception:
            raise RequestError(503, "Reloading the model failed; the previous version keeps serving.") from None
        return {"name": new.loaded.name, "version": str(new.loaded.version), "loaded": True}

    return router
