"""The model registry: numbered, immutable bundles per model name, aliases, loading, export and import."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InvalidInputError, NotFoundError
from workbench.model import LoadedModel
from workbench.registry._bundle import (
    BundleIntegrityError,
    check_not_world_writable,
    load_bundle,
    verify_bundle,
    write_manifest,
)
from workbench.registry._catalog import aliases_of, resolve_row
from workbench.registry._refs import check_alias, check_model_name, format_ref, parse_ref
from workbench.store import Workspace

__all__ = ["REGISTRY_DIR", "Registry", "VersionInfo"]

REGISTRY_DIR = "registry"
TEMP_PREFIX = ".tmp-"
FOLDER_MODE = 0o750


@dataclass(frozen=True)
class VersionInfo:
    """One registered version. source: kind (candidate | ensemble | import), id and experiment_id."""

    name: str
    version: int
    aliases: list[str]
    path: Path
    manifest_sha256: str
    metrics: dict[str, Any]
    created_at: float
    source: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def ref(self) -> str:
        return format_ref(self.name, self.version)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path), "ref": self.ref}


class Registry:
    """Bundles under `WORKBENCH_HOME/registry/<name>/<version>/`, catalogued in the workspace store."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.home = workspace.settings.home
        self.root = self.home / REGISTRY_DIR

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache" / "autogluon"

    # folders -----------------------------------------------------------------------------------

    def _folder(self, name: str) -> Path:
        for folder in (self.home, self.root, self.root / name):
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
            check_not_world_writable(folder)
        return self.root / name

    def _staging(self, name: str) -> Path:
        staging = self._folder(name) / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        staging.mkdir(mode=FOLDER_MODE)
        return staging

    # registering -------------------------------------------------------------------------------

    def register(
        self, name: str, *, candidate_id: int | None = None, ensemble_id: int | None = None, description: str = ""
    ) -> VersionInfo:
        """Register a stored candidate or a saved ensemble as the next version of `name`."""
        from workbench.registry._build import candidate_content, ensemble_content

        check_model_name(name)
        if (candidate_id is None) == (ensemble_id is None):
            raise InvalidInputError("Register either a candidate (--candidate ID) or an ensemble (--ensemble ID).")
        if candidate_id is not None:
            content = candidate_content(self.workspace, candidate_id, description)
        else:
            assert ensemble_id is not None
            content = ensemble_content(self.workspace, ensemble_id, description)
        staging = self._staging(name)
        try:
            content.write(staging)
            sha = write_manifest(staging)
            return self._commit(name, staging, sha, content.source_kind, content.source_id, description)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit(self, name: str, staging: Path, sha: str, kind: str, source_id: int, description: str) -> VersionInfo:
        """Number the staged bundle and move it into place, in one BEGIN IMMEDIATE transaction."""
        metrics = json.loads((staging / "metrics.json").read_text())
        with self.workspace.store.transaction() as conn:
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM registry_versions WHERE name = ?", (name,))
            version = int(row.fetchone()[0]) + 1
            target = self.root / name / str(version)
            if target.exists():  # left by a process that died between the rename and its commit
                shutil.rmtree(target)
            os.replace(staging, target)
            try:
                conn.execute(
                    "INSERT INTO registry_versions (name, version, source_kind, source_id, bundle_key,"
                    " manifest_sha256, metrics_json, created_at, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        version,
                        kind,
                        source_id,
                        f"{REGISTRY_DIR}/{name}/{version}",
                        sha,
                        json.dumps(metrics, sort_keys=True),
                        time.time(),
                        description,
                    ),
                )
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
        return self.info(name, version)

    # reading -----------------------------------------------------------------------------------

    def _info(self, row: dict[str, Any]) -> VersionInfo:
        name, version = str(row["name"]), int(row["version"])
        path = self.home / row["bundle_key"]
        try:
            lineage = json.loads((path / "lineage.json").read_text())
        except (OSError, ValueError):
            lineage = {}
        return VersionInfo(
            name=name,
            version=version,
            aliases=aliases_of(self.workspace.store.conn, name, version),
            path=path,
            manifest_sha256=str(row["manifest_sha256"]),
            metrics=json.loads(row["metrics_json"]),
            created_at=float(row["created_at"]),
            source={"kind": row["source_kind"], "id": row["source_id"], "experiment_id": lineage.get("experiment_id")},
            description=str(row.get("description") or ""),
        )

    def info(self, name: str, version: int) -> VersionInfo:
        return self._info(resolve_row(self.workspace.store.conn, check_model_name(name), version))

    def resolve(self, ref: str) -> VersionInfo:
        """`name` (latest), `name@3` or `name@alias`."""
        name, selector = parse_ref(ref)
        return self._info(resolve_row(self.workspace.store.conn, name, selector))

    def list(self, name: str | None = None) -> list[VersionInfo]:
        query = "SELECT * FROM registry_versions WHERE deleted_at IS NULL"
        args: tuple[Any, ...] = ()
        if name is not None:
            query, args = query + " AND name = ?", (check_model_name(name),)
        rows = self.workspace.store.conn.execute(query + " ORDER BY name, version", args)
        return [self._info(dict(r)) for r in rows]

    def load(self, ref: str) -> LoadedModel:
        """The model `ref` names, its bundle verified against its manifest before anything is unpickled."""
        info = self.resolve(ref)
        for folder in (self.root, info.path.parent):
            check_not_world_writable(folder)
        if verify_bundle(info.path)["sha256"] != info.manifest_sha256:
            raise BundleIntegrityError(
                f"The manifest of {info.ref} is not the one registered; the bundle was replaced."
            )
        return load_bundle(
            info.path, name=info.name, version=info.version, cache_dir=self.cache_dir, metrics=info.metrics
        )

    # aliases, metrics, deletion ----------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int) -> VersionInfo:
        """Point `alias` at `version` (creating or moving it) in one statement."""
        check_alias(alias)
        info = self.info(name, version)
        with self.workspace.store.transaction() as conn:
            conn.execute(
                "INSERT INTO registry_aliases (name, alias, version, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                (info.name, alias, info.version, time.time()),
            )
        return self.info(name, version)

    def remove_alias(self, name: str, alias: str) -> None:
        with self.workspace.store.transaction() as conn:
            cursor = conn.execute("DELETE FROM registry_aliases WHERE name = ? AND alias = ?", (name, alias))
        if cursor.rowcount == 0:
            raise NotFoundError(f"Model {name!r} has no alias {alias!r}.")

    def record_metrics(self, name: str, version: int, metrics: dict[str, Any]) -> VersionInfo:
        """Merge `metrics` (e.g. served latencies) into the version's metrics in the store; the bundle stays as is."""
        with self.workspace.store.transaction() as conn:
            row = resolve_row(conn, check_model_name(name), version)
            merged = {**json.loads(row["metrics_json"]), **metrics}
            conn.execute(
                "UPDATE registry_versions SET metrics_json = ? WHERE name = ? AND version = ?",
                (json.dumps(merged, sort_keys=True, default=str), name, version),
            )
        return self.info(name, version)

    def delete(self, ref: str, *, force: bool = False) -> VersionInfo:
        """Remove a version (its number is never reused); refused while an alias points to it, unless forced."""
        info = self.resolve(ref)
        if info.aliases and not force:
            raise InvalidInputError(
                f"{info.ref} is aliased as {', '.join(info.aliases)}; move the alias first or delete with --force."
            )
        with self.workspace.store.transaction() as conn:
            conn.execute("DELETE FROM registry_aliases WHERE name = ? AND version = ?", (info.name, info.version))
            conn.execute(
                "UPDATE registry_versions SET deleted_at = ? WHERE name = ? AND version = ?",
                (time.time(), info.name, info.version),
            )
        trash = info.path.parent / f"{TEMP_PREFIX}deleted-{uuid.uuid4().hex}"
        if info.path.exists():
            os.replace(info.path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        return info

    # archives ----------------------------------------------------------------------------------

    def export(self, ref: str, path: Path) -> Path:
        """One .tar.gz of the version's bundle and a header (name, version, manifest sha256)."""
        from workbench.registry._archive import write_archive

        info = self.resolve(ref)
        verify_bundle(info.path)
        return write_archive(info, Path(path))

    def import_archive(self, path: Path, name: str | None = None) -> VersionInfo:
        """Verify an exported archive and register it as the next version of `name` (default: its own)."""
        from workbench.registry._archive import read_archive, read_header

        header = read_header(Path(path))
        target_name = check_model_name(name or str(header["name"]))
        staging = self._staging(target_name)
        try:
            read_archive(Path(path), staging, header)
            lineage = json.loads((staging / "lineage.json").read_text())
            description = str(lineage.get("description") or "")
            version = int(header["version"])
            return self._commit(target_name, staging, header["manifest_sha256"], "import", version, description)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
