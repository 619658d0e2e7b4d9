"""The model registry: numbered, verified, immutable bundles of candidates and ensembles, with aliases.

`Registry(workspace)` registers, resolves, aliases, loads, exports, imports and deletes versions.
`RegistrySource` and `load_bundle` are what a model server uses: they import only the model layer, so
`Registry` and `VersionInfo` (which need the workspace store) are imported here on first use.
"""

from typing import TYPE_CHECKING, Any

from workbench.registry._bundle import (
    FORMAT_VERSION,
    MANIFEST,
    BundleIntegrityError,
    UnsafeRegistryError,
    load_bundle,
    verify_bundle,
)
from workbench.registry._refs import format_ref, parse_ref
from workbench.registry._source import RegistrySource

if TYPE_CHECKING:
    from workbench.registry._registry import REGISTRY_DIR, Registry, VersionInfo

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "REGISTRY_DIR",
    "BundleIntegrityError",
    "Registry",
    "RegistrySource",
    "UnsafeRegistryError",
    "VersionInfo",
    "format_ref",
    "load_bundle",
    "parse_ref",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    if name in ("REGISTRY_DIR", "Registry", "VersionInfo"):
        from workbench.registry import _registry

        return getattr(_registry, name)
    raise AttributeError(f"module 'workbench.registry' has no attribute {name!r}")
