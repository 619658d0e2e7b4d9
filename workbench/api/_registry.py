"""The model registry: register a candidate, an ensemble or the winner; promote an alias after the
contract check; list, show, export, import, delete; predict with a registered model in this process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.model import InputSchema
    from workbench.registry import PublicKey, Registry, VersionInfo
    from workbench.serve import ContractReport
    from workbench.store import FinalRow

__all__ = [
    "Finalized",
    "Promotion",
    "delete_model",
    "export_model",
    "finalize_model",
    "import_model",
    "list_models",
    "list_trusted_keys",
    "model_schema",
    "predict",
    "promote",
    "register_model",
    "register_winner",
    "remove_alias",
    "show_model",
    "trust_key",
    "untrust_key",
    "workspace_key",
]


def _registry(workspace: WorkspaceLike) -> Registry:
    from workbench.registry import Registry

    return Registry(resolve_workspace(workspace))


def _parse_key(key: str) -> tuple[str, int]:
    text = str(key).strip()
    if len(text) < 2 or text[0] not in "ce" or not text[1:].isdigit():
        raise InvalidInputError(f"{key!r} is not a model key; keys look like c12 (a candidate) or e3 (an ensemble).")
    return ("candidate" if text[0] == "c" else "ensemble"), int(text[1:])


def register_model(
    key: str, name: str, *, description: str = "", finalize: str = "all", workspace: WorkspaceLike = None
) -> VersionInfo:
    """Register a candidate ("c12") or a saved ensemble ("e3") as the next version of `name`.

    finalize: "all" (default) registers the model refitted on every row of its experiment, "train+valid"
    keeps the test rows unseen, "none" registers it as selected. Its metrics keep the scores measured at
    selection and say which rows it was trained on (`trained_on`); a refit that fails registers the model
    as selected, with `finalize_error` saying why."""
    kind, number = _parse_key(key)
    registry = _registry(workspace)
    if kind == "candidate":
        return registry.register(name, candidate_id=number, description=description, finalize=finalize)
    return registry.register(name, ensemble_id=number, description=description, finalize=finalize)


@dataclass(frozen=True)
class Finalized:
    """A model refitted after selection: its key, the mode, and the final of each candidate in it."""

    key: str
    mode: str
    finals: list[FinalRow]

    @property
    def rows(self) -> int:
        return max(f.rows for f in self.finals)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "mode": self.mode, "rows": self.rows, "finals": [f.to_dict() for f in self.finals]}


def finalize_model(key: str, mode: str = "all", *, workspace: WorkspaceLike = None) -> Finalized:
    """Refit a candidate ("c12") or every member of a saved ensemble ("e3", weights kept) with the same
    hyperparameters on "all" rows of the experiment or on "train+valid"; kept beside the model as selected
    (whose scores stay those measured at selection). Made once: calling again returns the stored one."""
    from workbench.registry import member_ids
    from workbench.search import check_finalize_mode, finalize_candidates

    kind, number = _parse_key(key)
    ws = resolve_workspace(workspace)
    chosen = check_finalize_mode(mode)
    ids = [number] if kind == "candidate" else member_ids(ws, number)
    return Finalized(key, chosen, finalize_candidates(ws, ids, chosen))


def register_winner(
    experiment_id: int, name: str | None = None, *, finalize: str = "all", workspace: WorkspaceLike = None
) -> VersionInfo:
    """Register the experiment's best model by valid score (rank 1 of its leaderboard, a candidate or an
    ensemble) as the next version of `name` (default: the experiment's dataset), finalized as
    `register_model` says."""
    from workbench.api._compare import leaderboard

    ws = resolve_workspace(workspace)
    experiment = ws.experiment(experiment_id)
    best = leaderboard(experiment.id, workspace=ws).best
    if best is None:
        raise InvalidInputError(f"Experiment {experiment.id} has no scored model yet; run a search first.")
    description = f"best of experiment {experiment.id} ({best.name}, valid {experiment.metric} {best.valid_score})"
    return register_model(
        best.key, name or experiment.dataset, description=description, finalize=finalize, workspace=ws
    )


@dataclass(frozen=True)
class Promotion:
    """An alias moved to a version; `contract` is the check it passed (None when skipped)."""

    version: VersionInfo
    alias: str
    contract: ContractReport | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version.to_dict(),
            "alias": self.alias,
            "contract": self.contract.to_dict() if self.contract is not None else None,
        }


def promote(name: str, version: int, alias: str, *, check: bool = True, workspace: WorkspaceLike = None) -> Promotion:
    """Point `alias` of `name` at `version`, only after that version, served for real, passed its contract
    check (answers equal in-process predictions on edge rows; p50/p99 latency stored with the version).
    `check=False` skips the check."""
    from workbench.serve import promote as move

    info, report = move(_registry(workspace), name, int(version), alias, check=check)
    return Promotion(info, alias, report)


def remove_alias(name: str, alias: str, *, workspace: WorkspaceLike = None) -> None:
    """Remove an alias from a model (its version stays)."""
    _registry(workspace).remove_alias(name, alias)


def list_models(name: str | None = None, *, workspace: WorkspaceLike = None) -> list[VersionInfo]:
    """Registered versions (of `name`, or of every model) with aliases, source and metrics."""
    return _registry(workspace).list(name)


def show_model(ref: str, *, workspace: WorkspaceLike = None) -> VersionInfo:
    """`name` (the latest version), `name@3` or `name@alias`."""
    return _registry(workspace).resolve(ref)


def model_schema(ref: str, *, workspace: WorkspaceLike = None) -> InputSchema:
    """The input columns `ref` expects: name, kind (numeric, categorical, boolean, datetime), dtype, whether
    required, and the categories seen in training (what a form for one row needs)."""
    return _registry(workspace).schema(ref)


def export_model(ref: str, path: str | Path, *, workspace: WorkspaceLike = None) -> Path:
    """One .tar.gz of the version's bundle (a folder gets NAME-VERSION.tar.gz), for `import_model` elsewhere,
    signed with the workspace's key (see `workspace_key`); an untrusted version is exported unsigned."""
    target = Path(path).expanduser()
    if not (target if target.is_dir() else target.parent).is_dir():
        raise InvalidInputError(f"The folder {target.parent} does not exist; create it first.")
    return _registry(workspace).export(ref, target)


def import_model(
    path: str | Path, *, name: str | None = None, trust: bool = False, workspace: WorkspaceLike = None
) -> VersionInfo:
    """Verify an exported archive and register it as the next version of its model (or of `name`).

    The archive must be signed by this workspace or a key it trusts (`trust_key`); `trust=True` imports an
    unsigned or unknown-signed archive anyway, and the version stays marked untrusted (`VersionInfo.trusted`).
    Nothing in the archive is unpacked before that decision."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise InvalidInputError(f"There is no file {source}; give the path of an exported archive.")
    return _registry(workspace).import_archive(source, name=name, trust=trust)


def _keyring(workspace: WorkspaceLike) -> Any:
    from workbench.registry import Keyring

    return Keyring(resolve_workspace(workspace))


def workspace_key(*, workspace: WorkspaceLike = None) -> PublicKey:
    """The workspace's public signing key, to give to whoever imports its models (created on first use)."""
    key: PublicKey = _keyring(workspace).own()
    return key


def trust_key(public_key: str, *, name: str | None = None, workspace: WorkspaceLike = None) -> PublicKey:
    """Trust a public key (the line `workspace_key` gives on the exporting side) to sign imported archives."""
    key: PublicKey = _keyring(workspace).trust(public_key, name)
    return key


def untrust_key(key_id: str, *, workspace: WorkspaceLike = None) -> None:
    """Stop trusting a key: archives it signs are refused from now on (versions already imported stay)."""
    _keyring(workspace).untrust(key_id)


def list_trusted_keys(*, workspace: WorkspaceLike = None) -> list[PublicKey]:
    """The workspace's own key, then every key it trusts."""
    keys: list[PublicKey] = _keyring(workspace).trusted()
    return keys


def delete_model(ref: str, *, force: bool = False, workspace: WorkspaceLike = None) -> VersionInfo:
    """Remove a version (its number is never reused); refused while an alias points to it, unless forced."""
    return _registry(workspace).delete(ref, force=force)


def predict(ref: str, rows: pd.DataFrame | list[dict[str, Any]], *, workspace: WorkspaceLike = None) -> Any:
    """Predictions of the registered model `ref` for `rows` (a DataFrame or a list of records), in this
    process: labels for classifiers, values for regressors (a numpy array)."""
    import pandas as pd

    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(list(rows))
    return _registry(workspace).load(ref).model.predict(frame)
