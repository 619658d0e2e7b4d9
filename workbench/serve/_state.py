"""The served model: loaded, verified, and swapped atomically on reload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import pandas as pd

from workbench.model import InputSchema, LoadedModel, ModelSource
from workbench.serve._errors import RequestError
from workbench.serve._metrics import Metrics
from workbench.serve._schema import FrameBuilder

__all__ = ["ModelHolder", "Prediction", "Prepared", "example_columns"]

log = logging.getLogger("workbench.serve")


@dataclass(frozen=True)
class Prediction:
    labels: list[Any] | None  # classification: predicted labels
    proba: np.ndarray | None  # classification: (n, k) probabilities in `classes` order
    values: list[float] | None  # regression


@dataclass(frozen=True)
class Prepared:
    """A loaded model with its frame builder: everything one request needs, replaced as a whole."""

    loaded: LoadedModel
    builder: FrameBuilder

    @property
    def classification(self) -> bool:
        return self.loaded.problem_type != "regression"

    def predict(self, frame: pd.DataFrame) -> Prediction:
        model = self.loaded.model
        if self.classification:
            proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
            classes = np.asarray(self.loaded.classes, dtype=object)
            return Prediction(labels=classes[np.argmax(proba, axis=1)].tolist(), proba=proba, values=None)
        return Prediction(labels=None, proba=None, values=np.asarray(model.predict(frame), dtype=np.float64).tolist())


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


def prepare(loaded: LoadedModel, max_rows: int) -> Prepared:
    """Build and verify: one prediction on an example row must succeed with the right shape."""
    if loaded.problem_type != "regression" and not loaded.classes:
        raise ValueError(f"model {loaded.name!r} is a classifier without classes")
    prepared = Prepared(loaded, FrameBuilder(loaded.input_schema, max_rows))
    result = prepared.predict(prepared.builder.from_columns(example_columns(loaded.input_schema)))
    if result.proba is not None and result.proba.shape != (1, len(loaded.classes or ())):
        raise ValueError(f"model {loaded.name!r} returned probabilities of shape {result.proba.shape}")
    return prepared


class ModelHolder:
    """Holds the current Prepared model; readers take the reference once per request, reload swaps it."""

    def __init__(self, source: ModelSource, max_rows: int, metrics: Metrics) -> None:
        self.source = source
        self.max_rows = max_rows
        self.metrics = metrics
        self.current: Prepared | None = None
        self.error: str | None = None
        self._lock = asyncio.Lock()

    def require(self) -> Prepared:
        prepared = self.current
        if prepared is None:
            raise RequestError(503, "The model is not loaded yet; retry shortly.")
        return prepared

    def _load_and_prepare(self) -> Prepared:
        return prepare(self.source.load(), self.max_rows)

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
            if reloaded:
                self.metrics.reloads += 1
            log.info(
                "serving %s version %s from %s", prepared.loaded.name, prepared.loaded.version, self.source.describe()
            )
            return prepared
