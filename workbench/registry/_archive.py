"""Exported archives: one .tar.gz holding `header.json` and the bundle's files under `bundle/`."""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidInputError
from workbench.registry._bundle import FORMAT_VERSION, MANIFEST, BundleIntegrityError, manifest_sha256, verify_bundle
from workbench.registry._signing import check_signature_field

if TYPE_CHECKING:
    from workbench.registry._registry import VersionInfo

__all__ = ["HEADER", "read_archive", "read_header", "write_archive"]

HEADER = "header.json"
BUNDLE = "bundle"


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o640, 0
    archive.addfile(info, io.BytesIO(data))


def write_archive(
    info: VersionInfo, path: Path, sign: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> Path:
    """Write the archive of `info` to `path` (a folder gets `<name>-<version>.tar.gz`); atomic.

    sign: gives the header's signature (over its other fields); None writes an unsigned archive."""
    target = path / f"{info.name}-{info.version}.tar.gz" if path.is_dir() else path
    header: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": info.name,
        "version": info.version,
        "manifest_sha256": info.manifest_sha256,
    }
    if sign is not None:
        header["signature"] = sign(header)
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
    """The archive's header.json (its first member, as `write_archive` writes it), checked field by field."""
    header: Any = {}
    try:
        with _open(path) as archive:
            member = archive.next()
            if member is not None and member.name == HEADER and member.isfile() and member.size <= 64 * 1024:
                handle = archive.extractfile(member)
                header = json.loads(handle.read()) if handle else {}
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise InvalidInputError(f"{path} is damaged or truncated ({type(exc).__name__}); export it again.") from None
    except ValueError:
        header = {}
    if not isinstance(header, dict) or not {"name", "version", "manifest_sha256"} <= set(header):
        raise InvalidInputError(f"{path} has no readable {HEADER}; it was not made by `workbench models export`.")
    if header.get("format_version") != FORMAT_VERSION:
        raise InvalidInputError(
            f"{path} is in archive format {str(header.get('format_version'))[:20]!r}; this workbench reads format "
            f"{FORMAT_VERSION}. Export it again with this version."
        )
    version, digest = header["version"], header["manifest_sha256"]
    valid_digest = isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    if not isinstance(header["name"], str) or isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInputError(f"{path} has a {HEADER} whose name or version is not valid; export it again.")
    if version < 1 or not valid_digest:
        raise InvalidInputError(f"{path} has a {HEADER} whose version or sha256 is not valid; export it again.")
    if "signature" in header and not check_signature_field(header["signature"]):
        raise InvalidInputError(f"{path} has a signature that cannot be read; the archive is refused.")
    return header


def _safe_name(name: str) -> str:
    """The member's path inside the bundle, or raise for absolute paths, '..' and names outside `bundle/`."""
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or any(p in ("..", "") for p in parts) or os.path.isabs(name):
        raise BundleIntegrityError(f"The archive member {name!r} has an unsafe path; the archive is refused.")
    if parts[0] != BUNDLE:
        raise BundleIntegrityError(f"The archive member {name!r} is not part of the bundle; the archive is refused.")
    return "/".join(parts[1:])


MAX_MEMBERS = 10_000  # a bundle holds tens of files; AutoGluon's predictor is one zip among them
_CHUNK = 1 << 20


def _refused(path: Path, why: str) -> BundleIntegrityError:
    return BundleIntegrityError(f"{path.name} is refused: {why}.")


def read_archive(path: Path, staging: Path, header: dict[str, Any], max_bytes: int) -> None:
    """Write the archive's bundle into the empty folder `staging` and verify it against its manifest.

    Counted while streaming: at most MAX_MEMBERS members and `max_bytes` unpacked in all (a small .tar.gz
    can unpack to gigabytes); no links, devices, sparse members, or names given twice or both to a file
    and a folder. A damaged or truncated archive is one sentence, never a traceback."""
    try:
        with _open(path) as archive:
            _unpack(path, archive, staging, max_bytes)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise _refused(path, f"it is damaged or truncated ({type(exc).__name__}); export it again") from None
    if not (staging / MANIFEST).is_file() or manifest_sha256(staging) != header["manifest_sha256"]:
        raise BundleIntegrityError(f"The manifest in {path} does not match the sha256 in its header.")
    verify_bundle(staging)


def _unpack(path: Path, archive: tarfile.TarFile, staging: Path, max_bytes: int) -> None:
    unpacked = members = 0
    for member in archive:  # read one header at a time: no index of every member is built first
        members += 1
        if members > MAX_MEMBERS:
            raise _refused(path, f"it holds more than {MAX_MEMBERS:,} files")
        if member.name == HEADER:
            continue
        rel = _safe_name(member.name)
        target = staging / rel
        _no_clash(path, staging, target, member.name)
        if member.isdir():
            if rel:
                target.mkdir(parents=True, exist_ok=True, mode=0o750)
            continue
        if not member.isfile() or not rel:
            raise BundleIntegrityError(
                f"The archive member {member.name!r} is a link or special file; the archive is refused."
            )
        if member.issparse():
            raise _refused(path, f"its member {member.name!r} is a sparse file")
        if unpacked + member.size > max_bytes:
            raise _refused(path, f"it unpacks to more than the {max_bytes:,}-byte cap (WORKBENCH_MAX_FILE_BYTES)")
        if target.exists():
            raise BundleIntegrityError(f"The archive holds {member.name!r} twice; the archive is refused.")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        handle = archive.extractfile(member)
        assert handle is not None
        with handle, open(target, "xb") as out:
            while chunk := handle.read(_CHUNK):
                unpacked += len(chunk)
                if unpacked > max_bytes:
                    raise _refused(
                        path, f"it unpacks to more than the {max_bytes:,}-byte cap (WORKBENCH_MAX_FILE_BYTES)"
                    )
                out.write(chunk)


def _no_clash(path: Path, staging: Path, target: Path, name: str) -> None:
    """A member whose path runs through a file unpacked before (`a` then `a/b`), or a file where a folder
    was unpacked (`a/b` then `a`), is refused."""
    for parent in target.relative_to(staging).parents:
        if parent.parts and (staging / parent).is_file():
            raise _refused(path, f"{name!r} is inside {parent.as_posix()!r}, which the archive also holds as a file")
    if target.is_dir() and not name.endswith("/") and target != staging:
        raise _refused(path, f"it holds {name!r} both as a file and as a folder")
