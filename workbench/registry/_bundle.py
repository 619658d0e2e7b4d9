"""A registry bundle on disk: its manifest, its verification and loading it as a LoadedModel.

A bundle folder holds the model's files and `manifest.json`, which lists every other file with its
sha256 and size. `load_bundle` verifies the whole folder (every listed file present and unchanged, no
extra file, no symlink, nothing world-writable) before anything in it is read as a model, then reads each
file once more and checks its bytes before using them.

`model.json` says how the model is stored. A candidate: `{"kind": "candidate", "format": ..., "file": ...,
"pickled_files": [...]}` with one of these formats:

- "native": a LightGBM, XGBoost or CatBoost family model as its library's own model file plus JSON
  (`"library"`, `"prep"` and `"meta"` name the other files; see `workbench.model._native`). Nothing is
  unpickled.
- "pickle": any other family model (forest, linear, MLP, or one whose parts JSON cannot hold exactly) as
  `model.pkl` (cloudpickle).
- "autogluon": an AutoGluon predictor as `predictor.zip` (`"model_name"` picks its model); AutoGluon's
  predictor is pickles inside the zip.

An ensemble: `{"kind": "ensemble", "file": "ensemble.json", "pickled_files": [...]}`; ensemble.json lists
the members (each a spec as above, with files under `members/`, plus name, weight and candidate id) and
`"meta"`, a stacking meta-model's `meta.pkl` (scikit-learn, pickled) or null.

A candidate or member spec may also hold `"calibration"` (`workbench.model.Calibration.to_dict()`): the
probability calibration decided for it, set on the loaded model whatever its format (an AutoGluon zip is
shared by several candidates and cannot hold it). Bundles without it load uncalibrated.

`pickled_files` lists every bundle file that loading unpickles: `model.pkl`, `predictor.zip`, pickled
members and `meta.pkl`; it is empty for a native candidate. The loader unpickles no file that it does not
list. Bundles written before it existed (no `pickled_files`; formats "pickle" and "autogluon") load as
they always did.

This module imports only the model layer, `workbench.errors` and the standard library: a model server
imports it (and `workbench.registry._source`) without the rest of the workbench.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import pickle
import stat
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.model._base import FittedModel, loads_model
from workbench.model._calibration import Calibration
from workbench.model._ensemble import EnsembleModel
from workbench.model._loaded import LoadedModel
from workbench.model._native import NATIVE_FORMAT, NATIVE_LIBRARIES, load_native
from workbench.model._schema import InputSchema

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "BundleIntegrityError",
    "UnsafeRegistryError",
    "check_not_world_writable",
    "load_bundle",
    "manifest_sha256",
    "pickled_files",
    "read_verified_file",
    "verify_bundle",
    "write_manifest",
]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Model formats whose file is unpickled on load (AutoGluon's predictor.zip holds pickles).
PICKLED_FORMATS = ("pickle", "autogluon")


class BundleIntegrityError(WorkbenchError):
    """A bundle whose files differ from its manifest (changed, missing, extra or symlinked)."""


class UnsafeRegistryError(WorkbenchError):
    """A registry folder others could write to: nothing is loaded from it."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pickled_files(spec: dict[str, Any]) -> list[str]:
    """The files a candidate or member spec's model unpickles when it loads."""
    return [spec["file"]] if spec["format"] in PICKLED_FORMATS else []


def check_not_world_writable(path: Path) -> None:
    mode = os.lstat(path).st_mode
    if mode & stat.S_IWOTH:
        raise UnsafeRegistryError(
            f"The registry folder {path} is world-writable, so its models cannot be trusted; "
            f"run `chmod o-w {path}` after checking its content."
        )


def write_manifest(folder: Path) -> str:
    """List every file under `folder` (sha256, size) in `manifest.json`; return the manifest's sha256."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST:
            continue
        if path.is_symlink():
            raise BundleIntegrityError(f"The bundle file {rel} is a symlink; bundles hold regular files only.")
        data = path.read_bytes()
        files.append({"path": rel, "sha256": _sha256(data), "size": len(data)})
    text = json.dumps({"format_version": FORMAT_VERSION, "files": files}, indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST).write_text(text)
    return _sha256(text.encode())


def manifest_sha256(folder: Path) -> str:
    return _sha256((folder / MANIFEST).read_bytes())


def _walk(folder: Path, prefix: str = "") -> list[str]:
    """Every regular file under `folder` (relative POSIX paths); symlinks, odd files and writable folders refused."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                raise BundleIntegrityError(f"The bundle file {rel} is a symlink; bundles hold regular files only.")
            if entry.is_dir(follow_symlinks=False):
                check_not_world_writable(Path(entry.path))
                found += _walk(Path(entry.path), f"{rel}/")
            elif entry.is_file(follow_symlinks=False):
                found.append(rel)
            else:
                raise BundleIntegrityError(f"The bundle entry {rel} is not a regular file.")
    return found


def verify_bundle(folder: Path) -> dict[str, Any]:
    """The verified manifest of the bundle at `folder` (with its sha256 under `sha256`), or raise."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        raise BundleIntegrityError(f"The bundle folder {folder} is missing or not a folder.")
    check_not_world_writable(folder)
    manifest_path = folder / MANIFEST
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise BundleIntegrityError(f"The bundle {folder} has no {MANIFEST}; it is not a registry bundle.")
    raw = manifest_path.read_bytes()
    try:
        manifest = json.loads(raw)
        listed = {f["path"]: f for f in manifest["files"]}
    except (ValueError, KeyError, TypeError):
        raise BundleIntegrityError(f"The {MANIFEST} of {folder} cannot be read; the bundle is damaged.") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleIntegrityError(
            f"The bundle {folder} has format {manifest.get('format_version')!r}; this workbench reads {FORMAT_VERSION}."
        )
    present = set(_walk(folder)) - {MANIFEST}
    for extra in sorted(present - set(listed)):
        raise BundleIntegrityError(f"The bundle {folder} holds {extra}, which its manifest does not list; remove it.")
    for rel, entry in sorted(listed.items()):
        if rel not in present:
            raise BundleIntegrityError(f"The bundle {folder} is missing {rel}, which its manifest lists.")
        _check(folder, rel, entry, (folder / rel).read_bytes())
    return {**manifest, "sha256": _sha256(raw)}


def read_verified_file(folder: Path, rel: str, manifest_sha256: str) -> bytes:
    """One file of the bundle at `folder`, checked against a manifest whose sha256 is `manifest_sha256`
    (the registered one), without reading the bundle's other files."""
    manifest_path = folder / MANIFEST
    raw = manifest_path.read_bytes() if manifest_path.is_file() and not manifest_path.is_symlink() else b""
    if _sha256(raw) != manifest_sha256:
        raise BundleIntegrityError(f"The manifest of {folder} is not the one registered; the bundle was replaced.")
    entry = next((f for f in json.loads(raw)["files"] if f["path"] == rel), None)
    path = folder / rel
    if entry is None or path.is_symlink() or not path.is_file():
        raise BundleIntegrityError(f"The bundle {folder} has no {rel} listed in its manifest; it is damaged.")
    return _check(folder, rel, entry, path.read_bytes())


def _check(folder: Path, rel: str, entry: dict[str, Any], data: bytes) -> bytes:
    if len(data) != entry["size"] or _sha256(data) != entry["sha256"]:
        raise BundleIntegrityError(
            f"The bundle file {rel} in {folder} does not match its manifest (sha256/size); it was changed."
        )
    return data


class _Reader:
    """Reads verified bundle files; each read checks the bytes against the manifest again.

    pickled: the files model.json lists under `pickled_files` (None for bundles written before it did);
    no other file is unpickled.
    """

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.listed = {f["path"]: f for f in manifest["files"]}
        self.pickled: set[str] | None = None

    def bytes(self, rel: str) -> bytes:
        if rel not in self.listed:
            raise BundleIntegrityError(f"The bundle {self.folder} does not list {rel}, which it needs.")
        return _check(self.folder, rel, self.listed[rel], (self.folder / rel).read_bytes())

    def json(self, rel: str) -> Any:
        return json.loads(self.bytes(rel))

    def to_unpickle(self, rel: str) -> builtins.bytes:
        if self.pickled is not None and rel not in self.pickled:
            raise BundleIntegrityError(
                f"The bundle {self.folder} would unpickle {rel}, which its model.json does not list among its "
                "pickled files; it is not loaded."
            )
        return self.bytes(rel)

    def model(self, spec: dict[str, Any], cache_dir: Path | None) -> FittedModel:
        model = self._model(spec, cache_dir)
        if spec.get("calibration") is not None:
            model.calibration_ = Calibration.from_dict(spec["calibration"])
        return model

    def _model(self, spec: dict[str, Any], cache_dir: Path | None) -> FittedModel:
        if spec["format"] == NATIVE_FORMAT:
            if spec.get("library") not in NATIVE_LIBRARIES:
                raise BundleIntegrityError(
                    f"The bundle {self.folder} holds a {spec.get('library')!r} model file, which this workbench "
                    f"cannot read (it reads {', '.join(NATIVE_LIBRARIES)})."
                )
            return load_native(spec, self.bytes)
        if spec["format"] not in PICKLED_FORMATS:
            raise BundleIntegrityError(
                f"The bundle {self.folder} stores its model in format {spec['format']!r}, which this workbench "
                "cannot read; a newer workbench wrote it."
            )
        data = self.to_unpickle(spec["file"])
        if spec["format"] == "autogluon":
            from workbench.model._autogluon import AutoGluonModel

            return AutoGluonModel.from_zip(data, spec["model_name"], cache_dir=cache_dir)
        return loads_model(data)


def load_bundle(
    folder: Path,
    *,
    name: str = "",
    version: int = 0,
    cache_dir: Path | None = None,
    metrics: dict[str, Any] | None = None,
) -> LoadedModel:
    """Verify the bundle at `folder`, then load its model. `metrics` are merged over its metrics.json.

    cache_dir: where AutoGluon predictors are extracted (default: a folder in the system temp dir).
    """
    folder = Path(folder)
    manifest = verify_bundle(folder)
    reader = _Reader(folder, manifest)
    spec = reader.json("model.json")
    if "pickled_files" in spec:
        reader.pickled = set(spec["pickled_files"])
    output = reader.json("output.json")
    schema = InputSchema.from_dict(reader.json("schema.json"))
    model: FittedModel
    if spec["kind"] == "ensemble":
        ensemble = reader.json(spec["file"])
        members = [reader.model(m, cache_dir) for m in ensemble["members"]]
        meta = pickle.loads(reader.to_unpickle(ensemble["meta"])) if ensemble.get("meta") else None
        model = EnsembleModel(
            members,
            [m["name"] for m in ensemble["members"]],
            output["problem_type"],
            output["classes"],
            weights=[m["weight"] for m in ensemble["members"]],
            meta=meta,
        )
    else:
        model = reader.model(spec, cache_dir)
    return LoadedModel(
        name=name,
        version=version,
        model=model,
        input_schema=schema,
        problem_type=output["problem_type"],
        classes=output["classes"],
        metrics={**reader.json("metrics.json"), **(metrics or {})},
        manifest=manifest,
    )
