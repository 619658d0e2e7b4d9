"""The served model: loaded, verified, and swapped atomically on reload."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar

import anyio
import numpy as np

from workbench._json import to_jsonable
from workbench.model import FastPredict, InputSchema, LoadedModel, ModelSource, check_fast_path, columns_to_frame
from workbench.serve._errors import RequestError
from workbench.serve._metrics import Metrics
from workbench.serve._schema import Batch, FrameBuilder

__all__ = [
    "INLINE_BODY_BYTES",
    "INLINE_MAX_S",
    "LOAD_FAILED",
    "ModelHolder",
    "Prediction",
    "Prepared",
    "example_columns",
    "run_request",
]

log = logging.getLogger("workbench.serve")

LOAD_FAILED = "The model could not be loaded; see the server's log."

T = TypeVar("T")


@dataclass(frozen=True)
class Prediction:
    labels: list[Any] | None  # classification: predicted labels
    proba: np.ndarray | None  # classification: (n, k) probabilities in `classes` order
    values: list[float] | None  # regression


@dataclass(frozen=True)
class Prepared:
    """A loaded model with its frame builder and fast path: everything one request needs, replaced as a whole.

    fast: the model's verified pandas-free predictor (None: every request goes through a DataFrame).
    warnings: what the server wants its clients to know (an unverified fast path, shown in the metadata).
    """

    loaded: LoadedModel
    builder: FrameBuilder
    fast: FastPredict | None = None
    inline: bool = False  # small requests run on the event loop (a fast path that answers a row quickly)
    warnings: tuple[str, ...] = ()

    @property
    def classification(self) -> bool:
        return self.loaded.problem_type != "regression"

    @cached_property
    def class_names(self) -> list[Any]:
        """The classes as JSON values (numpy scalars become Python ones): what predicted labels are."""
        names: list[Any] = to_jsonable(list(self.loaded.classes or ()))
        return names

    def predict(self, batch: Batch) -> Prediction:
        if self.fast is not None:
            output = self.fast(batch.columns, batch.n)
        else:
            output = self.loaded.model.prediction(columns_to_frame(batch.columns, self.loaded.input_schema))
        if self.classification:
            proba = np.asarray(output, dtype=np.float64)
            names = self.class_names
            labels = [names[i] for i in np.argmax(proba, axis=1).tolist()]
            return Prediction(labels=labels, proba=proba, values=None)
        return Prediction(labels=None, proba=None, values=np.asarray(output, dtype=np.float64).tolist())


# A request body up to this size, for a model with a fast path, is handled on the event loop: it takes
# tens of microseconds, less than handing it to a worker thread and back. Larger bodies, and models
# served through pandas, run in a worker thread so the loop stays free for other requests and probes.
INLINE_BODY_BYTES = 16 * 1024
# ... and only when the fast path answers a row within this time (measured at load), so one request
# never holds the loop for long.
INLINE_MAX_S = 0.002


async def run_request(
    prepared: Prepared, handle: Callable[[Prepared, bytes, int], T], body: bytes, max_depth: int
) -> T:
    """Run a request's handler inline when it is small and fast, else in a worker thread."""
    if prepared.inline and len(body) <= INLINE_BODY_BYTES:
        return handle(prepared, body, max_depth)
    return await anyio.to_thread.run_sync(handle, prepared, body, max_depth)


def example_columns(schema: InputSchema) -> dict[str, list[Any]]:
    """One plausible row per the schema: used to verify a model before it serves."""
    row: dict[str, list[Any]] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            row[spec.name] = [0 if spec.dtype.startswith("int") else 0.0]
        elif spec.kind == "boolean":
            row[spec.name] = [False]
        elif spec.kind == "datetime":
            row[spec.name] = ["2020-01-01T00:00:00"]
        else:
            row[spec.name] = [spec.categories[0] if spec.categories else "a"]
    return row


def prepare(loaded: LoadedModel, max_rows: int, fast_path: bool = True) -> Prepared:
    """Build and verify: one prediction on an example row must succeed with the right shape; the model's fast
    path is used (unless `fast_path` is off) only when it predicts exactly like the model on probe rows."""
    if loaded.problem_type != "regression" and not loaded.classes:
        raise ValueError(f"model {loaded.name!r} is a classifier without classes")
    builder = FrameBuilder(loaded.input_schema, max_rows)
    fast, warning = check_fast_path(loaded.model, loaded.input_schema) if fast_path else (None, None)
    prepared = Prepared(loaded, builder, fast, warnings=(warning,) if warning else ())
    example = prepared.builder.from_columns(example_columns(loaded.input_schema))
    result = prepared.predict(example)
    if result.proba is not None and result.proba.shape != (1, len(loaded.classes or ())):
        raise ValueError(f"model {loaded.name!r} returned probabilities of shape {result.proba.shape}")
    if fast is None:
        return prepared
    times = []
    for _ in range(5):
        start = time.perf_counter()
        prepared.predict(example)
        times.append(time.perf_counter() - start)
    return replace(prepared, inline=sorted(times)[2] <= INLINE_MAX_S)


class ModelHolder:
    """Holds the current Prepared model; readers take the reference once per request, reload swaps it."""

    def __init__(self, source: ModelSource, max_rows: int, metrics: Metrics, fast_path: bool = True) -> None:
        self.source = source
        self.max_rows = max_rows
        self.fast_path = fast_path
        self.metrics = metrics
        self.current: Prepared | None = None
        self.error: str | None = None
        self._lock = asyncio.Lock()

    def require(self) -> Prepared:
        prepared = self.current
        if prepared is None:
            if self.error is not None:  # the reason is in the server's log, not in an unauthenticated answer
                raise RequestError(503, LOAD_FAILED)
            raise RequestError(503, "The model is not loaded yet; retry shortly.")
        return prepared

    def _load_and_prepare(self) -> Prepared:
        return prepare(self.source.load(), self.max_rows, self.fast_path)

    async def reload(self) -> Prepared:
        """Re-resolve the source, build and verify the new model in a thread, then swap the reference."""
        async with self._lock:
            load: Callable[[], Prepared] = self._load_and_prepare
            try:
                prepared = await anyio.to_thread.run_sync(load)
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                log.exception("loading the model from %s failed", self.source.describe())
                raise
            reloaded = self.current is not None
            self.current = prepared
            self.error = None
            self.metrics.model_name = prepared.loaded.name
            self.metrics.model_version = prepared.loaded.version
            self.metrics.model_ready = True
            self.metrics.model_fast_path = prepared.fast is not None
            if reloaded:
                self.metrics.reloads += 1
            log.info(
                "serving %s version %s from %s (%s)",
                prepared.loaded.name,
                prepared.loaded.version,
                self.source.describe(),
                "fast path" if prepared.fast is not None else "through pandas",
            )
            return prepared
