"""Pydantic request models: they validate parsed bodies and describe them in the OpenAPI document."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from workbench.serve._errors import RequestError

__all__ = [
    "DataframeSplit",
    "InferenceRequest",
    "InvocationsRequest",
    "PredictRequest",
    "RequestInput",
    "RequestOutput",
    "validate",
]

# One cell of a table: JSON's scalar types (null is a missing value).
Scalar = bool | int | float | str | None


class RequestInput(BaseModel):
    """One OIP v2 input tensor: one column of the table, shape [n] (or [n, 1]).

    `data` holds its values, unless they follow the JSON in binary (parameters.binary_data_size).
    """

    name: str
    shape: list[int] = Field(min_length=1, max_length=2)
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Scalar] | None = None


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    """OIP v2 inference request: named input tensors, one per feature column."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class DataframeSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: list[str]
    data: list[list[Scalar]]
    index: list[Any] | None = None


class InvocationsRequest(BaseModel):
    """MLflow scoring request: exactly one of dataframe_split, dataframe_records, instances, inputs."""

    model_config = ConfigDict(extra="forbid")

    dataframe_split: DataframeSplit | None = None
    dataframe_records: list[dict[str, Scalar]] | None = None
    instances: list[dict[str, Scalar]] | None = None
    inputs: dict[str, list[Scalar]] | list[dict[str, Scalar]] | None = None
    params: dict[str, Any] | None = None


class PredictRequest(RootModel[list[dict[str, Scalar]]]):
    """A list of records, each mapping column names to values."""

    root: list[dict[str, Scalar]] = Field(min_length=1)


_FIELDS = frozenset(
    name
    for model in (RequestInput, RequestOutput, InferenceRequest, DataframeSplit, InvocationsRequest)
    for name in model.model_fields
)


def _loc(parts: tuple[int | str, ...]) -> str:
    # Keys a client chose (column names) are not repeated back: only our own field names and positions.
    return ".".join(str(p) if isinstance(p, int) or p in _FIELDS else "<key>" for p in parts) or "body"


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], value: Any) -> M:
    """Validate a parsed body; errors name the field and the problem, never the value sent."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = sorted(
            {f"{_loc(tuple(e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False, include_url=False)}
        )
        shown = "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
        raise RequestError(422, f"The request does not match the expected schema: {shown}.") from None
