"""AutoGluon's feature pipeline compiled into numpy steps, for served rows.

The generators AutoGluon uses by default are covered: type enforcement, missing-value fill,
categories and their memory-minimised codes, date parts (plain ISO dates in numpy, anything else
through AutoGluon's own pandas call), and column drops. Any other generator raises UnsupportedFastPath.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._columns import UnsupportedFastPath

__all__ = ["Codes", "Features", "Step", "compile_generator", "feature_matrix", "objects"]


@dataclass(frozen=True)
class Codes:
    """A categorical feature after AutoGluon's CategoryFeatureGenerator: codes into `categories`, -1 missing."""

    codes: np.ndarray
    categories: Sequence[Any]


Features = dict[str, Any]  # feature name → ndarray or Codes
Step = Callable[[Features, int], Features]


def objects(values: Any, n: int) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    array = np.empty(n, dtype=object)
    array[:] = list(values.tolist() if hasattr(values, "tolist") else values)
    return array


def _floats(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == object:
        return np.array([np.nan if v is None else v for v in array.tolist()], dtype=np.float64)
    floats: np.ndarray = array.astype(np.float64, copy=False)
    return floats


def _is_missing(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) for v in array.tolist()], dtype=bool)
    if array.dtype.kind == "f":
        missing: np.ndarray = np.isnan(array)
        return missing
    return np.zeros(len(array), dtype=bool)


def _as_type(generator: Any) -> Step:
    bools: dict[str, Any] = dict(generator._bool_features or {})
    ints = {str(f) for f in np.asarray(generator._int_features).tolist()}
    types = {name: np.dtype(t) for name, t in (generator._type_map_real_opt or {}).items()}
    for name, dtype in types.items():
        if name not in bools and dtype.kind not in "OiufM":
            raise UnsupportedFastPath(f"feature {name!r} has dtype {dtype}")

    def step(x: Features, n: int) -> Features:
        out: Features = {}
        for name, values in x.items():
            if isinstance(values, np.ndarray) and values.dtype == types.get(name) and name not in bools:
                out[name] = values  # already what AutoGluon converts to (a served number column)
                continue
            if name in bools:
                out[name] = (objects(values, n) == bools[name]).astype(np.int8)
                continue
            dtype = types[name]
            if dtype.kind == "O":
                out[name] = objects(values, n)
            elif dtype.kind == "M":  # date-time columns stay a pandas Series, as AutoGluon converts them
                out[name] = (values if isinstance(values, pd.Series) else pd.Series(objects(values, n))).astype(dtype)
            elif dtype.kind == "f":
                out[name] = _floats(values).astype(dtype, copy=False)
            else:
                numbers = _floats(values)
                if name in ints:  # AutoGluon imputes 0 for an int feature that is missing at predict time
                    numbers = np.where(np.isnan(numbers), 0.0, numbers)
                if np.isnan(numbers).any():
                    raise ValueError(f"missing value in integer feature {name!r}")
                with np.errstate(invalid="ignore"):  # out-of-range numbers: the same wrap-around as pandas' astype
                    out[name] = numbers.astype(dtype)
        return out

    return step


def _fill_na(generator: Any) -> Step:
    fill: dict[str, Any] = dict(generator._fillna_feature_map or {})

    def step(x: Features, n: int) -> Features:
        out = dict(x)
        for name, value in fill.items():
            if name in out:
                column = out[name]
                missing = _is_missing(column)
                if missing.any():
                    column = column.copy()
                    column[missing] = value
                    out[name] = column
        return out

    return step


def _category(generator: Any) -> Step:
    if getattr(generator, "_fillna_map", None) is not None:
        raise UnsupportedFastPath("CategoryFeatureGenerator with a fill map")
    maps = {name: list(categories) for name, categories in (generator.category_map or {}).items()}
    lookups = {name: {value: i for i, value in enumerate(categories)} for name, categories in maps.items()}

    def step(x: Features, n: int) -> Features:
        out: Features = {}
        for name, lookup in lookups.items():
            values = objects(x[name], n).tolist()
            codes = np.fromiter((lookup.get(v, -1) if v == v else -1 for v in values), dtype=np.int64, count=n)
            out[name] = Codes(codes, maps[name])
        return out

    return step


def _category_memory_minimize(generator: Any) -> Step:
    maps = {name: list(categories) for name, categories in generator._category_maps.items()}

    def step(x: Features, n: int) -> Features:
        out = dict(x)
        for name, categories in maps.items():
            column = x[name]
            if not isinstance(column, Codes) or len(column.categories) != len(categories):
                raise ValueError(f"feature {name!r} is not the categorical feature the generator was fitted on")
            out[name] = Codes(column.codes, categories)
        return out

    return step


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?")
_DATE_PARTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "year": lambda t: t.astype("datetime64[Y]").astype(np.int64) + 1970,
    "month": lambda t: t.astype("datetime64[M]").astype(np.int64) % 12 + 1,
    "day": lambda t: (t.astype("datetime64[D]") - t.astype("datetime64[M]")).astype(np.int64) + 1,
    "dayofweek": lambda t: (t.astype("datetime64[D]").astype(np.int64) + 3) % 7,  # 1970-01-01 was a Thursday
}


def _iso_instants(values: Any, n: int, fill: int) -> np.ndarray | None:
    """Naive ISO dates (as AutoGluon reads them: UTC) as datetime64[ns], missing ones at `fill`; None when
    any value needs pandas' general parser."""
    out = np.empty(n, dtype="datetime64[ns]")
    for i, value in enumerate(objects(values, n).tolist()):
        if value is None or (isinstance(value, float) and value != value):
            out[i] = np.datetime64(fill, "ns")
        elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
            out[i] = np.datetime64(value.replace(" ", "T"), "ns")
        else:
            return None
    return out


def _datetime(generator: Any) -> Step:
    """Dates as AutoGluon reads them: missing or unparsable dates become the training mean, then the date as
    int64 nanoseconds and its parts. Plain ISO dates are parsed with numpy; anything else goes through
    AutoGluon's own pandas call."""
    fill: dict[str, Any] = dict(generator._fillna_map or {})
    parts = list(generator.features)

    def with_pandas(name: str, values: Any, n: int) -> Features:
        series = pd.to_datetime(
            values if isinstance(values, pd.Series) else pd.Series(objects(values, n)),
            utc=True,
            errors="coerce",
            format="mixed",
        )
        missing = series.isna()
        if missing.any():
            series = series.copy()
            series[missing] = fill[name]
        out = {f"{name}.{part}": getattr(series.dt, part).astype(np.int64).to_numpy() for part in parts}
        out[name] = pd.to_numeric(series).to_numpy()
        return out

    def step(x: Features, n: int) -> Features:
        out: Features = {}
        for name in x:
            values = x[name]
            instants = None
            if not isinstance(values, pd.Series) and all(part in _DATE_PARTS for part in parts):
                instants = _iso_instants(values, n, int(pd.Timestamp(fill[name]).value))
            if instants is None:
                out.update(with_pandas(name, values, n))
                continue
            for part in parts:
                out[f"{name}.{part}"] = _DATE_PARTS[part](instants)
            out[name] = instants.astype(np.int64)
        return out

    return step


def _identity(generator: Any) -> Step:
    return lambda x, n: x


def _stages(generator: Any) -> Step:
    stages = [[compile_generator(g) for g in stage] for stage in generator.generators]

    def step(x: Features, n: int) -> Features:
        for stage in stages:
            merged: Features = {}
            for run in stage:
                merged.update(run(x, n))
            x = merged
        return x

    return step


def compile_generator(generator: Any) -> Step:
    """A numpy step doing what `generator.transform` does, for the generators AutoGluon uses by default."""
    from autogluon.features.generators import (
        AsTypeFeatureGenerator,
        BulkFeatureGenerator,
        CategoryFeatureGenerator,
        CategoryMemoryMinimizeFeatureGenerator,
        DatetimeFeatureGenerator,
        DropDuplicatesFeatureGenerator,
        DropUniqueFeatureGenerator,
        FillNaFeatureGenerator,
        IdentityFeatureGenerator,
    )

    if getattr(generator, "_pre_astype_generator", None) is not None:
        raise UnsupportedFastPath("a generator enforces input types first")
    if getattr(generator, "passthrough", False) and getattr(generator, "passthrough_features", None):
        raise UnsupportedFastPath("a generator passes features through")
    inner: Step
    if isinstance(generator, BulkFeatureGenerator):
        inner = _stages(generator)
    elif type(generator) is AsTypeFeatureGenerator:
        inner = _as_type(generator)
    elif type(generator) is FillNaFeatureGenerator:
        inner = _fill_na(generator)
    elif type(generator) is CategoryFeatureGenerator:
        inner = _category(generator)
    elif type(generator) is CategoryMemoryMinimizeFeatureGenerator:
        inner = _category_memory_minimize(generator)
    elif type(generator) is DatetimeFeatureGenerator:
        inner = _datetime(generator)
    elif type(generator) in (IdentityFeatureGenerator, DropUniqueFeatureGenerator, DropDuplicatesFeatureGenerator):
        inner = _identity(generator)
    else:
        raise UnsupportedFastPath(f"feature generator {type(generator).__name__}")
    post = [compile_generator(g) for g in generator._post_generators]
    features_in = [str(f) for f in generator.features_in]
    features_out = [str(f) for f in generator.features_out]

    def step(x: Features, n: int) -> Features:
        out = inner({name: x[name] for name in features_in}, n)
        for run in post:
            out = run(out, n)
        return {name: out[name] for name in features_out}

    return step


def feature_matrix(x: Features, n: int, features: Sequence[str], dtype: Any) -> np.ndarray:
    matrix = np.empty((n, len(features)), dtype=dtype)
    for j, name in enumerate(features):
        value = x[name]
        matrix[:, j] = value.codes if isinstance(value, Codes) else value
    return matrix
