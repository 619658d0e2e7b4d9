"""Shared by the data functions: which rows, which models, which problem types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData, ModelPredictions

__all__ = [
    "Rows",
    "ViewInfo",
    "check_rows",
    "finite",
    "pick_models",
    "require_classification",
    "require_regression",
    "rows_of",
]

Rows = Literal["test", "valid"]


class ViewInfo:
    """What every `get_*_info` result shares: `to_dict()`, its fields as plain JSON (numpy arrays as
    lists, NaN as None), what a REST route returns."""

    def to_dict(self) -> dict[str, Any]:
        from workbench._json import to_jsonable

        data: dict[str, Any] = to_jsonable(self)
        return data


def check_rows(rows: str) -> Rows:
    if rows == "test":
        return "test"
    if rows == "valid":
        return "valid"
    raise InvalidInputError(f"Unknown rows {rows!r}; use 'test' or 'valid'.")


def rows_of(data: ComparisonData, model: ModelPredictions, rows: str) -> tuple[np.ndarray, np.ndarray]:
    """The true values and `model`'s predictions on the test or valid rows."""
    if check_rows(rows) == "test":
        return np.asarray(data.y_test), np.asarray(model.test)
    return np.asarray(data.y_valid), np.asarray(model.valid)


def pick_models(data: ComparisonData, models: Sequence[str] | None, top: int = 3) -> list[ModelPredictions]:
    """The named models (names or keys, in the given order), or the `top` best by valid score."""
    if models is None:
        return data.ranked()[:top]
    picked = []
    for name in models:
        try:
            picked.append(data.model(name))
        except KeyError:
            raise InvalidInputError(f"No model called {name!r} in this comparison.") from None
    return picked


def require_classification(data: ComparisonData, view: str) -> tuple[Any, ...]:
    if data.problem_type == "regression" or not data.classes:
        raise InvalidInputError(f"The {view} needs a classification experiment, not {data.problem_type}.")
    return tuple(data.classes)


def require_regression(data: ComparisonData, view: str) -> None:
    if data.problem_type != "regression":
        raise InvalidInputError(f"The {view} needs a regression experiment, not {data.problem_type}.")


def finite(value: float | None) -> float:
    """`value` as a float, NaN when missing."""
    return float("nan") if value is None else float(value)
