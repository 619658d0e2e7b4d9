"""Request payloads to DataFrames: safe JSON parsing and per-column validation against the InputSchema.

Every problem raises RequestError with a message built from the schema (column names, kinds), never from the
payload, so a response cannot reflect what a client sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.model import ColumnSpec, InputSchema
from workbench.serve._errors import RequestError

__all__ = ["OIP_DATATYPES", "Batch", "FrameBuilder", "oip_datatype", "parse_json"]

_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)
_QUOTE = ord('"')
_BACKSLASH = ord("\\")
_OPENS = frozenset(b"[{")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'[]{}"\\')  # translate() deletes these
_WALK_MARKS = 4096  # more brackets and quotes than this: the vectorised scan is faster than a walk
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# OIP v2 tensor datatypes accepted for each column kind.
OIP_DATATYPES: dict[str, frozenset[str]] = {
    "numeric": frozenset(
        {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"}
    ),
    "boolean": frozenset({"BOOL"}),
    "categorical": frozenset({"BYTES"}),
    "datetime": frozenset({"BYTES"}),
}


def oip_datatype(spec: ColumnSpec) -> str:
    """The datatype a column is advertised with in OIP model metadata."""
    if spec.kind == "numeric":
        return "INT64" if spec.dtype.startswith(("int", "Int", "uint", "UInt")) else "FP64"
    if spec.kind == "boolean":
        return "BOOL"
    return "BYTES"


def _constant(token: str) -> float:
    """JSON's non-standard constants: NaN is a missing value (as OIP clients such as Triton's write one; the
    column decides whether it may hold one), Infinity and -Infinity are refused."""
    if token == "NaN":
        return math.nan
    raise RequestError(400, "The body is not valid JSON: infinite numbers are not allowed.")


def json_depth(body: bytes) -> int:
    """Maximum bracket nesting of a JSON text, brackets inside strings skipped: vectorised passes over the
    bytes, linear in the body whatever it holds (no pattern that can backtrack).

    A quote opens or closes a string unless an odd run of backslashes precedes it; a bracket counts only
    where the quotes before it are balanced.
    """
    if b"\\" not in body:
        # No escapes: every quote opens or closes a string, so only brackets and quotes matter (a C filter
        # keeps them; ordinary bodies are mostly numbers, so far fewer bytes are left to scan).
        return _bracket_depth(np.frombuffer(body.translate(None, _NOT_MARKS), dtype=np.uint8), None)
    raw = np.frombuffer(body, dtype=np.uint8)
    backslash = raw == _BACKSLASH
    positions = np.arange(len(raw), dtype=np.int32)  # bodies are capped far below 2 GB
    # The last byte at or before i that is not a backslash (-1 when there is none).
    last_plain = np.maximum.accumulate(np.where(backslash, -1, positions))
    before = np.concatenate(([-1], last_plain[:-1]))  # the same, for the byte before i
    run = positions - 1 - before  # backslashes right before byte i
    return _bracket_depth(raw, (raw == _QUOTE) & (run % 2 == 0))


def _bracket_depth(raw: np.ndarray, quotes: np.ndarray | None) -> int:
    """The deepest bracket nesting of `raw` where `quotes` (default: every quote byte) delimit strings."""
    if not len(raw):
        return 0
    if quotes is None:
        quotes = raw == _QUOTE
    outside = (np.cumsum(quotes, dtype=np.int32) & 1) == 0  # after a quote that closes a string, or before any
    steps = (((raw == _OPEN[0]) | (raw == _OPEN[1])) & outside).astype(np.int32)
    steps -= ((raw == _CLOSE[0]) | (raw == _CLOSE[1])) & outside
    return int(np.cumsum(steps).max(initial=0))


def within_depth(body: bytes, max_depth: int) -> bool:
    """Whether the JSON text nests at most `max_depth` brackets deep.

    Counting the brackets decides small bodies at once. Otherwise only brackets and quotes are kept (a C
    filter) and walked: without a backslash every quote opens or closes a string, so brackets inside
    strings are skipped; with one, escaped quotes need `json_depth`'s string-aware scan.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return True
    marks = body.translate(None, _NOT_MARKS)
    if b"\\" in marks or len(marks) > _WALK_MARKS:
        return json_depth(body) <= max_depth
    depth = 0
    inside = False
    for mark in marks:
        if mark == _QUOTE:
            inside = not inside
        elif inside:
            continue
        elif mark in _OPENS:
            depth += 1
            if depth > max_depth:
                return False
        else:
            depth -= 1
    return True


def parse_json(body: bytes, max_depth: int, what: str = "The body") -> Any:
    """Parse a request body (or the JSON part of one, named by `what`): empty, too deeply nested, non-UTF-8,
    invalid JSON or Infinity tokens → 400. A NaN token becomes float NaN, a missing value."""
    if not body.strip():
        raise RequestError(400, f"{what} is empty; send a JSON document.")
    if not within_depth(body, max_depth):
        raise RequestError(400, f"The JSON document is nested deeper than {max_depth} levels.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, f"{what} is not valid UTF-8.") from None
    try:
        return json.loads(text, parse_constant=_constant)
    except RecursionError:
        raise RequestError(400, f"The JSON document is nested deeper than {max_depth} levels.") from None
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}).") from None


@dataclass(frozen=True)
class Batch:
    """A validated request: one array per schema column (absent optional columns all missing), n rows."""

    columns: dict[str, Any]
    n: int


class FrameBuilder:
    """Turns columns of JSON values into a validated Batch: every schema column, in the model's dtypes."""

    def __init__(self, schema: InputSchema, max_rows: int) -> None:
        self.schema = schema
        self.max_rows = max_rows
        self.specs: dict[str, ColumnSpec] = {c.name: c for c in schema.columns}
        self.required = [c.name for c in schema.columns if c.required]

    def from_columns(self, columns: Mapping[str, Sequence[Any]]) -> Batch:
        """`columns` maps a column name to its values; all columns must have the same length."""
        unknown = [name for name in columns if name not in self.specs]
        if unknown:
            raise RequestError(
                422, f"{len(unknown)} column(s) are not in the model's input schema; expected {self._expected()}."
            )
        missing = [name for name in self.required if name not in columns]
        if missing:
            raise RequestError(422, f"Missing required column(s): {', '.join(missing)}.")
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise RequestError(422, "All columns must have the same number of values.")
        n = lengths.pop() if lengths else 0
        if n == 0:
            raise RequestError(422, "The request has no rows.")
        if n > self.max_rows:
            raise RequestError(413, f"The request has more than {self.max_rows} rows.")
        return Batch({spec.name: self._column(spec, columns.get(spec.name), n) for spec in self.schema.columns}, n)

    def from_records(self, records: Sequence[Any]) -> Batch:
        """`records` is a list of {column: value} objects; absent keys are missing values."""
        if not isinstance(records, list) or not records:
            raise RequestError(422, "Send a non-empty list of records (objects mapping column names to values).")
        if len(records) > self.max_rows:
            raise RequestError(413, f"The request has more than {self.max_rows} rows.")
        if not all(isinstance(r, dict) for r in records):
            raise RequestError(422, "Every record must be a JSON object mapping column names to values.")
        names: set[str] = set()
        for record in records:
            names.update(record)
        unknown = names.difference(self.specs)
        if unknown:
            raise RequestError(
                422, f"{len(unknown)} column(s) are not in the model's input schema; expected {self._expected()}."
            )
        missing = [name for name in self.required if any(name not in r for r in records)]
        if missing:
            raise RequestError(422, f"Missing required column(s): {', '.join(missing)}.")
        columns = {name: [r.get(name) for r in records] for name in self.specs if name in names}
        return self.from_columns(columns)

    def from_rows(self, column_names: Sequence[Any], rows: Sequence[Any]) -> Batch:
        """MLflow's dataframe_split: column names and row-major data."""
        if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(column_names) for r in rows):
            raise RequestError(422, "Every row in 'data' must be a list with one value per column.")
        if not all(isinstance(c, str) for c in column_names) or len(set(column_names)) != len(column_names):
            raise RequestError(422, "'columns' must be a list of distinct column names.")
        if not rows:
            raise RequestError(422, "The request has no rows.")
        return self.from_columns({name: [r[i] for r in rows] for i, name in enumerate(column_names)})

    def _expected(self) -> str:
        names = self.schema.names
        return ", ".join(names[:20]) + (" …" if len(names) > 20 else "")

    def _column(self, spec: ColumnSpec, values: Sequence[Any] | None, n: int) -> Any:
        if values is None:
            values = [None] * n
        has_null = None in values
        if has_null and spec.required:
            raise RequestError(422, f"Column {spec.name!r} is required and may not hold null values.")
        if spec.kind == "numeric":
            return _numeric(spec, values, has_null)
        if spec.kind == "boolean":
            if not all(v is None or isinstance(v, bool) for v in values):
                _refuse_nan(spec, values)
                raise RequestError(422, f"Column {spec.name!r} holds true/false values.")
            return np.array(values, dtype=object) if has_null else np.array(values, dtype=bool)
        if not all(v is None or isinstance(v, str) for v in values):
            _refuse_nan(spec, values)
            raise RequestError(422, f"Column {spec.name!r} holds strings.")
        if spec.kind == "datetime":
            try:
                return pd.to_datetime(pd.Series(values, dtype=object), errors="raise", format="ISO8601")
            except (ValueError, TypeError, OverflowError):
                raise RequestError(422, f"Column {spec.name!r} holds ISO 8601 dates.") from None
        return np.array(values, dtype=object)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _missing_error(spec: ColumnSpec) -> RequestError:
    return RequestError(400, f"Column {spec.name!r} cannot hold a missing value (NaN): the model needs a value there.")


def _refuse_nan(spec: ColumnSpec, values: Sequence[Any]) -> None:
    """A NaN in a column that is not numeric: refused, named (it is a missing value only in numeric ones)."""
    if any(type(v) is float and math.isnan(v) for v in values):
        if spec.required:
            raise _missing_error(spec)
        raise RequestError(
            400, f"Column {spec.name!r} is not numeric: NaN is a missing value only in numeric columns; send null."
        )


def _numeric(spec: ColumnSpec, values: Sequence[Any], has_null: bool) -> np.ndarray:
    all_int = True
    for v in values:
        kind = type(v)
        if kind is float:
            all_int = False
            if not -FLOAT32_MAX <= v <= FLOAT32_MAX:  # false for NaN and infinities too
                if v != v:  # NaN: a missing value, where the model takes one
                    if spec.required:
                        raise _missing_error(spec)
                    continue
                if not math.isfinite(v):
                    raise RequestError(422, f"Column {spec.name!r} holds finite numbers.")
                # Many model libraries compute in float32, where such a value becomes infinity and fails.
                raise RequestError(422, f"Column {spec.name!r} holds numbers between -3.4e38 and 3.4e38.")
        elif kind is int:
            if not _INT64_MIN <= v <= _INT64_MAX:
                all_int = False
        elif v is not None:  # bool is not int here: type(True) is bool
            raise RequestError(422, f"Column {spec.name!r} holds numbers.")
    if all_int and not has_null and spec.dtype.startswith(("int", "Int")):
        return np.array(values, dtype=np.int64)
    try:
        if not has_null:
            return np.array(values, dtype=np.float64)
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    except OverflowError:
        raise RequestError(422, f"Column {spec.name!r} holds numbers within the float64 range.") from None
