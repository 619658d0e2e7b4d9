"""What every route needs besides its request: the Jupyter root folder, which workspaces may be opened,
and the threads that run `workbench.api` calls off the Tornado event loop."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from workbench.api import Workspace, open_workspace
from workbench.errors import InvalidInputError, UnsafePathError

__all__ = ["LabContext"]

# Blocking calls (a model served until ready, a contract check) take seconds: a few threads keep the
# panel's polls answered meanwhile, and bound what one browser can start at once.
API_THREADS = 4


@dataclass(frozen=True)
class LabContext:
    """root: the Jupyter server's root folder (notebook paths are relative to it). home: the default
    workspace (WORKBENCH_HOME). roots: the folders a `workspace=` query may point into."""

    root: Path
    home: Path
    roots: tuple[Path, ...]
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(API_THREADS, thread_name_prefix="workbench-lab"), compare=False
    )

    @classmethod
    def for_server(cls, root_dir: str) -> LabContext:
        root = Path(root_dir).expanduser().resolve()
        home = open_workspace().settings.home.resolve()
        extra = [
            Path(p).expanduser().resolve() for p in os.environ.get("WORKBENCH_LAB_ROOTS", "").split(os.pathsep) if p
        ]
        return cls(root=root, home=home, roots=(root, home, *extra))

    def workspace(self, requested: str | None) -> Workspace:
        """The default workspace, or the one a request names (inside the allowed folders only)."""
        if not requested:
            return open_workspace(self.home)
        path = Path(requested).expanduser()
        real = (path if path.is_absolute() else self.root / path).resolve()
        if not any(real == r or real.is_relative_to(r) for r in self.roots):
            raise UnsafePathError(
                f"The workspace {requested!r} is outside the folders the Workbench panel may open; "
                "set one inside the Jupyter root or WORKBENCH_HOME, or add its folder to WORKBENCH_LAB_ROOTS."
            )
        return open_workspace(real)

    def local_path(self, relative: str, *, suffix: str | None = None) -> Path:
        """The file a Lab path names (relative to the root, `/`-separated), refused outside the root."""
        if not isinstance(relative, str) or not relative.strip():
            raise InvalidInputError("Give the notebook's path, relative to the Jupyter root folder.")
        pure = PurePosixPath(relative.strip().lstrip("/"))
        if ".." in pure.parts or "\\" in relative or "\x00" in relative:
            raise UnsafePathError(f"The path {relative!r} leaves the Jupyter root folder; give one inside it.")
        real = (self.root / pure).resolve()
        if not real.is_relative_to(self.root):
            raise UnsafePathError(f"The path {relative!r} leaves the Jupyter root folder; give one inside it.")
        if suffix is not None and real.suffix != suffix:
            raise InvalidInputError(f"{relative!r} is not a {suffix} file.")
        return real

    def lab_path(self, path: str | Path | None) -> str | None:
        """A local file as the Lab path that opens it, or None outside the root."""
        if not path:
            return None
        real = Path(path).resolve()
        return real.relative_to(self.root).as_posix() if real.is_relative_to(self.root) else None
