"""The app factory: routes, middlewares, error handlers, and a lifespan that loads the model in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic.json_schema import models_json_schema

from workbench._version import __version__
from workbench.model import ModelSource
from workbench.serve._auth import ApiKeyMiddleware
from workbench.serve._errors import RequestError
from workbench.serve._hosts import LOOPBACK_HOSTS, HostMiddleware
from workbench.serve._lane import InferenceLane
from workbench.serve._limits import LimitsMiddleware
from workbench.serve._metrics import Metrics, MetricsMiddleware
from workbench.serve._mlflow import mlflow_router
from workbench.serve._models import InferenceRequest, InvocationsRequest, PredictRequest
from workbench.serve._oip import oip_router
from workbench.serve._state import ModelHolder, Prepared

__all__ = ["FAST_PATH_ENV", "ServeSettings", "create_app", "fast_path_default"]

FAST_PATH_ENV = "WORKBENCH_FAST_PATH"


def fast_path_default() -> bool:
    return os.environ.get(FAST_PATH_ENV, "1").strip().lower() not in ("0", "off", "false", "no")


log = logging.getLogger("workbench.serve")


@dataclass(frozen=True)
class ServeSettings:
    """How a model server behaves.

    max_body_bytes: larger request bodies get 413 (counted on the bytes received).
    max_in_flight: beyond this many requests being handled, answer 503 with Retry-After at once.
    api_key: when set, every route but health and the API description needs it (Bearer or X-API-Key).
    max_batch_rows: larger requests get 413.
    max_json_depth: JSON nested deeper is refused before parsing.
    body_timeout_s: a request body not in after this long gets 408 and the connection is closed; until its
        body is in, a request does not count as in flight.
    allowed_hosts: the Host names answered (DNS rebinding); "*" answers any.
    reload_on_sighup: reload the model on SIGHUP (servers started from the CLI).
    fast_path: serve through the model's verified pandas-free fast path when it has one (default: on,
        unless the environment sets WORKBENCH_FAST_PATH=0); off, every request goes through the model's
        own predict.
    """

    max_body_bytes: int = 16 * 1024 * 1024
    max_in_flight: int = 64
    api_key: str | None = None
    max_batch_rows: int = 10_000
    max_json_depth: int = 32
    body_timeout_s: float = 30.0
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    reload_on_sighup: bool = False
    server_name: str = "workbench"
    fast_path: bool = field(default_factory=fast_path_default)


def create_app(source: ModelSource, settings: ServeSettings | None = None) -> FastAPI:
    """A FastAPI app serving `source`'s model; readiness is 503 until the background load has finished."""
    settings = settings or ServeSettings()
    metrics = Metrics()
    holder = ModelHolder(source, settings.max_batch_rows, metrics, fast_path=settings.fast_path)

    async def initial_load() -> None:
        with contextlib.suppress(Exception):  # logged by reload(); readiness stays 503
            await holder.reload()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(initial_load())
        loop = asyncio.get_running_loop()
        sighup = False
        if settings.reload_on_sighup:
            try:
                loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(initial_load()))
                sighup = True
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no SIGHUP here
                log.warning("SIGHUP reload is not available in this process")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if sighup:
                loop.remove_signal_handler(signal.SIGHUP)

    app = FastAPI(
        title="workbench model server",
        version=__version__,
        description="Open Inference Protocol v2, MLflow scoring and a records endpoint for one workbench model.",
        lifespan=lifespan,
    )
    reload: Callable[[], Awaitable[Prepared]] = holder.reload
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.reload = reload

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "The request's path or query parameters are not valid."}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        metrics.unhandled_errors += 1
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "Internal server error."}, status_code=500)

    app.include_router(oip_router(holder, settings.max_json_depth, settings.server_name))
    app.include_router(mlflow_router(holder, settings.max_json_depth))

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse, tags=["Operations"])
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, defs = models_json_schema(
                [(m, "validation") for m in (InferenceRequest, InvocationsRequest, PredictRequest)],
                ref_template="#/components/schemas/{model}",
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # Outermost last: metrics see every answer, then the Host check, the limits, authentication, the inference lane.
    app.add_middleware(InferenceLane, holder=holder, max_depth=settings.max_json_depth, metrics=metrics)
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key)
    app.add_middleware(
        LimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_in_flight=settings.max_in_flight,
        metrics=metrics,
        body_timeout_s=settings.body_timeout_s,
    )
    app.add_middleware(HostMiddleware, allowed=settings.allowed_hosts, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
