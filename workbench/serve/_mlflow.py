"""MLflow's scoring protocol (`POST /invocations`, `GET /ping`) and a plain `POST /predict` on records."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from workbench.serve._errors import RequestError
from workbench.serve._models import InvocationsRequest, PredictRequest, validate
from workbench.serve._oip import JSON, body_schema
from workbench.serve._schema import parse_json
from workbench.serve._state import ModelHolder, Prepared, run_request

__all__ = ["invocations_body", "mlflow_router", "predict_body"]


def invocations_body(prepared: Prepared, body: bytes, max_depth: int) -> bytes:
    request = validate(InvocationsRequest, parse_json(body, max_depth))
    given = [
        key
        for key in ("dataframe_split", "dataframe_records", "instances", "inputs")
        if getattr(request, key) is not None
    ]
    if len(given) != 1:
        raise RequestError(422, "Send exactly one of dataframe_split, dataframe_records, instances or inputs.")
    builder = prepared.builder
    if request.dataframe_split is not None:
        batch = builder.from_rows(request.dataframe_split.columns, request.dataframe_split.data)
    elif request.dataframe_records is not None:
        batch = builder.from_records(request.dataframe_records)
    elif request.instances is not None:
        batch = builder.from_records(request.instances)
    elif isinstance(request.inputs, dict):
        batch = builder.from_columns(request.inputs)
    else:
        batch = builder.from_records(request.inputs or [])
    result = prepared.predict(batch)
    predictions = result.labels if result.labels is not None else result.values
    return json.dumps({"predictions": predictions}, allow_nan=False).encode()


def predict_body(prepared: Prepared, body: bytes, max_depth: int) -> bytes:
    request = validate(PredictRequest, parse_json(body, max_depth))
    result = prepared.predict(prepared.builder.from_records(request.root))
    out: dict[str, Any]
    if result.proba is not None:
        out = {
            "predictions": result.labels,
            "probabilities": result.proba.tolist(),
            "classes": prepared.class_names,
        }
    else:
        out = {"predictions": result.values}
    return json.dumps(out, allow_nan=False).encode()


def mlflow_router(holder: ModelHolder, max_depth: int) -> APIRouter:
    router = APIRouter(tags=["MLflow scoring and records"])

    @router.get("/ping", summary="MLflow readiness: 503 until the model is loaded")
    async def ping() -> dict[str, str]:
        holder.require()
        return {"status": "ok"}

    @router.post("/invocations", summary="MLflow scoring", openapi_extra=body_schema("InvocationsRequest"))
    async def invocations(request: Request) -> Response:
        prepared = holder.require()
        body = await request.body()
        return Response(await run_request(prepared, invocations_body, body, max_depth), media_type=JSON)

    @router.post("/predict", summary="Predict a list of records", openapi_extra=body_schema("PredictRequest"))
    async def predict(request: Request) -> Response:
        prepared = holder.require()
        body = await request.body()
        return Response(await run_request(prepared, predict_body, body, max_depth), media_type=JSON)

    return router
