"""The front ends hold no logic of their own: the CLI, the widgets and the demo import nothing private from
other packages, and of the workbench only its API (and its errors)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "workbench"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module (and `from` name) a file imports, anywhere in it: top level, functions, TYPE_CHECKING."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _private_elsewhere(name: str) -> bool:
    """A private module or name of another workbench package (the CLI's own private modules are fine)."""
    parts = name.split(".")
    if parts[0] != "workbench" or (len(parts) > 1 and parts[1] in FRONT_ENDS):
        return False
    return any(part.startswith("_") and part != "__version__" for part in parts[1:])


FRONT_ENDS = ("cli", "widgets")


def _front_end_files() -> list[Path]:
    files = [path for folder in FRONT_ENDS for path in sorted(PACKAGE.joinpath(folder).glob("*.py"))]
    return [*files, PACKAGE / "demo.py", PACKAGE / "__main__.py"]


def test_front_ends_import_nothing_private_from_other_packages() -> None:
    files = _front_end_files()
    assert len(files) > 5
    offending = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in files
        for line, name in _imports(path)
        if _private_elsewhere(name)
    ]
    assert offending == []


def test_the_check_sees_private_imports() -> None:
    assert _private_elsewhere("workbench.serve._endpoints")
    assert _private_elsewhere("workbench.jobs._search.attach")
    assert not _private_elsewhere("workbench.api")
    assert not _private_elsewhere("workbench.cli._render")
    assert not _private_elsewhere("workbench.errors.InvalidInputError")


def test_front_ends_use_the_api_for_workbench_work() -> None:
    """Apart from errors and the version, the only workbench package a front end imports is the API."""
    files = _front_end_files()
    allowed = ("workbench.api", "workbench.cli", "workbench.widgets", "workbench.errors", "workbench.__version__")
    used = {
        name.split(".")[0] + "." + name.split(".")[1]
        for path in files
        for _, name in _imports(path)
        if name.startswith("workbench.") and not name.startswith(allowed)
    }
    assert used == set()
