"""Feature preprocessing, fitted on the train rows only.

`TablePrep` reads a raw feature frame as a numeric block (numbers, booleans and parts of date-time
columns, NaN for missing) and a categorical block (strings, None for missing). On top of it:

- `OrdinalPrep` for tree libraries: numerics as they are, categoricals as codes by train frequency
  (missing, unseen and rare categories -> NaN).
- `DensePrep` for linear models and the MLP: median-imputed, standardized numerics with missing-value
  indicators, and one-hot categoricals (rare and unseen categories share one "infrequent" column).

Columns missing from a frame at predict time are read as all-missing; values that do not parse are
read as missing. Nothing here raises on unseen categories or missing values.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._columns import Columns, UnsupportedFastPath

__all__ = ["DensePrep", "OrdinalPrep", "TablePrep", "is_datetime_like"]

# The parts a date-time column becomes: days since 1970 (fractional), month, weekday, hour of day.
DATETIME_PARTS = ("days", "month", "weekday", "hour")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
MISSING = "__missing__"


def is_datetime_like(series: pd.Series) -> bool:
    """Datetime dtype, or text whose non-missing values (a sample of them) all look like ISO dates."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    values = series.dropna()
    if values.empty:
        return False
    sample = values.iloc[:: max(1, len(values) // 200)].astype(str)
    return bool(sample.map(lambda v: _ISO_DATETIME.match(v.strip()) is not None).all())


def _as_float(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("Float64")
    elif not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series, errors="coerce")
    return np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)


def _datetime_parts(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        moments = pd.to_datetime(series, utc=True)
    else:
        moments = pd.to_datetime(series.astype("string"), errors="coerce", format="ISO8601", utc=True)
    hour = moments.dt.hour + moments.dt.minute / 60
    parts = [(moments - _EPOCH) / pd.Timedelta(days=1), moments.dt.month, moments.dt.weekday, hour]
    return np.column_stack([_as_float(pd.Series(p)) for p in parts])


class TablePrep:
    """Splits raw frames into a numeric and a categorical block, by the column kinds seen in training."""

    def fit(self, X: pd.DataFrame) -> TablePrep:
        self.columns_: list[Any] = list(X.columns)
        self.numeric_: list[Any] = []
        self.datetime_: list[Any] = []
        self.categorical_: list[Any] = []
        for name in X.columns:
            series = X[name]
            if is_datetime_like(series):
                self.datetime_.append(name)
            elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                self.numeric_.append(name)
            else:
                self.categorical_.append(name)
        self.numeric_names_ = [str(c) for c in self.numeric_] + [
            f"{c}.{part}" for c in self.datetime_ for part in DATETIME_PARTS
        ]
        self.categorical_names_ = [str(c) for c in self.categorical_]
        return self

    def _column(self, X: pd.DataFrame, name: Any) -> pd.Series:
        if name in X.columns:
            return X[name]
        return pd.Series([None] * len(X), index=X.index, dtype=object)

    def numeric(self, X: pd.DataFrame) -> np.ndarray:
        """(n, len(numeric_names_)) float64, NaN for missing."""
        blocks = [_as_float(self._column(X, c)).reshape(-1, 1) for c in self.numeric_]
        blocks += [_datetime_parts(self._column(X, c)) for c in self.datetime_]
        return np.hstack(blocks) if blocks else np.empty((len(X), 0))

    def categorical(self, X: pd.DataFrame) -> np.ndarray:
        """(n, len(categorical_names_)) object array of strings, None for missing."""
        out = np.empty((len(X), len(self.categorical_)), dtype=object)
        for j, name in enumerate(self.categorical_):
            out[:, j] = self._column(X, name).astype("string").to_numpy(dtype=object, na_value=None)
        return out

    def numeric_columns(self, columns: Columns, n: int) -> np.ndarray:
        """`numeric` for Columns (a served request), without pandas."""
        if self.datetime_:
            raise UnsupportedFastPath("date-time columns are read through pandas")
        out = np.empty((n, len(self.numeric_)), dtype=np.float64)
        for j, name in enumerate(self.numeric_):
            values = columns.get(str(name))
            if values is None:
                out[:, j] = np.nan
                continue
            array = np.asarray(values)
            if array.dtype == object:
                out[:, j] = [np.nan if v is None else float(v) for v in array.tolist()]
            else:
                out[:, j] = array
        return out

    def categorical_columns(self, columns: Columns, n: int) -> list[list[str | None]]:
        """`categorical` for Columns, column by column."""
        out: list[list[str | None]] = []
        for name in self.categorical_:
            values = columns.get(str(name))
            if values is None:
                out.append([None] * n)
            else:
                out.append([None if v is None or v != v else str(v) for v in np.asarray(values).tolist()])
        return out


class OrdinalPrep:
    """Tree-library input: numerics, then categorical codes (most frequent train category -> 0)."""

    def __init__(self, max_categories: int = 1000) -> None:
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame) -> OrdinalPrep:
        self.table_ = TablePrep().fit(X)
        self.codes_: list[dict[str, int]] = []
        for column in self.table_.categorical(X).T:
            counts = pd.Series(column).dropna().value_counts()
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_categories]
            self.codes_.append({str(value): code for code, (value, _) in enumerate(ranked)})
        self.n_numeric_ = len(self.table_.numeric_names_)
        self.categorical_indices_ = list(range(self.n_numeric_, self.n_numeric_ + len(self.codes_)))
        self.feature_names_ = self.table_.numeric_names_ + self.table_.categorical_names_
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """(n, n_features) float64; categorical codes are whole numbers, NaN for missing/unseen/rare."""
        numeric = self.table_.numeric(X)
        categorical = self.table_.categorical(X)
        codes = np.empty((len(X), len(self.codes_)))
        for j, mapping in enumerate(self.codes_):
            codes[:, j] = pd.Series(categorical[:, j], dtype=object).map(mapping).to_numpy(dtype=float)
        return np.hstack([numeric, codes])

    def transform_columns(self, columns: Columns, n: int) -> np.ndarray:
        """`transform` for Columns (a served request), without pandas."""
        numeric = self.table_.numeric_columns(columns, n)
        codes = np.empty((n, len(self.codes_)))
        for j, (values, mapping) in enumerate(
            zip(self.table_.categorical_columns(columns, n), self.codes_, strict=True)
        ):
            codes[:, j] = [np.nan if v is None else mapping.get(v, np.nan) for v in values]
        return np.hstack([numeric, codes])


class DensePrep:
    """Linear/MLP input: standardized numerics, missing indicators, one-hot categoricals."""

    def __init__(self, min_frequency: int = 5, max_categories: int = 32) -> None:
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame) -> DensePrep:
        from sklearn.preprocessing import OneHotEncoder

        self.table_ = TablePrep().fit(X)
        numeric = self.table_.numeric(X)
        frame = pd.DataFrame(numeric)
        self.medians_ = frame.median().fillna(0.0).to_numpy(dtype=float)
        self.indicators_ = np.flatnonzero(frame.isna().any().to_numpy())
        filled = np.where(np.isnan(numeric), self.medians_, numeric)
        self.means_ = filled.mean(axis=0) if len(filled) else np.zeros(numeric.shape[1])
        scale = filled.std(axis=0) if len(filled) else np.ones(numeric.shape[1])
        self.scales_ = np.where(scale > 0, scale, 1.0)
        self.onehot_: OneHotEncoder | None = None
        if self.table_.categorical_:
            self.onehot_ = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=self.min_frequency,
                max_categories=self.max_categories,
                sparse_output=False,
                dtype=np.float64,
            ).fit(self._filled_categories(X))
        self.n_features_ = int(self.transform(X.iloc[:1]).shape[1])
        return self

    def _filled_categories(self, X: pd.DataFrame) -> np.ndarray:
        categorical = self.table_.categorical(X)
        return np.where(pd.isna(categorical), MISSING, categorical)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """(n, n_features_) float64 with no missing values."""
        numeric = self.table_.numeric(X)
        missing = np.isnan(numeric)
        filled = np.where(missing, self.medians_, numeric)
        blocks = [(filled - self.means_) / self.scales_, missing[:, self.indicators_].astype(float)]
        if self.onehot_ is not None:
            blocks.append(np.asarray(self.onehot_.transform(self._filled_categories(X)), dtype=float))
        return np.hstack(blocks)
