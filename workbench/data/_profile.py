"""Profiling a table: shape, column kinds, missing values, cardinality, target distribution, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench._json import to_jsonable
from workbench.data._problem import check_target, resolve_problem

__all__ = ["ColumnProfile", "Profile", "profile_frame"]

# A column whose values are unique on at least this share of rows looks like a row identifier.
ID_LIKE_UNIQUE_SHARE = 0.95
# A feature that predicts the target on at least this share of rows is probably a leak.
LEAKAGE_AGREEMENT = 0.99
# A minority class under this share of rows is called imbalanced.
IMBALANCE_SHARE = 0.10


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str
    kind: str  # numeric | categorical | boolean | datetime | text
    missing_share: float
    n_unique: int
    constant: bool
    id_like: bool
    top_values: dict[str, int] = field(default_factory=dict)
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Profile:
    dataset: str
    rows: int
    columns: int
    content_hash: str
    memory_bytes: int
    target: str | None
    problem_type: str | None
    metric: str | None
    target_distribution: dict[str, Any]
    column_profiles: tuple[ColumnProfile, ...]
    leakage: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = to_jsonable(self)
        return cleaned

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """The profile `to_dict` gave (missing numbers come back as None, not NaN), its value counts and class
        shares most frequent first again (JSON stored with sorted keys loses their order)."""
        fields = dict(data)
        fields["column_profiles"] = tuple(
            ColumnProfile(**{**c, "top_values": _most_first(c.get("top_values") or {})})
            for c in data["column_profiles"]
        )
        classes = data["target_distribution"].get("classes")
        if classes:
            fields["target_distribution"] = {**data["target_distribution"], "classes": _most_first(classes)}
        fields["leakage"] = tuple(data["leakage"])
        fields["warnings"] = tuple(data["warnings"])
        return cls(**fields)


def _most_first(counts: dict[str, Any]) -> dict[str, Any]:
    """`counts` with the largest first (ties: in key order), as `value_counts` gives them."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    non_null = series.dropna()
    if len(non_null) and _looks_like_dates(non_null):
        return "datetime"
    if len(non_null) and non_null.nunique() > 0.5 * len(non_null) and non_null.astype(str).str.len().mean() > 30:
        return "text"
    return "categorical"


def _looks_like_dates(values: pd.Series) -> bool:
    """Strings in ISO 8601 form (2024-01-31, 2024-01-31 06:00): at least 95% of a sample parse."""
    sample = values.astype(str).head(200)
    if not sample.str.match(r"^\d{4}-\d{2}-\d{2}").mean() >= 0.95:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="ISO8601")
    return bool(parsed.notna().mean() >= 0.95)


def _column_profile(series: pd.Series) -> ColumnProfile:
    rows = len(series)
    non_null = series.dropna()
    n_unique = int(non_null.nunique())
    kind = _kind(series)
    id_like = (
        rows >= 20
        and kind in {"numeric", "categorical", "text"}
        and not pd.api.types.is_float_dtype(series)
        and n_unique >= ID_LIKE_UNIQUE_SHARE * rows
    )
    top = {str(k): int(v) for k, v in non_null.value_counts().head(5).items()} if kind != "numeric" else {}
    stats: dict[str, float | None] = {}
    if kind == "numeric" and len(non_null):
        numbers = non_null.astype(float)
        stats = {
            "mean": float(numbers.mean()),
            "std": float(numbers.std()) if len(numbers) > 1 else 0.0,
            "min": float(numbers.min()),
            "max": float(numbers.max()),
        }
    return ColumnProfile(
        name=str(series.name),
        dtype=str(series.dtype),
        kind=kind,
        missing_share=float(series.isna().mean()) if rows else 0.0,
        n_unique=n_unique,
        constant=series.nunique(dropna=False) <= 1,
        id_like=bool(id_like),
        top_values=top,
        **stats,
    )


def _target_distribution(y: pd.Series, problem_type: str) -> dict[str, Any]:
    values = y.dropna()
    if problem_type == "regression":
        numbers = values.astype(float)
        quantiles = numbers.quantile([0.0, 0.25, 0.5, 0.75, 1.0])
        return {
            "mean": float(numbers.mean()),
            "std": float(numbers.std()),
            "quantiles": {f"{q:g}": float(v) for q, v in quantiles.items()},
        }
    shares = values.value_counts(normalize=True)
    return {"classes": {str(k): float(v) for k, v in shares.items()}}


def _leaky_columns(frame: pd.DataFrame, target: str, problem_type: str, id_like: set[str]) -> list[str]:
    """Columns identical or near-identical to the target.

    Regression: |correlation| with the target of at least 0.99. Classification: knowing the column's value
    gives the target's value on at least 99% of rows, for columns that are not row identifiers (an ID
    trivially "predicts" every row).
    """
    rows = frame[frame[target].notna()]
    y = rows[target]
    leaks = []
    for column in frame.columns:
        if column == target or column in id_like:
            continue
        x = rows[column]
        if x.nunique(dropna=True) <= 1:
            continue
        if problem_type == "regression":
            if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
                both = pd.concat([x.astype(float), y.astype(float)], axis=1).dropna()
                if len(both) > 2 and both.iloc[:, 0].std() > 0:
                    corr = both.iloc[:, 0].corr(both.iloc[:, 1])
                    if abs(corr) >= LEAKAGE_AGREEMENT:
                        leaks.append(column)
            continue
        if x.nunique(dropna=True) > 0.5 * len(rows):
            continue
        keyed = pd.DataFrame({"x": x.astype(str).where(x.notna(), "<NA>"), "y": y.astype(str)})
        majority = keyed.groupby("x")["y"].agg(lambda s: s.value_counts().iloc[0]).sum()
        if majority / len(keyed) >= LEAKAGE_AGREEMENT:
            leaks.append(column)
    return leaks


def profile_frame(
    frame: pd.DataFrame,
    dataset: str,
    content_hash: str,
    target: str | None = None,
    problem_type: str | None = None,
    metric: str | None = None,
) -> Profile:
    """Profile `frame`; with a target, also infer the problem type and metric and look for leaks."""
    columns = tuple(_column_profile(frame[c]) for c in frame.columns)
    warnings: list[str] = []
    for col in columns:
        if col.name == target:
            continue
        if col.constant:
            warnings.append(f"Column {col.name!r} is constant; it carries no signal and can be dropped.")
        elif col.id_like:
            warnings.append(f"Column {col.name!r} looks like a row identifier; consider dropping it.")
        if col.missing_share >= 0.5:
            warnings.append(f"Column {col.name!r} is {col.missing_share:.0%} missing.")
    leakage: list[str] = []
    distribution: dict[str, Any] = {}
    kind = chosen_metric = None
    if target is not None:
        check_target(frame, target)
        y = frame[target]
        kind, chosen_metric = resolve_problem(y, problem_type, metric)
        distribution = _target_distribution(y, kind)
        missing = int(y.isna().sum())
        if missing:
            warnings.append(f"The target {target!r} is missing on {missing} rows; they are left out of splits.")
        if kind != "regression":
            minority_label, minority = min(distribution["classes"].items(), key=lambda kv: kv[1])
            if minority < IMBALANCE_SHARE:
                warnings.append(
                    f"The classes are imbalanced: {minority_label!r} is {minority:.1%} of rows; "
                    "prefer roc_auc, f1, balanced_accuracy or log_loss to accuracy."
                )
        id_like = {c.name for c in columns if c.id_like}
        leakage = _leaky_columns(frame, target, kind, id_like)
        for column in leakage:
            warnings.append(
                f"Column {column!r} is (nearly) identical to the target {target!r}: a likely leak; "
                "drop it unless it is known at prediction time."
            )
    return Profile(
        dataset=dataset,
        rows=int(frame.shape[0]),
        columns=int(frame.shape[1]),
        content_hash=content_hash,
        memory_bytes=int(frame.memory_usage(deep=True).sum()),
        target=target,
        problem_type=kind,
        metric=chosen_metric,
        target_distribution=distribution,
        column_profiles=columns,
        leakage=tuple(leakage),
        warnings=tuple(warnings),
    )
