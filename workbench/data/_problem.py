"""Problem-type inference from a target column."""

from __future__ import annotations

import pandas as pd

from workbench.errors import InvalidInputError
from workbench.metrics import PROBLEM_TYPES, ProblemType, get_metric

__all__ = ["check_target", "infer_problem_type"]

# An integer target with at most this many distinct values is read as classes, not quantities.
MAX_INTEGER_CLASSES = 20


def check_target(frame: pd.DataFrame, target: str | None) -> str:
    """Return `target` if it is a usable column of `frame`, else raise a clear error."""
    if not target:
        raise InvalidInputError("No target column was given; name the column to predict with --target.")
    if target not in frame.columns:
        near = [c for c in frame.columns if c.lower() == target.lower()]
        hint = f" Did you mean {near[0]!r}?" if near else f" Columns: {', '.join(map(str, frame.columns[:20]))}."
        raise InvalidInputError(f"The target {target!r} is not a column of this dataset.{hint}")
    values = frame[target].dropna()
    if values.empty:
        raise InvalidInputError(f"The target {target!r} has no values; choose a column that is filled in.")
    if values.nunique() < 2:
        raise InvalidInputError(
            f"The target {target!r} has only one value ({values.iloc[0]!r}); a model needs at least two "
            "distinct values to learn from, so choose another column."
        )
    return target


def infer_problem_type(y: pd.Series) -> ProblemType:
    """binary for two distinct values, multiclass for labels or few integers, regression otherwise."""
    values = y.dropna()
    n_unique = int(values.nunique())
    if n_unique < 2:
        raise InvalidInputError(f"The target {y.name!r} has fewer than two distinct values.")
    if n_unique == 2:
        return "binary"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "multiclass"
    integral = pd.api.types.is_integer_dtype(values) or bool((values == values.round()).all())
    if integral and n_unique <= MAX_INTEGER_CLASSES:
        return "multiclass"
    return "regression"


def resolve_problem(y: pd.Series, problem_type: str | None, metric: str | None) -> tuple[ProblemType, str]:
    """The problem type and metric to use: given ones are checked, missing ones inferred."""
    from workbench.metrics import DEFAULT_METRIC

    if problem_type is None:
        kind = infer_problem_type(y)
    elif problem_type in PROBLEM_TYPES:
        kind = problem_type
        n_unique = y.dropna().nunique()
        if kind == "binary" and n_unique != 2:
            raise InvalidInputError(
                f"The target {y.name!r} has {n_unique} distinct values, so it is not binary; "
                "use --problem-type multiclass or leave it out to infer it."
            )
        if kind == "regression" and not pd.api.types.is_numeric_dtype(y.dropna()):
            raise InvalidInputError(
                f"The target {y.name!r} is not numeric, so it cannot be a regression target; "
                "use --problem-type multiclass or binary."
            )
    else:
        raise InvalidInputError(f"Unknown problem type {problem_type!r}; use binary, multiclass or regression.")
    name = metric or DEFAULT_METRIC[kind]
    get_metric(name, kind)
    return kind, name
