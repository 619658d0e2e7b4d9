"""Exported archives: one .tar.gz holding `header.json` and the bundle's files under `bundle/`."""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidInputError
from workbench.registry._bundle import FORMAT_VERSION, MANIFEST, BundleIntegrityError, manifest_sha256, verify_bundle

if TYPE_CHECKING:
    from workbench.registry._registry import VersionInfo

__all__ = ["HEADER", "read_archive", "read_header", "write_archive"]

HEADER = "header.json"
BUNDLE = "bundle"


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o640, 0
    archive.addfile(info, io.BytesIO(data))


def write_archive(info: VersionInfo, path: Path) -> Path:
    """Write the archive of `info` to `path` (a folder gets `<name>-<version>.tar.gz`); atomic."""
    target = path / f"{info.name}-{info.version}.tar.gz" if path.is_dir() else path
    header = {
        "format_version": FORMAT_VERSION,
        "name": info.name,
        "version": info.version,
        "manifest_sha256": info.manifest_sha256,
    }
    temp = target.parent / f".tmp-{uuid.uuid4().hex}-{target.name}"
    try:
        with tarfile.open(temp, "w:gz") as archive:
            _add(archive, HEADER, json.dumps(header, indent=2, sort_keys=True).encode())
            for file in sorted(p for p in info.path.rglob("*") if p.is_file()):
                _add(archive, f"{BUNDLE}/{file.relative_to(info.path).as_posix()}", file.read_bytes())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise InvalidInputError(f"{path} is not a model archive made by `workbench models export` ({exc}).") from None


def read_header(path: Path) -> dict[str, Any]:
    with _open(path) as archive:
        try:
            member = archive.getmember(HEADER)
            handle = archive.extractfile(member) if member.isfile() else None
            header: dict[str, Any] = json.loads(handle.read()) if handle else {}
        except (KeyError, ValueError):
            header = {}
    if header.get("format_version") != FORMAT_VERSION or not {"name", "version", "manifest_sha256"} <= set(header):
        raise InvalidInputError(f"{path} has no readable {HEADER}; it was not made by `workbench models export`.")
    return header


def _safe_name(name: str) -> str:
    """The member's path inside the bundle, or raise for absolute paths, '..' and names outside `bundle/`."""
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or any(p in ("..", "") for p in parts) or os.path.isabs(name):
        raise BundleIntegrityError(f"The archive member {name!r} has an unsafe path; the archive is refused.")
    if parts[0] != BUNDLE:
        raise BundleIntegrityError(f"The archive member {name!r} is not part of the bundle; the archive is refused.")
    return "/".join(parts[1:])


def read_archive(path: Path, staging: Path, header: dict[str, Any]) -> None:
    """Write the archive's bundle into the empty folder `staging` and verify it against its manifest."""
    with _open(path) as archive:
        for member in archive.getmembers():
            if member.name == HEADER:
                continue
            rel = _safe_name(member.name)
            if member.isdir():
                if rel:
                    (staging / rel).mkdir(parents=True, exist_ok=True, mode=0o750)
                continue
            if not member.isfile() or not rel:
                raise BundleIntegrityError(
                    f"The archive member {member.name!r} is a link or special file; the archive is refused."
                )
            handle = archive.extractfile(member)
            assert handle is not None
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            if target.exists():
                raise BundleIntegrityError(f"The archive holds {member.name!r} twice; the archive is refused.")
            target.write_bytes(handle.read())
    if not (staging / MANIFEST).is_file() or manifest_sha256(staging) != header["manifest_sha256"]:
        raise BundleIntegrityError(f"The manifest in {path} does not match the sha256 in its header.")
    verify_bundle(staging)
