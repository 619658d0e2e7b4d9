from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.errors import InvalidInputError, StoreError, UnsafePathError
from workbench.store import MIGRATIONS, Store, sweep_temp_files

TABLES = {
    "artifacts",
    "datasets",
    "experiments",
    "trials",
    "candidates",
    "ensembles",
    "registry_versions",
    "registry_aliases",
    "endpoints",
    "jobs",
    "events",
}


def test_migrations_from_an_empty_folder(tmp_path: Path) -> None:
    home = tmp_path / "nested" / "home"
    with Store.open(home) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert set(store.tables()) >= TABLES
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store.open(home) as again:  # reopening runs nothing twice
        assert again.schema_version == len(MIGRATIONS)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "workbench.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="upgrade workbench"):
        Store.open(tmp_path)


def test_artifacts_are_checksummed_and_immutable(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        ref = store.put_artifact("models/a/model.bin", b"hello")
        assert ref.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        assert store.read_artifact("models/a/model.bin") == b"hello"
        assert store.put_artifact("models/a/model.bin", b"hello") == ref
        with pytest.raises(InvalidInputError, match="already exists"):
            store.put_artifact("models/a/model.bin", b"other")
        (store.artifact_root / "models/a/model.bin").write_bytes(b"tampered")
        with pytest.raises(StoreError, match="sha256"):
            store.read_artifact("models/a/model.bin")
        assert [a.key for a in store.list_artifacts("models/")] == ["models/a/model.bin"]


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "a/../b", "a//b", "a\\b", ""])
def test_artifact_keys_cannot_escape(tmp_path: Path, key: str) -> None:
    with Store.open(tmp_path) as store, pytest.raises(UnsafePathError):
        store.put_artifact(key, b"x")


CRASH_BEFORE_RENAME = """
import os, sys
from pathlib import Path
from workbench.store import Store
store = Store.open(Path(sys.argv[1]))
def crash(*args, **kwargs):
    os._exit(9)  # the process dies after the temp file is written and fsynced, before the rename
os.replace = crash
store.put_artifact("models/m/model.bin", b"x" * 100_000)
"""


def test_a_crash_between_temp_write_and_rename_leaves_nothing_listed(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CRASH_BEFORE_RENAME, str(tmp_path)], timeout=60)
    assert done.returncode == 9
    leftovers = list((tmp_path / "artifacts").rglob(".tmp-*"))
    assert len(leftovers) == 1  # the writer really got as far as the temp file
    with Store.open(tmp_path) as store:
        assert store.list_artifacts() == []
        assert store.get_artifact("models/m/model.bin") is None
        assert not (store.artifact_root / "models/m/model.bin").exists()
    # A stale temp file is swept; a fresh one (another writer at work) is left alone.
    old = time.time() - 7200
    os.utime(leftovers[0], (old, old))
    assert sweep_temp_files(tmp_path / "artifacts") == 1
    assert not leftovers[0].exists()


def test_two_processes_write_to_one_store(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    script = (
        "import sys; from pathlib import Path; from workbench.store import Store\n"
        "s = Store.open(Path(sys.argv[1]))\n"
        "for i in range(30): s.put_artifact(f'p{sys.argv[2]}/a{i}', str(i).encode())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(n)]) for n in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with Store.open(tmp_path) as store:
        assert len(store.list_artifacts()) == 60
