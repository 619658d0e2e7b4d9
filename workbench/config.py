"""Settings, read once from `WORKBENCH_*` environment variables into a value object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import InvalidInputError

__all__ = ["DEFAULT_MAX_COLUMNS", "DEFAULT_MAX_FILE_BYTES", "Settings"]

DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
# Profiling costs about a millisecond per column: 5,000 columns profile in seconds, 100,000 in minutes.
DEFAULT_MAX_COLUMNS = 5_000


def _parse_bytes(raw: str, variable: str) -> int:
    units = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
    text = raw.strip().upper().replace(" ", "")
    number = text.rstrip("KMGTB")
    unit = text[len(number) :]
    try:
        value = int(float(number) * units[unit])
    except (ValueError, KeyError):
        raise InvalidInputError(
            f"{variable}={raw!r} is not a size; use a number of bytes or a value such as 500MB or 2GB."
        ) from None
    if value <= 0:
        raise InvalidInputError(f"{variable} must be greater than zero, not {raw!r}.")
    return value


@dataclass(frozen=True)
class Settings:
    """Where the workbench keeps its state and what it may read.

    home: the workspace (`WORKBENCH_HOME`, default `./.workbench`).
    data_roots: folders whose files may be registered as datasets (`WORKBENCH_DATA_ROOTS`, a
        `os.pathsep`-separated list; default: the current directory).
    max_file_bytes: files larger than this are refused before parsing (`WORKBENCH_MAX_FILE_BYTES`,
        bytes or a value such as `500MB`; default 2 GB).
    max_columns: tables with more columns are refused before they are profiled (`WORKBENCH_MAX_COLUMNS`;
        default 5,000).
    datasets_dir: the bundled datasets (`WORKBENCH_DATASETS_DIR`; default: the copy shipped with the
        package).
    cluster: the cluster searches and batch scoring use when a call names none (`WORKBENCH_CLUSTER`;
        default "auto"). `workbench run --cluster` sets it for the notebook it runs.
    """

    home: Path
    data_roots: tuple[Path, ...]
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_columns: int = DEFAULT_MAX_COLUMNS
    datasets_dir: Path | None = field(default=None)
    cluster: str = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cwd = Path.cwd()
        home = Path(env.get("WORKBENCH_HOME") or cwd / ".workbench").expanduser()
        roots_raw = env.get("WORKBENCH_DATA_ROOTS")
        roots = tuple(Path(p).expanduser() for p in roots_raw.split(os.pathsep) if p) if roots_raw else (cwd,)
        max_bytes = (
            _parse_bytes(env["WORKBENCH_MAX_FILE_BYTES"], "WORKBENCH_MAX_FILE_BYTES")
            if env.get("WORKBENCH_MAX_FILE_BYTES")
            else DEFAULT_MAX_FILE_BYTES
        )
        max_columns = DEFAULT_MAX_COLUMNS
        if env.get("WORKBENCH_MAX_COLUMNS"):
            raw = env["WORKBENCH_MAX_COLUMNS"].strip().replace(",", "").replace("_", "")
            if not raw.isdigit() or int(raw) < 1:
                raise InvalidInputError(
                    f"WORKBENCH_MAX_COLUMNS={env['WORKBENCH_MAX_COLUMNS']!r} is not a number of columns; use e.g. 10000."
                )
            max_columns = int(raw)
        datasets_dir = Path(env["WORKBENCH_DATASETS_DIR"]) if env.get("WORKBENCH_DATASETS_DIR") else None
        return cls(
            home=home.absolute(),
            data_roots=tuple(r.absolute() for r in roots),
            max_file_bytes=max_bytes,
            max_columns=max_columns,
            datasets_dir=datasets_dir,
            cluster=env.get("WORKBENCH_CLUSTER", "").strip() or "auto",
        )
