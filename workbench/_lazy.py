"""Packages whose names load on first use: `import workbench.api` (or jobs, registry, serve, store) stays
fast, and a process imports only the modules it uses (a model server never loads the search engines)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    namespace: dict[str, Any], homes: Mapping[str, str], modules: Mapping[str, str] | None = None
) -> Callable[[str], Any]:
    """A module `__getattr__` for the package whose `globals()` is `namespace`.

    homes: exported name -> the module defining it (a submodule such as "_run", or a full dotted path).
    modules: exported name -> a submodule exported as a whole (`"trials": "_trials"`).
    """
    package = namespace["__name__"]
    whole = dict(modules or {})

    def path(home: str) -> str:
        return home if "." in home else f"{package}.{home}"

    def __getattr__(name: str) -> Any:
        if name in whole:
            value = importlib.import_module(path(whole[name]))
        elif name in homes:
            value = getattr(importlib.import_module(path(homes[name])), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # the next lookup is a plain attribute
        return value

    return __getattr__
