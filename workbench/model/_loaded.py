"""A model as a server holds it: the fitted model with its name, version, schemas and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.model._base import FittedModel
from workbench.model._schema import InputSchema

__all__ = ["LoadedModel", "ModelSource"]


@dataclass(frozen=True)
class LoadedModel:
    """What the registry hands to a server.

    name, version: the registry's model name and version number.
    model: the fitted model (a candidate or an ensemble).
    input_schema: the feature columns, kinds, categories and which are required.
    problem_type, classes: the output schema (classes in predict_proba column order; None for regression).
    metrics: offline scores and measured latencies recorded with the version.
    manifest: the bundle's manifest (file names and sha256), already verified.
    """

    name: str
    version: int
    model: FittedModel
    input_schema: InputSchema
    problem_type: str
    classes: Sequence[Any] | None
    metrics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


class ModelSource(Protocol):
    """Where a server gets its model: `load()` verifies and loads; `describe()` names it for logs."""

    def load(self) -> LoadedModel: ...

    def describe(self) -> str: ...
