"""Path and name safety: nothing the user names may reach outside the folders allowed for it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from workbench.errors import NotFoundError, UnsafePathError

__all__ = ["check_name", "check_relative_key", "resolve_within"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(name: str, what: str = "name", max_length: int = 64) -> str:
    """Return `name` if it is a plain name (letters, digits, `_ . -`; no path), else raise."""
    if not isinstance(name, str) or len(name) > max_length or not _NAME.fullmatch(name) or ".." in name:
        raise UnsafePathError(
            f"{what} {name!r} is not a plain name; use 1-{max_length} letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, without '/' or '..'."
        )
    return name


def check_relative_key(key: str) -> str:
    """Return `key` if it is a relative POSIX path of plain names (for artifacts), else raise."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or "\\" in key or any(p in {"", ".", ".."} for p in key.split("/")):
        raise UnsafePathError(
            f"artifact key {key!r} must be a relative path of plain names, without '..' or a leading '/'."
        )
    for part in path.parts:
        check_name(part, "artifact key part", max_length=255)
    return key


def resolve_within(path: str | Path, roots: Sequence[Path]) -> Path:
    """Resolve `path` (symlinks included) and return it if it lies inside one of `roots`.

    The containment check runs before the existence check so that the answer does not reveal
    whether a file outside the allowed folders exists.
    """
    raw = Path(path).expanduser()
    real = (raw if raw.is_absolute() else Path.cwd() / raw).resolve(strict=False)
    real_roots = [Path(r).resolve(strict=False) for r in roots]
    if not any(real.is_relative_to(root) for root in real_roots):
        allowed = ", ".join(str(r) for r in real_roots)
        raise UnsafePathError(
            f"{str(path)!r} is outside the folders datasets may be read from ({allowed}); move the file "
            "into one of them or add its folder to WORKBENCH_DATA_ROOTS."
        )
    if not real.exists():
        raise NotFoundError(f"There is no file at {str(path)!r}; check the path and try again.")
    if not real.is_file():
        raise NotFoundError(f"{str(path)!r} is not a file; give the path of a CSV, Parquet or Excel file.")
    return real
