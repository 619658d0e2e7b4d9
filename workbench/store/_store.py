"""The workspace store: an SQLite catalog (WAL, migrated on open) and an artifact root beside it.

Each thread gets a connection of its own. A widget polling progress while the search driver writes
therefore never runs inside the driver's transaction (one shared connection would put its reads, and
worse its writes, inside whatever BEGIN IMMEDIATE the driver has open on that connection).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import InvalidInputError, NotFoundError, StoreError
from workbench.store._artifacts import ArtifactRef, atomic_write, sweep_temp_files
from workbench.store._migrations import MIGRATIONS

__all__ = ["ARTIFACTS_DIR", "DB_NAME", "Store", "connect"]

DB_NAME = "workbench.db"
ARTIFACTS_DIR = "artifacts"
BUSY_TIMEOUT_S = 30.0


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection to the catalog: rows as `sqlite3.Row`, autocommit (transactions are explicit)."""
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Store:
    """A workspace folder: `workbench.db` (the catalog) and `artifacts/` (files named by key).

    Open one with `Store.open(home)`; it creates the folder, switches SQLite to WAL and runs pending
    migrations. A row naming an artifact is written only after the artifact's file is complete and
    renamed into place, so nothing half-written is ever listed. `conn` is the calling thread's own
    connection; `close()` closes every thread's.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._ready = False

    @classmethod
    def open(cls, home: Path) -> Store:
        store = cls(home)
        store.conn  # noqa: B018  # creates the folder, migrates and sweeps now: errors surface at open
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
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self._ready:
                self.home.mkdir(parents=True, exist_ok=True, mode=0o750)
                self.artifact_root.mkdir(exist_ok=True, mode=0o750)
            conn = connect(self.db_path)
            conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"The workspace at {self.home} cannot be opened ({exc}); check WORKBENCH_HOME and its permissions."
            ) from None
        self._local.conn = conn
        with self._lock:
            # Connections of threads that ended are closed here, so short-lived threads do not pile them up.
            alive = []
            for thread, other in self._connections:
                owner = thread()
                if owner is not None and owner.is_alive():
                    alive.append((thread, other))
                else:
                    other.close()
            alive.append((weakref.ref(threading.current_thread()), conn))
            self._connections = alive
            first = not self._ready
            self._ready = True
        if first:
            try:
                self._migrate(conn)
            except BaseException:
                self._ready = False
                raise
            sweep_temp_files(self.artifact_root)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
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
        """BEGIN IMMEDIATE ... COMMIT on this thread's connection: one writer at a time across threads and
        processes, rolled back on error. Nested blocks join the outer transaction."""
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
        with self._lock:
            connections, self._connections = self._connections, []
        for _, conn in connections:
            conn.close()
        self._local = threading.local()
        self._ready = False

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
            "SELECT * FROM artifacts WHERE key LIKE ? ESCAPE '\\' ORDER BY key", (_like_prefix(prefix),)
        )
        return [ArtifactRef(**dict(r)) for r in rows]

    def delete_artifacts(self, keys: list[str]) -> None:
        """Unlist `keys` (in one transaction), then remove their files; a crash in between leaves only files
        that no row names, never a row without its file."""
        with self.transaction() as conn:
            conn.executemany("DELETE FROM artifacts WHERE key = ?", [(k,) for k in keys])
        for key in keys:
            (self.artifact_root / key).unlink(missing_ok=True)

    def remove_artifact_folder(self, prefix: str) -> None:
        """Remove the files under `prefix/` that no row names any more (after `delete_artifacts`)."""
        folder = self.artifact_root / prefix
        if folder.is_dir() and not self.list_artifacts(prefix.rstrip("/") + "/"):
            shutil.rmtree(folder, ignore_errors=True)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
