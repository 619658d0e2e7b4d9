"""SQL sources that read and nothing else: one statement, parsed by the database's own parser and refused
unless it is a read; the database file re-checked against the allowed folders on every open and opened
read-only, with every way out (files, other databases, settings, extensions) shut by the engine itself.

- SQLite: a `file:` URI built from the resolved path (nothing in a name can add URI parameters) with
  `mode=ro`, `PRAGMA query_only`, and an authorizer that allows reading tables and plain functions only:
  no write, no ATTACH, no PRAGMA, no extension loading.
- DuckDB: `read_only`, `enable_external_access=false` (no file, URL or other database reachable from SQL),
  extensions neither installed nor loaded, and the configuration locked so a query cannot turn these back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from workbench.data._paths import resolve_within
from workbench.errors import DataFormatError, InvalidInputError

__all__ = ["SQL_BACKENDS", "read_sql", "sql_database"]

SQL_BACKENDS = ("sqlite", "duckdb")
ONE_READ = "The SQL query must be one SELECT (or WITH ... SELECT) statement."

# SQLite functions that reach outside the database (the CLI's file functions, extension loading).
_SQLITE_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})
_SQLITE_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})


def sql_database(url: str) -> tuple[str, str]:
    """The backend ("sqlite" or "duckdb") and the database file path of a SQLAlchemy-style URL; URL
    parameters (`?mode=rw`, ...) are refused: how the file is opened is not the URL's to choose."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidInputError(
            f"{url!r} is not a database URL; use sqlite:///path/to/file.db or duckdb:///path/to/file.duckdb."
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SQL_BACKENDS:
        raise InvalidInputError(
            f"Database {backend!r} is not supported; use a SQLite (sqlite:///file.db) or DuckDB "
            "(duckdb:///file.duckdb) file."
        )
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInputError("The database URL must name a database file, e.g. sqlite:///data/sales.db.")
    if parsed.query or parsed.host or parsed.username:
        raise InvalidInputError(
            "The database URL takes a file path only (no ?parameters, host or user); the file is always "
            "opened read-only."
        )
    return backend, parsed.database


def read_sql(url: str, query: str, data_roots: Sequence[Path]) -> pd.DataFrame:
    """The rows of one read-only `query` against the SQLite or DuckDB file of `url`, which must lie inside
    `data_roots` now (a file swapped for a symlink since it was registered is refused)."""
    backend, database = sql_database(url)
    path = resolve_within(database, data_roots)
    if backend == "sqlite":
        return _read_sqlite(path, query)
    return _read_duckdb(path, query)


def _failed(exc: BaseException) -> DataFormatError:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return DataFormatError(f"The SQL query failed ({reason}); check the query and the database.")


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    if action in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _read_sqlite(path: Path, query: str) -> pd.DataFrame:
    text = query.strip()
    if not sqlite3.complete_statement(text if text.endswith(";") else text + ";"):
        raise InvalidInputError(ONE_READ)
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _failed(exc) from None
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_sqlite_authorizer)
        try:
            cursor = conn.execute(text)  # more than one statement: sqlite3 refuses it (ProgrammingError)
        except sqlite3.ProgrammingError:
            raise InvalidInputError(ONE_READ) from None
        except sqlite3.DatabaseError as exc:
            if "not authorized" in str(exc) or "readonly" in str(exc):
                raise InvalidInputError(ONE_READ) from None
            raise _failed(exc) from None
        if cursor.description is None:  # a statement that returns no rows is not a read
            raise InvalidInputError(ONE_READ)
        columns = [d[0] for d in cursor.description]
        try:
            rows = cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            raise _failed(exc) from None
        return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    finally:
        conn.close()


def _read_duckdb(path: Path, query: str) -> pd.DataFrame:
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise _failed(exc) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise InvalidInputError(ONE_READ)
    config = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "lock_configuration": True,
    }
    try:
        with duckdb.connect(str(path), read_only=True, config=config) as conn:  # type: ignore[arg-type]
            frame: pd.DataFrame = conn.execute(statements[0].query).df()
    except duckdb.Error as exc:
        raise _failed(exc) from None
    return frame
