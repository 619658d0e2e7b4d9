"""The model registry: numbered, verified, immutable bundles of candidates and ensembles, with aliases.

`Registry(workspace)` registers, resolves, aliases, loads, exports, imports and deletes versions.
`RegistrySource` and `load_bundle` are what a model server uses: they import only the model layer and
the store's registry tables.
Every name loads on first use, so `workbench.cli` (which imports the `models` commands) starts fast.
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_getattr

if TYPE_CHECKING:
    from workbench.registry._build import member_ids
    from workbench.registry._bundle import (
        FORMAT_VERSION,
        MANIFEST,
        BundleIntegrityError,
        UnsafeRegistryError,
        load_bundle,
        verify_bundle,
    )
    from workbench.registry._refs import format_ref, parse_ref
    from workbench.registry._registry import REGISTRY_DIR, Registry, VersionInfo
    from workbench.registry._signing import Keyring, PublicKey, SignatureError, UntrustedArchiveError
    from workbench.registry._source import RegistrySource

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "REGISTRY_DIR",
    "BundleIntegrityError",
    "Keyring",
    "PublicKey",
    "Registry",
    "RegistrySource",
    "SignatureError",
    "UnsafeRegistryError",
    "UntrustedArchiveError",
    "VersionInfo",
    "format_ref",
    "load_bundle",
    "member_ids",
    "parse_ref",
    "verify_bundle",
]

_HOMES = {
    "FORMAT_VERSION": "_bundle",
    "MANIFEST": "_bundle",
    "BundleIntegrityError": "_bundle",
    "UnsafeRegistryError": "_bundle",
    "load_bundle": "_bundle",
    "verify_bundle": "_bundle",
    "member_ids": "_build",
    "format_ref": "_refs",
    "parse_ref": "_refs",
    "REGISTRY_DIR": "_registry",
    "Registry": "_registry",
    "VersionInfo": "_registry",
    "RegistrySource": "_source",
    "Keyring": "_signing",
    "PublicKey": "_signing",
    "SignatureError": "_signing",
    "UntrustedArchiveError": "_signing",
}


__getattr__ = lazy_getattr(globals(), _HOMES)
