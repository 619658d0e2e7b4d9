"""The model registry: numbered, immutable bundles per model name, aliases, loading, export and import."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError, NotFoundError
from workbench.model import InputSchema, LoadedModel, autogluon_cache_dir
from workbench.registry._bundle import (
    BundleIntegrityError,
    check_not_world_writable,
    load_bundle,
    read_verified_file,
    verify_bundle,
    write_manifest,
)
from workbench.registry._refs import check_alias, check_model_name, format_ref, parse_ref, selector_of
from workbench.store import FinalRow, Workspace, how_made
from workbench.store import registry as versions

__all__ = ["REGISTRY_DIR", "Finalization", "Registry", "VersionInfo"]

REGISTRY_DIR = "registry"
TEMP_PREFIX = ".tmp-"
FOLDER_MODE = 0o750


@dataclass(frozen=True)
class VersionInfo:
    """One registered version. source: kind (candidate | ensemble | import), id and experiment_id.

    provenance: where the bundle came from: `origin` (registered | imported), `trusted`, and for imports
    `signed_by` (the trusted key's name), `key_id` and `reason` (signed | unsigned | signed by an unknown key).
    pickled_files: the bundle files that are unpickled when it loads (None: a bundle older than that list)."""

    name: str
    version: int
    aliases: list[str]
    path: Path
    manifest_sha256: str
    metrics: dict[str, Any]
    created_at: float
    source: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    pickled_files: list[str] | None = None

    @property
    def ref(self) -> str:
        return format_ref(self.name, self.version)

    @property
    def trusted(self) -> bool:
        """Registered here, or imported with a signature by a trusted key."""
        return bool(self.provenance.get("trusted"))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["ref"] = self.ref
        data["trusted"] = self.trusted
        return data


REGISTERED = {"origin": "registered", "trusted": True}


@dataclass(frozen=True)
class Finalization:
    """How a version's models were finalized: `mode` ("all", "train+valid" or "none"), the final of each
    candidate it holds (empty when none or when the refit failed) and why it failed."""

    mode: str = "none"
    finals: dict[int, FinalRow] = field(default_factory=dict)
    error: str | None = None

    def final(self, candidate_id: int) -> FinalRow | None:
        return self.finals.get(candidate_id)

    def record(self, n_train: int) -> dict[str, Any]:
        """What the version's metrics say of it: the rows its models were trained on, and that the scores
        are those measured at selection."""
        if self.finals:
            rows = max(f.rows for f in self.finals.values())
            # and how, when not one refit each: seeds averaged, bags refitted as bags (`how_made`)
            trained: dict[str, Any] = {"mode": self.mode, "rows": rows, **how_made(self.finals.values())}
            return {
                "trained_on": trained,
                "scores_measured": "at selection, before finalize (valid and test rows held out)",
            }
        record: dict[str, Any] = {"trained_on": {"mode": "train", "rows": n_train}}
        if self.error:
            record["finalize_error"] = self.error
        return record


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    stored = json.loads(row.get("provenance_json") or "{}")
    if stored:
        return dict(stored)
    if row["source_kind"] == "import":  # imported before archives were signed: nothing vouches for it
        return {"origin": "imported", "trusted": False, "signed_by": None, "key_id": None, "reason": "unsigned"}
    return dict(REGISTERED)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class Registry:
    """Bundles under `WORKBENCH_HOME/registry/<name>/<version>/`, catalogued in the workspace store."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.home = workspace.settings.home
        self.root = self.home / REGISTRY_DIR

    @property
    def cache_dir(self) -> Path:
        return autogluon_cache_dir(self.home)

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
        self,
        name: str,
        *,
        candidate_id: int | None = None,
        ensemble_id: int | None = None,
        description: str = "",
        finalize: str = "none",
    ) -> VersionInfo:
        """Register a stored candidate or a saved ensemble as the next version of `name`.

        finalize: "all" or "train+valid" registers the model refitted on those rows (every member of an
        ensemble, weights kept), made now unless the search made it; "none" the model as selected. A refit
        that fails registers the model as selected, and its metrics say why (`finalize_error`)."""
        from workbench.registry._build import candidate_content, ensemble_content, member_ids
        from workbench.search import check_finalize_mode

        check_model_name(name)
        check_finalize_mode(finalize)
        if (candidate_id is None) == (ensemble_id is None):
            raise InvalidInputError("Register either a candidate (--candidate ID) or an ensemble (--ensemble ID).")
        ids = [candidate_id] if candidate_id is not None else member_ids(self.workspace, int(ensemble_id or 0))
        finalization = self._finalize(ids, finalize)
        if candidate_id is not None:
            content = candidate_content(self.workspace, candidate_id, description, finalization)
        else:
            assert ensemble_id is not None
            content = ensemble_content(self.workspace, ensemble_id, description, finalization)
        staging = self._staging(name)
        try:
            content.write(staging)
            sha = write_manifest(staging)
            return self._commit(
                name, staging, sha, content.source_kind, content.source_id, description, dict(REGISTERED)
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _finalize(self, candidate_ids: list[int], mode: str) -> Finalization:
        """Every candidate's final in `mode`, or none of them and why (an ensemble is refitted whole or not)."""
        from workbench.search import check_finalize_mode, finalize_candidates

        if mode == "none":
            return Finalization()
        try:
            made = finalize_candidates(self.workspace, candidate_ids, check_finalize_mode(mode))
            finals: dict[int, FinalRow] = dict(zip(candidate_ids, made, strict=True))
        except Exception as exc:  # the model as selected is still registered: say why it was not refitted
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return Finalization(mode, {}, f"{type(exc).__name__}: {text}"[:300])
        return Finalization(mode, finals)

    def _commit(
        self,
        name: str,
        staging: Path,
        sha: str,
        kind: str,
        source_id: int,
        description: str,
        provenance: dict[str, Any],
    ) -> VersionInfo:
        """Number the staged bundle and move it into place, in one BEGIN IMMEDIATE transaction."""
        metrics = json.loads((staging / "metrics.json").read_text())
        placed: list[Path] = []

        def place(version: int) -> str:
            target = self.root / name / str(version)
            if target.exists():  # left by a process that died between the rename and its commit
                shutil.rmtree(target)
            os.replace(staging, target)
            placed.append(target)
            return f"{REGISTRY_DIR}/{name}/{version}"

        try:
            with self.workspace.store.transaction() as conn:
                version = versions.add_version(
                    conn,
                    name,
                    place,
                    kind=kind,
                    source_id=source_id,
                    manifest_sha256=sha,
                    metrics=metrics,
                    description=description,
                    provenance=provenance,
                )
        except BaseException:
            for target in placed:
                shutil.rmtree(target, ignore_errors=True)
            raise
        return self.info(name, version)

    # reading -----------------------------------------------------------------------------------

    def _info(self, row: dict[str, Any]) -> VersionInfo:
        name, version = str(row["name"]), int(row["version"])
        path = self.home / row["bundle_key"]
        lineage, spec = _read_json(path / "lineage.json"), _read_json(path / "model.json")
        lineage = lineage if isinstance(lineage, dict) else {}
        pickled = spec.get("pickled_files") if isinstance(spec, dict) else None
        return VersionInfo(
            name=name,
            version=version,
            aliases=versions.aliases_of(self.workspace.store.conn, name, version),
            path=path,
            manifest_sha256=str(row["manifest_sha256"]),
            metrics=json.loads(row["metrics_json"]),
            created_at=float(row["created_at"]),
            source={"kind": row["source_kind"], "id": row["source_id"], "experiment_id": lineage.get("experiment_id")},
            description=str(row.get("description") or ""),
            provenance=_provenance(row),
            pickled_files=[str(f) for f in pickled] if isinstance(pickled, list) else None,
        )

    def info(self, name: str, version: int) -> VersionInfo:
        return self._info(versions.resolve_version(self.workspace.store.conn, check_model_name(name), version))

    def resolve(self, ref: str) -> VersionInfo:
        """`name` (latest), `name@3` or `name@alias`."""
        name, selector = parse_ref(ref)
        return self._info(versions.resolve_version(self.workspace.store.conn, name, selector_of(selector)))

    def list(self, name: str | None = None) -> list[VersionInfo]:
        conn = self.workspace.store.conn
        return [self._info(r) for r in versions.list_versions(conn, None if name is None else check_model_name(name))]

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

    def schema(self, ref: str) -> InputSchema:
        """The input columns of `ref`, read from its bundle's schema.json (checked against the registered
        manifest; nothing is unpickled)."""
        info = self.resolve(ref)
        data = read_verified_file(info.path, "schema.json", info.manifest_sha256)
        return InputSchema.from_dict(json.loads(data))

    # aliases, metrics, deletion ----------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int) -> VersionInfo:
        """Point `alias` at `version` (creating or moving it) in one statement, with no check: promotion
        (`workbench.serve.promote`) runs the contract check first and then calls this."""
        check_alias(alias)
        info = self.info(name, version)
        with self.workspace.store.transaction() as conn:
            versions.set_alias(conn, info.name, alias, info.version)
        return self.info(name, version)

    def remove_alias(self, name: str, alias: str) -> None:
        with self.workspace.store.transaction() as conn:
            removed = versions.remove_alias(conn, check_model_name(name), alias)
        if not removed:
            raise NotFoundError(f"Model {name!r} has no alias {alias!r}.")

    def record_metrics(self, name: str, version: int, metrics: dict[str, Any]) -> VersionInfo:
        """Merge `metrics` (e.g. served latencies) into the version's metrics in the store; the bundle stays as is."""
        with self.workspace.store.transaction() as conn:
            versions.merge_metrics(conn, check_model_name(name), version, metrics)
        return self.info(name, version)

    def delete(self, ref: str, *, force: bool = False) -> VersionInfo:
        """Remove a version (its number is never reused); refused while an alias points to it, unless forced."""
        info = self.resolve(ref)
        if info.aliases and not force:
            raise InvalidInputError(
                f"{info.ref} is aliased as {', '.join(info.aliases)}; move the alias first or delete with --force."
            )
        with self.workspace.store.transaction() as conn:
            versions.delete_version(conn, info.name, info.version)
        trash = info.path.parent / f"{TEMP_PREFIX}deleted-{uuid.uuid4().hex}"
        if info.path.exists():
            os.replace(info.path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        return info

    # archives ----------------------------------------------------------------------------------

    def export(self, ref: str, path: Path) -> Path:
        """One .tar.gz of the version's bundle and a header (name, version, manifest sha256), signed with
        the workspace's key. An untrusted version (imported with trust=True) is exported unsigned: this
        workspace does not vouch for what it could not check."""
        from workbench.registry._archive import write_archive
        from workbench.registry._signing import Keyring

        info = self.resolve(ref)
        if verify_bundle(info.path)["sha256"] != info.manifest_sha256:
            raise BundleIntegrityError(
                f"The manifest of {info.ref} is not the one registered; the bundle was replaced."
            )
        return write_archive(info, Path(path), Keyring(self.workspace).sign if info.trusted else None)

    def import_archive(self, path: Path, name: str | None = None, *, trust: bool = False) -> VersionInfo:
        """Verify an exported archive and register it as the next version of `name` (default: its own).

        The signature is checked from the header before anything is unpacked: an archive signed by this
        workspace or a key it trusts is imported as trusted; an unsigned or unknown-signed one is refused
        unless `trust` (then it is marked untrusted); one whose signature does not verify is refused."""
        from workbench.registry._archive import read_archive, read_header
        from workbench.registry._signing import Keyring

        header = read_header(Path(path))
        provenance = Keyring(self.workspace).provenance(header, Path(path), trust=trust)
        target_name = check_model_name(name or str(header["name"]))
        staging = self._staging(target_name)
        try:
            read_archive(Path(path), staging, header, self.workspace.settings.max_file_bytes)
            try:
                lineage = json.loads((staging / "lineage.json").read_text())
            except (OSError, ValueError):
                raise BundleIntegrityError(
                    f"{Path(path).name} is refused: it has no readable lineage.json; it was not made by "
                    "`workbench models export`."
                ) from None
            description = str(lineage.get("description") or "") if isinstance(lineage, dict) else ""
            version = int(header["version"])
            return self._commit(
                target_name, staging, header["manifest_sha256"], "import", version, description, provenance
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):  # a refused import of a new name leaves no empty folder
                staging.parent.rmdir()
