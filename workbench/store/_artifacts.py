"""Atomic artifact files: written to a temp name in the target folder, fsynced, then renamed."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from workbench.data import check_relative_key

__all__ = ["TEMP_PREFIX", "ArtifactRef", "atomic_write", "sha256_file", "sweep_temp_files"]

TEMP_PREFIX = ".tmp-"
# Temp files older than this belong to a writer that died; younger ones may still be in use.
STALE_TEMP_SECONDS = 3600.0


@dataclass(frozen=True)
class ArtifactRef:
    key: str
    sha256: str
    size: int
    created_at: float


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(root: Path, key: str, data: bytes) -> tuple[Path, str]:
    """Write `data` to `root/key` so that the file is either absent or complete; return path and sha256."""
    check_relative_key(key)
    final = root / key
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}-{final.name}"
    try:
        with open(temp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return final, hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sweep_temp_files(root: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove temp files left by writers that died; return how many were removed."""
    if not root.exists():
        return 0
    cutoff = time.time() - older_than
    removed = 0
    for path in root.rglob(f"{TEMP_PREFIX}*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
