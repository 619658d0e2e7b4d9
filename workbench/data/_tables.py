"""Reading tables from files and SQL queries, with a size cap checked before parsing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from workbench.errors import DataFormatError, FileTooLargeError, InvalidInputError

__all__ = ["FILE_FORMATS", "detect_format", "read_file", "read_sql"]

FILE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
}


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(FILE_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FILE_FORMATS[suffix]
    known = ", ".join(sorted(FILE_FORMATS))
    raise DataFormatError(f"{path.name!r} has an unknown file type; use one of: {known}.")


def _format_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def _check_table(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataFormatError(f"{what} has no rows; give a table with a header row and at least one data row.")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataFormatError(f"{what} has duplicate column names {dupes}; rename them so each is unique.")
    frame.columns = pd.Index(names)
    return frame


def read_file(path: Path, max_bytes: int, file_format: str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or Excel file into a DataFrame; refuse files over `max_bytes` first."""
    fmt = file_format or detect_format(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLargeError(
            f"{path.name!r} is {_format_bytes(size)}, over the {_format_bytes(max_bytes)} cap; "
            "use a smaller sample or raise WORKBENCH_MAX_FILE_BYTES."
        )
    try:
        if fmt == "csv":
            frame = pd.read_csv(path)
        elif fmt == "tsv":
            frame = pd.read_csv(path, sep="\t")
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "excel":
            frame = pd.read_excel(path, engine="openpyxl")
        else:
            raise DataFormatError(f"Unknown format {fmt!r}; use csv, tsv, parquet or excel.")
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"{path.name!r} is empty; give a file with a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, zipfile.BadZipFile, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataFormatError(
            f"{path.name!r} could not be read as {fmt} ({reason}); check that the file is a valid {fmt} "
            "file, or rename it with the right extension."
        ) from None
    return _check_table(frame, repr(path.name))


def read_sql(url: str, query: str) -> pd.DataFrame:
    """Run a read-only query against a SQLite or DuckDB database URL."""
    import sqlalchemy as sa

    stripped = query.strip().rstrip(";").strip()
    first = stripped.split(None, 1)[0].lower() if stripped else ""
    if first not in {"select", "with"}:
        raise InvalidInputError("The SQL query must be one SELECT (or WITH ... SELECT) statement.")
    parsed = sa.engine.make_url(url)
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        # Open the file read-only: a dataset query must never change the user's database.
        parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
    elif parsed.get_backend_name() == "duckdb":
        connect_args = {"read_only": True}
    engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_query(sa.text(stripped), conn)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        raise DataFormatError(f"The SQL query failed ({reason}); check the query and the database.") from None
    except Exception as exc:  # DuckDB raises its own exception types through the dialect
        if type(exc).__module__.startswith("duckdb"):
            reason = str(exc).splitlines()[0][:200]
            raise DataFormatError(f"The SQL query failed ({reason}); check the query and the database.") from None
        raise
    finally:
        engine.dispose()
    return _check_table(frame, "The query result")
