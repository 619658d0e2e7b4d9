"""RegistrySource: what a model server loads, read from the registry without the rest of the workbench.

It imports only `_bundle`, `_refs`, the model layer, the store's registry tables (`workbench.store.registry`,
which needs neither pandas' dataset catalog nor the rest of the store), `workbench.errors` and the
standard library, and reads the SQLite catalog read-only.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.model._autogluon import autogluon_cache_dir
from workbench.model._loaded import LoadedModel
from workbench.registry._bundle import BundleIntegrityError, check_not_world_writable, load_bundle, verify_bundle
from workbench.registry._refs import parse_ref, selector_of
from workbench.store._registry import DB_NAME, open_readonly, resolve_version

__all__ = ["RegistrySource"]


class RegistrySource:
    """The model `ref` (`name`, `name@3`, `name@alias`) of the registry at `registry_home`.

    registry_home: the workspace (WORKBENCH_HOME), or its `registry/` folder. An alias is resolved each time
    `load()` is called, so a reload picks up a moved alias.
    """

    def __init__(self, registry_home: Path, ref: str) -> None:
        home = Path(registry_home).absolute()
        if not (home / DB_NAME).exists() and home.name == "registry":
            home = home.parent
        self.home = home
        self.ref = ref
        self.name, self.selector = parse_ref(ref)

    def load(self) -> LoadedModel:
        conn = open_readonly(self.home)
        try:
            row = resolve_version(conn, self.name, selector_of(self.selector))
        finally:
            conn.close()
        bundle = self.home / str(row["bundle_key"])
        for folder in (self.home / "registry", bundle.parent):
            check_not_world_writable(folder)
        if verify_bundle(bundle)["sha256"] != row["manifest_sha256"]:
            raise BundleIntegrityError(
                f"The manifest of {self.ref} is not the one registered; the bundle was replaced."
            )
        return load_bundle(
            bundle,
            name=self.name,
            version=int(row["version"]),
            cache_dir=autogluon_cache_dir(self.home),
            metrics=json.loads(row["metrics_json"]),
        )

    def describe(self) -> str:
        return f"registry model {self.ref} in {self.home}"
