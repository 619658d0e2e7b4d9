"""Reading tables from files and SQL queries, with a size cap checked before parsing."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from workbench.config import DEFAULT_MAX_COLUMNS
from workbench.errors import DataFormatError, FileTooLargeError, WorkbenchError

__all__ = ["FILE_FORMATS", "check_table", "detect_format", "read_file"]

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


def _too_wide(what: str, columns: int, max_columns: int) -> DataFormatError:
    return DataFormatError(
        f"{what} has {columns:,} columns, more than the {max_columns:,} a dataset may have; select the columns "
        "you need, or raise WORKBENCH_MAX_COLUMNS."
    )


def check_table(frame: pd.DataFrame, what: str, max_columns: int = DEFAULT_MAX_COLUMNS) -> pd.DataFrame:
    if frame.shape[1] > max_columns:
        raise _too_wide(what, frame.shape[1], max_columns)
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataFormatError(f"{what} has no rows; give a table with a header row and at least one data row.")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataFormatError(f"{what} has duplicate column names {dupes}; rename them so each is unique.")
    frame.columns = pd.Index(names)
    return frame


MAX_ARCHIVE_MEMBERS = 10_000  # an .xlsx holds tens of parts; thousands of members is an attack


class _OverCap(Exception):
    pass


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _CappedStream(io.RawIOBase):
    """A readable stream that stops with `_OverCap` once more than `limit` bytes have come out of it."""

    def __init__(self, stream: _Readable, limit: int) -> None:
        self.stream, self.limit, self.total = stream, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.total += len(data)
        if self.total > self.limit:
            raise _OverCap
        buffer[: len(data)] = data
        return len(data)


def _too_large(path: Path, max_bytes: int, size: str) -> FileTooLargeError:
    return FileTooLargeError(
        f"{path.name!r} is {size}, over the {_format_bytes(max_bytes)} cap; "
        "use a smaller sample or raise WORKBENCH_MAX_FILE_BYTES."
    )


def _read_gzip_csv(path: Path, max_bytes: int, sep: str) -> pd.DataFrame:
    with gzip.open(path, "rb") as raw, io.BufferedReader(_CappedStream(raw, max_bytes)) as capped:
        return pd.read_csv(capped, sep=sep, compression=None)


def _read_parquet(path: Path, max_bytes: int, max_columns: int) -> pd.DataFrame:
    """Row groups decoded batch by batch, their memory counted as it grows (a dictionary-encoded or
    compressed file can be tiny on disk and hundreds of times larger once decoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if parquet.metadata.num_columns > max_columns:
        raise _too_wide(repr(path.name), parquet.metadata.num_columns, max_columns)
    batches, decoded = [], 0
    for batch in parquet.iter_batches(batch_size=65_536):
        decoded += batch.nbytes
        if decoded > max_bytes:
            raise _OverCap
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=parquet.schema_arrow).to_pandas()


def _check_zip(path: Path, max_bytes: int) -> None:
    """An .xlsx is a zip: its members' sizes once inflated, and their number, are capped before any is read
    (zipfile stops a member at its declared size, so the sum bounds what comes out)."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise DataFormatError(
            f"{path.name!r} holds {len(members):,} files, more than the {MAX_ARCHIVE_MEMBERS:,} a workbook "
            "may; save it again from a spreadsheet program."
        )
    inflated = sum(m.file_size for m in members)
    if inflated > max_bytes:
        raise _too_large(path, max_bytes, f"{_format_bytes(inflated)} once decompressed")


def _header_columns(path: Path, sep: str, max_bytes: int) -> int:
    """How many columns a CSV's header names (read up to its first line break, within the size cap)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw:
        line = raw.readline(max_bytes)
    return line.count(sep.encode()) + 1 if line.strip() else 0


def read_file(
    path: Path, max_bytes: int, file_format: str | None = None, max_columns: int = DEFAULT_MAX_COLUMNS
) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or Excel file into a DataFrame; refuse files over `max_bytes` first, and
    compressed ones once they pass `max_bytes` decompressed (counted while streaming, before parsing ends);
    tables of more than `max_columns` columns are refused (a CSV's and a Parquet's before parsing)."""
    fmt = file_format or detect_format(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise _too_large(path, max_bytes, _format_bytes(size))
    try:
        if fmt in ("csv", "tsv"):
            sep = "\t" if fmt == "tsv" else ","
            columns = _header_columns(path, sep, max_bytes)  # an upper bound: quoted separators count too
            if columns > max_columns:
                raise _too_wide(repr(path.name), columns, max_columns)
            if path.name.lower().endswith(".gz"):
                frame = _read_gzip_csv(path, max_bytes, sep)
            else:
                frame = pd.read_csv(path, sep=sep)
        elif fmt == "parquet":
            frame = _read_parquet(path, max_bytes, max_columns)
        elif fmt == "excel":
            _check_zip(path, max_bytes)
            frame = pd.read_excel(path, engine="openpyxl")
        else:
            raise DataFormatError(f"Unknown format {fmt!r}; use csv, tsv, parquet or excel.")
    except _OverCap:
        raise _too_large(path, max_bytes, f"more than {_format_bytes(max_bytes)} once decompressed") from None
    except WorkbenchError:  # said already (a cap, a bad workbook): some are ValueErrors too
        raise
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"{path.name!r} is empty; give a file with a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, zipfile.BadZipFile, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataFormatError(
            f"{path.name!r} could not be read as {fmt} ({reason}); check that the file is a valid {fmt} "
            "file, or rename it with the right extension."
        ) from None
    return check_table(frame, repr(path.name), max_columns)
