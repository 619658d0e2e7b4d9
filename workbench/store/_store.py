"""The workspace: an SQLite catalog (WAL, migrated on open) and an artifact root beside it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.data import DatasetEntry, check_name
from workbench.errors import InvalidInputError, NotFoundError, StoreError
from workbench.store._artifacts import ArtifactRef, atomic_write, sweep_temp_files
from workbench.store._migrations import MIGRATIONS

__all__ = ["Store"]

DB_NAME = "workbench.db"
ARTIFACTS_DIR = "artifacts"


class Store:
    """A workspace folder: `workbench.db` (the catalog) and `artifacts/` (files named by key).

    Open one with `Store.open(home)`; it creates the folder, switches SQLite to WAL and runs pending
    migrations. A row naming an artifact is written only after the artifact's file is complete and
    renamed into place, so nothing half-written is ever listed.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def open(cls, home: Path) -> Store:
        store = cls(home)
        store._connect()
        return store

    # connection and schema ---------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.home / DB_NAME

    @property
    def artifact_root(self) -> Path:
        return self.home / ARTIFACTS_DIR

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._connect()
        assert self._conn is not None
        return self._conn

    def _connect(self) -> None:
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o750)
            self.artifact_root.mkdir(exist_ok=True, mode=0o750)
            conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"The workspace at {self.home} cannot be opened ({exc}); check WORKBENCH_HOME and its permissions."
            ) from None
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._conn = conn
        self._migrate()
        sweep_temp_files(self.artifact_root)

    def _migrate(self) -> None:
        conn = self.conn
        with self.transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"The workspace at {self.home} has schema {version}, newer than this workbench "
                    f"({len(MIGRATIONS)}); upgrade workbench."
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def tables(self) -> list[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        return [r[0] for r in rows if not r[0].startswith("sqlite_")]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time across processes, rolled back on error."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # artifacts ---------------------------------------------------------------------------------

    def put_artifact(self, key: str, data: bytes) -> ArtifactRef:
        """Store `data` under `key`. Artifacts are immutable: the same key with other bytes is refused."""
        digest = hashlib.sha256(data).hexdigest()
        existing = self.get_artifact(key)
        if existing is not None:
            if existing.sha256 != digest:
                raise InvalidInputError(f"Artifact {key!r} already exists with other content; use a new key.")
            return existing
        atomic_write(self.artifact_root, key, data)
        ref = ArtifactRef(key=key, sha256=digest, size=len(data), created_at=time.time())
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO artifacts (key, sha256, size, created_at) VALUES (?, ?, ?, ?)",
                (ref.key, ref.sha256, ref.size, ref.created_at),
            )
        return ref

    def get_artifact(self, key: str) -> ArtifactRef | None:
        row = self.conn.execute("SELECT * FROM artifacts WHERE key = ?", (key,)).fetchone()
        return ArtifactRef(**dict(row)) if row else None

    def read_artifact(self, key: str) -> bytes:
        """The bytes of a listed artifact, checked against the sha256 recorded when it was written."""
        ref = self.get_artifact(key)
        if ref is None:
            raise NotFoundError(f"There is no artifact {key!r} in the workspace.")
        data = (self.artifact_root / key).read_bytes()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise StoreError(f"Artifact {key!r} does not match its recorded sha256; it was changed or damaged.")
        return data

    def list_artifacts(self, prefix: str = "") -> list[ArtifactRef]:
        rows = self.conn.execute(
            "SELECT * FROM artifacts WHERE key LIKE ? ESCAPE '\\' ORDER BY key",
            (prefix.replace("%", "\\%").replace("_", "\\_") + "%",),
        )
        return [ArtifactRef(**dict(r)) for r in rows]

    # datasets ----------------------------------------------------------------------------------

    def add_dataset(self, entry: DatasetEntry, content_hash: str, rows: int, columns: int) -> None:
        check_name(entry.name, "dataset name")
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO datasets (name, kind, entry_json, content_hash, rows, columns, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (entry.name, entry.kind, entry.to_json(), content_hash, rows, columns, time.time()),
                )
        except sqlite3.IntegrityError:
            raise InvalidInputError(
                f"A dataset named {entry.name!r} is already registered; choose another name."
            ) from None

    def get_dataset(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
        return _dataset_row(row) if row else None

    def list_datasets(self) -> list[dict[str, Any]]:
        return [_dataset_row(r) for r in self.conn.execute("SELECT * FROM datasets ORDER BY name")]

    # experiments -------------------------------------------------------------------------------

    def add_experiment(self, record: dict[str, Any]) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO experiments (name, dataset, dataset_hash, target, problem_type, metric, spec_json,"
                " split_hash, split_artifact, status, created_at, fingerprint)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["name"],
                    record["dataset"],
                    record["dataset_hash"],
                    record["target"],
                    record["problem_type"],
                    record["metric"],
                    json.dumps(record["spec"], sort_keys=True),
                    record["split_hash"],
                    record["split_artifact"],
                    record.get("status", "created"),
                    time.time(),
                    record.get("fingerprint"),
                ),
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

    def get_experiment(self, experiment_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
        return _experiment_row(row) if row else None

    def find_experiment(self, fingerprint: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
        """The newest experiment with this fingerprint and one of these statuses."""
        marks = ", ".join("?" for _ in statuses)
        row = self.conn.execute(
            f"SELECT * FROM experiments WHERE fingerprint = ? AND status IN ({marks}) ORDER BY id DESC LIMIT 1",
            (fingerprint, *statuses),
        ).fetchone()
        return _experiment_row(row) if row else None

    def list_experiments(self) -> list[dict[str, Any]]:
        return [_experiment_row(r) for r in self.conn.execute("SELECT * FROM experiments ORDER BY id")]


def _dataset_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["entry"] = DatasetEntry.from_json(data.pop("entry_json"))
    return data


def _experiment_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["spec"] = json.loads(data.pop("spec_json"))
    return data
