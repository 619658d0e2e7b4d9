"""SQL sources read one table and nothing else, whatever the query or the URL tries (as an attacker would:
several statements, writes hidden behind WITH, files, other databases, settings, encoded URLs, a swapped
database file)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench.data import read_sql
from workbench.errors import DataFormatError, InvalidInputError, UnsafePathError, WorkbenchError
from workbench.store import Workspace

ROWS = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"]})


def _sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        ROWS.to_sql("sales", conn, index=False)
    return path


def _duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as conn:
        conn.register("frame", ROWS)
        conn.execute("CREATE TABLE sales AS SELECT * FROM frame")
    return path


def _sqlite_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM sales ORDER BY x").fetchall()


SQLITE_ATTACKS = [
    "SELECT * FROM sales; DROP TABLE sales",
    "WITH gone AS (SELECT 1) DELETE FROM sales RETURNING *",
    "DELETE FROM sales RETURNING *",
    "INSERT INTO sales VALUES (9, 'z') RETURNING *",
    "ATTACH DATABASE '{other}' AS other",
    "SELECT * FROM pragma_table_info('sales')",
    "PRAGMA query_only = OFF",
    "SELECT load_extension('/tmp/x')",
    "SELECT writefile('{outside}', 'x')",
]


@pytest.mark.parametrize("query", SQLITE_ATTACKS)
def test_a_sqlite_query_can_only_read(query: str, data_dir: Path, tmp_path: Path) -> None:
    database = _sqlite(data_dir / "shop.db")
    other = _sqlite(data_dir / "other.db")
    outside = tmp_path / "written.txt"
    before = _sqlite_rows(database)
    text = query.format(other=other, outside=outside)
    with pytest.raises(WorkbenchError) as refused:
        read_sql(f"sqlite:///{database}", text, [data_dir])
    assert isinstance(refused.value, InvalidInputError | DataFormatError), refused.value
    assert _sqlite_rows(database) == before and _sqlite_rows(other) == before  # nothing changed anywhere
    assert not outside.exists()


DUCKDB_ATTACKS = [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('{outside_csv}')",
    "SELECT * FROM glob('/etc/*')",
    "COPY sales TO '{outside}'",
    "SELECT 1; COPY sales TO '{outside}'",
    "ATTACH '{other}' AS other (READ_WRITE)",
    "SELECT * FROM sales; DROP TABLE sales",
    "SET enable_external_access = true",
    "INSTALL httpfs",
    "SELECT * FROM 'https://example.com/x.csv'",
]


@pytest.mark.parametrize("query", DUCKDB_ATTACKS)
def test_a_duckdb_query_can_only_read(query: str, data_dir: Path, tmp_path: Path) -> None:
    database = _duckdb(data_dir / "shop.duckdb")
    other = _duckdb(data_dir / "other.duckdb")
    outside = tmp_path / "copied.csv"
    outside_csv = tmp_path / "secret.csv"
    outside_csv.write_text("secret\nhunter2\n")
    text = query.format(other=other, outside=outside, outside_csv=outside_csv)
    with pytest.raises(WorkbenchError) as refused:
        read_sql(f"duckdb:///{database}", text, [data_dir])
    assert isinstance(refused.value, InvalidInputError | DataFormatError), refused.value
    assert "hunter2" not in refused.value.message
    assert not outside.exists()
    for path in (database, other):
        with duckdb.connect(str(path), read_only=True) as conn:
            assert conn.execute("SELECT count(*) FROM sales").fetchone() == (4,)


def test_reads_still_work(data_dir: Path) -> None:
    sqlite_db, duck_db = _sqlite(data_dir / "shop.db"), _duckdb(data_dir / "shop.duckdb")
    for url in (f"sqlite:///{sqlite_db}", f"duckdb:///{duck_db}"):
        query = "WITH big AS (SELECT * FROM sales WHERE x > 1) SELECT y, count(*) AS n FROM big GROUP BY y ORDER BY y"
        frame = read_sql(url, query, [data_dir])
        assert frame.to_dict("list") == {"y": ["a", "b"], "n": [1, 2]}, url


@pytest.mark.parametrize(
    "suffix", ["?mode=rw", "?mode=rwc", "%3Fmode%3Drw", "%23", "%252e%252e/outside.db", "?immutable=1"]
)
def test_url_parameters_and_encodings_cannot_reopen_the_file(suffix: str, data_dir: Path, tmp_path: Path) -> None:
    database = _sqlite(data_dir / "shop.db")
    _sqlite(tmp_path / "outside.db")
    before = _sqlite_rows(database)
    with pytest.raises(WorkbenchError):
        read_sql(f"sqlite:///{database}{suffix}", "DELETE FROM sales RETURNING *", [data_dir])
    assert _sqlite_rows(database) == before and _sqlite_rows(tmp_path / "outside.db") == before


def test_a_database_swapped_for_a_symlink_is_refused_on_the_next_read(
    workspace: Workspace, data_dir: Path, tmp_path: Path
) -> None:
    database = _sqlite(data_dir / "shop.db")
    workspace.add_dataset("sales", url=f"sqlite:///{database}", query="SELECT * FROM sales")
    assert len(workspace.load("sales")) == 4
    secret = _sqlite(tmp_path / "secret.db")
    database.unlink()
    os.symlink(secret, database)
    with pytest.raises(UnsafePathError, match="outside the folders"):
        workspace.load("sales")
