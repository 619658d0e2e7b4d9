"""A model's input schema: the columns it expects, their kinds, categories and which are required."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

__all__ = ["ColumnSpec", "InputSchema"]

# A categorical column keeps at most this many known categories in its schema.
MAX_CATEGORIES = 1000


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # numeric | categorical | boolean | datetime
    dtype: str
    required: bool
    categories: tuple[str, ...] | None = None


@dataclass(frozen=True)
class InputSchema:
    columns: tuple[ColumnSpec, ...]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> InputSchema:
        """Infer the schema from training features: columns with no missing values are required."""
        specs = []
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_bool_dtype(series):
                kind = "boolean"
            elif pd.api.types.is_numeric_dtype(series):
                kind = "numeric"
            elif pd.api.types.is_datetime64_any_dtype(series):
                kind = "datetime"
            else:
                kind = "categorical"
            categories = None
            if kind == "categorical":
                values = sorted(series.dropna().astype(str).unique().tolist())
                categories = tuple(values[:MAX_CATEGORIES])
            specs.append(
                ColumnSpec(
                    name=str(name),
                    kind=kind,
                    dtype=str(series.dtype),
                    required=not bool(series.isna().any()),
                    categories=categories,
                )
            )
        return cls(tuple(specs))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        return cls(
            tuple(
                ColumnSpec(**{**c, "categories": tuple(c["categories"]) if c.get("categories") is not None else None})
                for c in data["columns"]
            )
        )
