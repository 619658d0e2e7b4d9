"""Open Inference Protocol v2 (KServe / Triton): metadata and inference, one input tensor per column."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from workbench._version import __version__
from workbench.serve._errors import RequestError
from workbench.serve._models import InferenceRequest, validate
from workbench.serve._schema import OIP_DATATYPES, oip_datatype, parse_json
from workbench.serve._state import ModelHolder, Prepared, run_request

__all__ = ["body_schema", "check_model", "infer_body", "model_metadata", "oip_router"]

JSON = "application/json"


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


def infer_body(prepared: Prepared, body: bytes, max_depth: int) -> bytes:
    """Parse, validate, predict and serialise one OIP request (runs in a worker thread)."""
    request = validate(InferenceRequest, parse_json(body, max_depth))
    specs = prepared.builder.specs
    columns: dict[str, list[Any]] = {}
    for tensor in request.inputs:
        if tensor.name in columns:
            raise RequestError(422, "Each input tensor name may appear only once.")
        shape = tensor.shape
        if shape[0] != len(tensor.data) or (len(shape) == 2 and shape[1] != 1) or any(s < 0 for s in shape):
            raise RequestError(422, "Each input tensor has shape [n] (or [n, 1]) and n data values.")
        spec = specs.get(tensor.name)
        if spec is not None and tensor.datatype not in OIP_DATATYPES[spec.kind]:
            raise RequestError(422, f"Input {spec.name!r} has datatype {oip_datatype(spec)}.")
        columns[tensor.name] = tensor.data
    batch = prepared.builder.from_columns(columns)
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
                "data": result.proba.ravel().tolist(),
                "parameters": {"classes": prepared.class_names},
            },
        ]
    else:
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [n], "data": result.values}]
    if request.outputs is not None:
        wanted = [o.name for o in request.outputs]
        available = {o["name"] for o in outputs}
        if not set(wanted) <= available:
            raise RequestError(422, f"Requested outputs must be among: {', '.join(sorted(available))}.")
        outputs = [o for o in outputs if o["name"] in wanted]
    response: dict[str, Any] = {
        "model_name": prepared.loaded.name,
        "model_version": str(prepared.loaded.version),
        "outputs": outputs,
    }
    if request.id is not None:
        response["id"] = request.id
    return json.dumps(response, allow_nan=False).encode()


def check_model(prepared: Prepared, name: str, version: str | None) -> None:
    if name != prepared.loaded.name or (version is not None and version != str(prepared.loaded.version)):
        raise RequestError(404, "No such model or version on this server.")


def oip_router(holder: ModelHolder, max_depth: int, server_name: str) -> APIRouter:
    router = APIRouter(tags=["Open Inference Protocol v2"])

    @router.get("/v2", summary="Server metadata")
    async def server_metadata() -> dict[str, Any]:
        return {"name": server_name, "version": __version__, "extensions": ["model_repository"]}

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
        prepared = holder.require()
        check_model(prepared, name, version)
        body = await request.body()
        return Response(await run_request(prepared, infer_body, body, max_depth), media_type=JSON)

    @router.post("/v2/models/{name}/infer", summary="Inference", openapi_extra=body_schema("InferenceRequest"))
    async def infer(request: Request, name: str) -> Response:
        return await _infer(request, name, None)

    @router.post(
        "/v2/models/{name}/versions/{version}/infer",
        summary="Inference on one version",
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
