"""Datasets: list, show, profile, register (a path, a SQL query, a DataFrame, uploaded bytes), delete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.data import DatasetEntry, Profile

__all__ = [
    "add_dataset",
    "add_dataset_from_bytes",
    "add_dataset_from_frame",
    "delete_dataset",
    "list_datasets",
    "profile_dataset",
    "show_dataset",
    "suggest_target",
]


def list_datasets(*, workspace: WorkspaceLike = None) -> list[DatasetEntry]:
    """Bundled datasets, then registered ones, with rows, columns, target and problem type."""
    return resolve_workspace(workspace).datasets()


def show_dataset(name: str, *, workspace: WorkspaceLike = None) -> DatasetEntry:
    """One dataset's entry: source, licence, target, metric, shape."""
    return resolve_workspace(workspace).dataset(name)


def profile_dataset(
    name: str,
    *,
    target: str | None = None,
    problem_type: str | None = None,
    metric: str | None = None,
    workspace: WorkspaceLike = None,
) -> Profile:
    """Columns, missing values, cardinality, target distribution and warnings (leaks, ID-like columns).

    Cached by the source's fingerprint: asked again while the file is unchanged, it is not read again.
    """
    return resolve_workspace(workspace).profile(name, target=target, problem_type=problem_type, metric=metric)


def suggest_target(name: str, *, workspace: WorkspaceLike = None) -> str | None:
    """The column a dataset most likely predicts: its own target, else its last column that is neither
    constant nor ID-like (None when there is none)."""
    ws = resolve_workspace(workspace)
    entry = ws.dataset(name)
    if entry.target:
        return entry.target
    columns = ws.profile(name).column_profiles
    usable = [c.name for c in columns if not c.constant and not c.id_like]
    return usable[-1] if usable else None


def add_dataset(
    name: str,
    path: str | Path | None = None,
    *,
    url: str | None = None,
    query: str | None = None,
    target: str | None = None,
    workspace: WorkspaceLike = None,
) -> DatasetEntry:
    """Register a CSV, TSV, Parquet or Excel file inside WORKBENCH_DATA_ROOTS, or a SELECT query against a
    SQLite (`sqlite:///file.db`) or DuckDB (`duckdb:///file.duckdb`) file."""
    return resolve_workspace(workspace).add_dataset(
        name, str(path) if path is not None else None, url=url, query=query, target=target
    )


def add_dataset_from_frame(
    name: str, frame: pd.DataFrame, *, target: str | None = None, workspace: WorkspaceLike = None
) -> DatasetEntry:
    """Register a pandas DataFrame; the workspace keeps it as Parquet."""
    return resolve_workspace(workspace).add_dataset_frame(name, frame, target=target)


def add_dataset_from_bytes(
    name: str, filename: str, data: bytes, *, target: str | None = None, workspace: WorkspaceLike = None
) -> DatasetEntry:
    """Register an uploaded file from its bytes; `filename` gives its format; the workspace keeps it."""
    return resolve_workspace(workspace).add_dataset_bytes(name, filename, data, target=target)


def delete_dataset(name: str, *, workspace: WorkspaceLike = None) -> DatasetEntry:
    """Unregister a dataset (refused for bundled ones and while experiments use it)."""
    return resolve_workspace(workspace).delete_dataset(name)
