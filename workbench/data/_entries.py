"""Dataset entries: where a dataset's rows come from, and how to load them."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from workbench.config import Settings
from workbench.data._paths import check_name, resolve_within
from workbench.data._sql import read_sql, sql_database
from workbench.data._tables import check_table, detect_format, read_file
from workbench.errors import DataFormatError, NotFoundError

__all__ = [
    "WORKSPACE_DATASETS",
    "DatasetEntry",
    "bundled_datasets",
    "bundled_datasets_dir",
    "content_hash",
    "file_entry",
    "load_entry",
    "source_fingerprint",
    "sql_entry",
    "with_shape",
]

SourceKind = Literal["bundled", "file", "sql", "workspace"]
# "workspace": a file the workspace keeps itself (an upload, a saved DataFrame), under WORKBENCH_HOME/datasets.
WORKSPACE_DATASETS = "datasets"


@dataclass(frozen=True)
class DatasetEntry:
    """A named dataset: its source and, where known, its default target and metric."""

    name: str
    kind: SourceKind
    location: str
    format: str
    query: str | None = None
    target: str | None = None
    task: str | None = None
    metric: str | None = None
    licence: str | None = None
    source: str | None = None
    description: str | None = None
    rows: int | None = None
    columns: int | None = None
    sha256: str | None = None
    time_column: str | None = None
    group_column: str | None = None

    @property
    def problem_type(self) -> str | None:
        """binary, multiclass or regression, when the entry names a target (manifest or registration)."""
        return self.task

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problem_type"] = self.task
        if self.kind == "sql":
            data["location"] = _mask_password(self.location)
        return data

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetEntry:
        return cls(**json.loads(text))


def _mask_password(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def bundled_datasets_dir(settings: Settings) -> Path:
    if settings.datasets_dir is not None:
        return settings.datasets_dir
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_bundled_datasets", package.parent / "datasets"):
        if (candidate / "manifest.toml").is_file():
            return candidate
    raise NotFoundError(
        "The bundled datasets are missing; reinstall workbench or set WORKBENCH_DATASETS_DIR to the "
        "folder holding manifest.toml."
    )


@cache
def _read_manifest(folder: Path) -> tuple[DatasetEntry, ...]:
    with open(folder / "manifest.toml", "rb") as fh:
        manifest = tomllib.load(fh)
    entries = []
    for item in manifest.get("dataset", []):
        path = folder / item["file"]
        entries.append(
            DatasetEntry(
                name=item["name"],
                kind="bundled",
                location=str(path),
                format=detect_format(path),
                target=item.get("target"),
                task=item.get("task"),
                metric=item.get("metric"),
                licence=item.get("licence"),
                source=item.get("source"),
                description=item.get("description"),
                rows=item.get("rows"),
                columns=item.get("columns"),
                sha256=item.get("sha256"),
                time_column=item.get("time_column"),
                group_column=item.get("group_column"),
            )
        )
    return tuple(sorted(entries, key=lambda e: e.name))


def bundled_datasets(settings: Settings) -> tuple[DatasetEntry, ...]:
    """The datasets shipped in `datasets/`, described by its `manifest.toml`."""
    return _read_manifest(bundled_datasets_dir(settings).resolve())


def file_entry(name: str, path: str | Path, settings: Settings, target: str | None = None) -> DatasetEntry:
    """An entry for a local CSV, TSV, Parquet or Excel file inside the allowed data roots."""
    check_name(name, "dataset name")
    real = resolve_within(path, settings.data_roots)
    return DatasetEntry(name=name, kind="file", location=str(real), format=detect_format(real), target=target)


def sql_entry(name: str, url: str, query: str, settings: Settings, target: str | None = None) -> DatasetEntry:
    """An entry for a SELECT query against a SQLite (`sqlite:///file.db`) or DuckDB (`duckdb:///file.duckdb`)
    database file inside the allowed data roots."""
    import sqlalchemy as sa

    check_name(name, "dataset name")
    backend, database = sql_database(url)
    real = resolve_within(database, settings.data_roots)
    location = sa.engine.URL.create(backend, database=str(real)).render_as_string(hide_password=False)
    return DatasetEntry(name=name, kind="sql", location=location, format="sql", query=query, target=target)


def load_entry(entry: DatasetEntry, settings: Settings) -> pd.DataFrame:
    """Load an entry's rows; files are re-checked against the allowed roots and size cap each time."""
    if entry.kind == "sql":
        frame = read_sql(entry.location, entry.query or "", settings.data_roots)
        return check_table(frame, "The query result", settings.max_columns)
    path = Path(entry.location)
    if entry.kind == "file":
        path = resolve_within(path, settings.data_roots)
    elif entry.kind == "workspace":
        path = resolve_within(path, [settings.home / WORKSPACE_DATASETS])
    elif not path.is_file():
        raise NotFoundError(f"The bundled file for {entry.name!r} is missing ({path.name}); reinstall workbench.")
    return read_file(path, settings.max_file_bytes, entry.format, settings.max_columns)


def source_fingerprint(entry: DatasetEntry, settings: Settings) -> str | None:
    """A token that changes whenever the entry's rows may have changed, read without reading them: the
    file's (or the database file's) path, size, modification time and inode, plus the query. None when the
    source cannot be checked this way (it is then read every time)."""
    if entry.kind == "sql":
        import sqlalchemy as sa

        database = sa.engine.make_url(entry.location).database
        path, extra = (Path(database) if database else None), entry.query or ""
    else:
        path, extra = Path(entry.location), entry.format
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    token = json.dumps([str(path.resolve()), info.st_size, info.st_mtime_ns, info.st_ino, extra])
    return hashlib.sha256(token.encode()).hexdigest()


def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 of a table's column names, dtypes and values: equal tables give equal hashes."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    try:
        row_hashes = pd.util.hash_pandas_object(frame, index=False, categorize=True)
    except TypeError as exc:  # unhashable cells such as lists from a Parquet file
        raise DataFormatError(f"The table has cells that are not plain values ({exc}); flatten them first.") from None
    digest.update(row_hashes.to_numpy().tobytes())
    return digest.hexdigest()


def with_shape(entry: DatasetEntry, frame: pd.DataFrame) -> DatasetEntry:
    return replace(entry, rows=int(frame.shape[0]), columns=int(frame.shape[1]))
