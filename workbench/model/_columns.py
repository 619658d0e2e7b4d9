"""Columns: a request's validated values as one numpy array per input column, before any DataFrame exists.

A server builds Columns from JSON; `columns_to_frame` turns them into the frame a model's `predict_proba`
takes, and a model's fast path (`FittedModel.fast_path`) predicts from them directly, skipping pandas.
`verified_fast_path` only hands out a fast path that agrees with the frame path on probe rows drawn from the
input schema, so a server may use either and answer the same.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._base import FittedModel
from workbench.model._schema import ColumnSpec, InputSchema

__all__ = [
    "Columns",
    "FastPredict",
    "UnsupportedFastPath",
    "UnverifiedFastPath",
    "check_fast_path",
    "columns_to_frame",
    "probe_columns",
    "verified_fast_path",
]

log = logging.getLogger("workbench.model")

# Column name → values: numeric float64/int64 (NaN missing), boolean bool/object (None missing),
# categorical object (None missing), datetime a pandas datetime Series. Every column has the same length.
Columns = Mapping[str, Any]

# (columns, number of rows) → what `FittedModel.prediction` returns for the same rows.
FastPredict = Callable[[Columns, int], np.ndarray]

# Predictions of both paths must agree this closely (the contract check's tolerance).
RTOL, ATOL = 1e-9, 1e-12
# Probe rows also checked one at a time (each costs a frame-path prediction at load time).
SINGLE_ROWS = 12


class UnverifiedFastPath(Exception):
    """The model has a fast path, but not for the library version installed here: it is not used, and a
    server says so (in its log and its model metadata)."""


class UnsupportedFastPath(Exception):
    """The model has parts the fast path cannot reproduce exactly; the frame path serves it."""


def columns_to_frame(columns: Columns, schema: InputSchema) -> pd.DataFrame:
    """The DataFrame the model was fitted on: schema column order, categorical dtypes restored."""
    data: dict[str, Any] = {}
    for spec in schema.columns:
        values = columns[spec.name]
        if spec.dtype == "category" and not isinstance(values, pd.Categorical):
            values = pd.Categorical(values, categories=list(spec.categories or ()))
        data[spec.name] = values
    return pd.DataFrame(data, copy=False)


_NUMBERS = (0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 10.0, -10.0, 100.0, 1e4, -1e4, 1e6, 1e30, -1e30, 0.25, 7.0, 42.0)
_UNSEEN = "\x00workbench-unseen\x00"


def _probe_values(spec: ColumnSpec, salt: int) -> list[Any]:
    values: list[Any]
    if spec.kind == "numeric":
        integer = spec.dtype.startswith(("int", "Int", "uint", "UInt"))
        values = [int(v) if integer and abs(v) < 2**62 else v for v in _NUMBERS]
        # A spread of values in every column: tree thresholds are crossed whatever the feature's scale.
        values += [float(np.round(math.tan(0.37 * (i + salt)), 3)) * 10 ** (i % 7 - 2) for i in range(12)]
    elif spec.kind == "boolean":
        values = [True, False]
    elif spec.kind == "datetime":
        values = [pd.Timestamp("2020-01-01") + pd.Timedelta(days=37 * i) for i in range(8)]
    else:
        values = [*(spec.categories or ()), _UNSEEN]
    if not spec.required:
        values.append(None)
    return values


def probe_columns(schema: InputSchema) -> tuple[dict[str, Any], int]:
    """Rows that visit every category, an unseen category, missing optional values and a spread of numbers,
    with each column cycled at its own stride so values meet in many combinations."""
    per_column = [_probe_values(spec, i) for i, spec in enumerate(schema.columns)]
    n = max([len(v) for v in per_column] + [1]) * 2
    columns: dict[str, Any] = {}
    for i, (spec, values) in enumerate(zip(schema.columns, per_column, strict=True)):
        stride = 1 + (i % max(len(values) - 1, 1)) if len(values) > 2 else 1
        cells = [values[(j * stride + i) % len(values)] for j in range(n)]
        if spec.kind == "numeric":
            columns[spec.name] = np.array([math.nan if v is None else float(v) for v in cells], dtype=np.float64)
        elif spec.kind == "datetime":
            columns[spec.name] = pd.Series(pd.to_datetime(cells))
        elif spec.kind == "boolean" and spec.required:
            columns[spec.name] = np.array(cells, dtype=bool)
        else:
            columns[spec.name] = np.array(cells, dtype=object)
    return columns, n


def _row(columns: Columns, i: int) -> dict[str, Any]:
    return {
        name: values.iloc[i : i + 1].reset_index(drop=True) if isinstance(values, pd.Series) else values[i : i + 1]
        for name, values in columns.items()
    }


def verified_fast_path(model: FittedModel, schema: InputSchema | None = None) -> FastPredict | None:
    """The model's fast path if it has one and it predicts exactly like the frame path on probe rows."""
    return check_fast_path(model, schema)[0]


def check_fast_path(model: FittedModel, schema: InputSchema | None = None) -> tuple[FastPredict | None, str | None]:
    """The model's verified fast path (or None) and, when one exists but cannot be used here, why: a
    warning for the server to show."""
    schema = schema or model.input_schema_
    try:
        fast = model.fast_path()
        if fast is None:
            return None, None
        columns, n = probe_columns(schema)
        expected = np.asarray(model.prediction(columns_to_frame(columns, schema)), dtype=np.float64)
        got = np.asarray(fast(columns, n), dtype=np.float64)
        if got.shape == expected.shape:
            # Single rows too, against the frame path on the same single row: fast paths may take other
            # routes for one row (a served request), and some libraries round differently by batch size.
            for i in np.linspace(0, n - 1, min(n, SINGLE_ROWS)).astype(int).tolist():
                row = _row(columns, i)
                got = np.concatenate([got, np.asarray(fast(row, 1), dtype=np.float64)])
                frame = columns_to_frame(row, schema)
                expected = np.concatenate([expected, np.asarray(model.prediction(frame), dtype=np.float64)])
    except UnverifiedFastPath as exc:
        log.warning("no fast path for %s: %s", type(model).__name__, exc)
        return None, str(exc)
    except UnsupportedFastPath as exc:
        log.info("no fast path for %s: %s", type(model).__name__, exc)
        return None, None
    except Exception:
        log.warning("the fast path of %s failed on probe rows; serving through the frame path", model, exc_info=True)
        return None, "the fast path failed on probe rows; requests go through the model's own predict"
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
        worst = float(np.nanmax(np.abs(got - expected))) if got.shape == expected.shape else math.inf
        log.warning("the fast path of %s disagrees with the frame path (max |diff| %.3g); not using it", model, worst)
        return None, f"the fast path disagreed with the model's own predict (max |diff| {worst:.3g}); not used"
    return fast, None
