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

    from workbench.registry import Registry, VersionInfo
    from workbench.serve import ContractReport

__all__ = [
    "Promotion",
    "delete_model",
    "export_model",
    "import_model",
    "list_models",
    "predict",
    "promote",
    "register_model",
    "register_winner",
    "remove_alias",
    "show_model",
]


def _registry(workspace: WorkspaceLike) -> Registry:
    from workbench.registry import Registry

    return Registry(resolve_workspace(workspace))


def _parse_key(key: str) -> tuple[str, int]:
    text = str(key).strip()
    if len(text) < 2 or text[0] not in "ce" or not text[1:].isdigit():
        raise InvalidInputError(f"{key!r} is not a model key; keys look like c12 (a candidate) or e3 (an ensemble).")
    return ("candidate" if text[0] == "c" else "ensemble"), int(text[1:])


def register_model(key: str, name: str, *, description: str = "", workspace: WorkspaceLike = None) -> VersionInfo:
    """Register a candidate ("c12") or a saved ensemble ("e3") as the next version of `name`."""
    kind, number = _parse_key(key)
    registry = _registry(workspace)
    if kind == "candidate":
        return registry.register(name, candidate_id=number, description=description)
    return registry.register(name, ensemble_id=number, description=description)


def register_winner(experiment_id: int, name: str | None = None, *, workspace: WorkspaceLike = None) -> VersionInfo:
    """Register the experiment's best model by valid score (rank 1 of its leaderboard, a candidate or an
    ensemble) as the next version of `name` (default: the experiment's dataset)."""
    from workbench.api._compare import leaderboard

    ws = resolve_workspace(workspace)
    experiment = ws.experiment(experiment_id)
    best = leaderboard(experiment.id, workspace=ws).best
    if best is None:
        raise InvalidInputError(f"Experiment {experiment.id} has no scored model yet; run a search first.")
    description = f"best of experiment {experiment.id} ({best.name}, valid {experiment.metric} {best.valid_score})"
    return register_model(best.key, name or experiment.dataset, description=description, workspace=ws)


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


def export_model(ref: str, path: str | Path, *, workspace: WorkspaceLike = None) -> Path:
    """One .tar.gz of the version's bundle (a folder gets NAME-VERSION.tar.gz), for `import_model` elsewhere."""
    target = Path(path).expanduser()
    if not (target if target.is_dir() else target.parent).is_dir():
        raise InvalidInputError(f"The folder {target.parent} does not exist; create it first.")
    return _registry(workspace).export(ref, target)


def import_model(path: str | Path, *, name: str | None = None, workspace: WorkspaceLike = None) -> VersionInfo:
    """Verify an exported archive and register it as the next version of its model (or of `name`)."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise InvalidInputError(f"There is no file {source}; give the path of an exported archive.")
    return _registry(workspace).import_archive(source, name=name)


def delete_model(ref: str, *, force: bool = False, workspace: WorkspaceLike = None) -> VersionInfo:
    """Remove a version (its number is never reused); refused while an alias points to it, unless forced."""
    return _registry(workspace).delete(ref, force=force)


def predict(ref: str, rows: pd.DataFrame | list[dict[str, Any]], *, workspace: WorkspaceLike = None) -> Any:
    """Predictions of the registered model `ref` for `rows` (a DataFrame or a list of records), in this
    process: labels for classifiers, values for regressors (a numpy array)."""
    import pandas as pd

    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(list(rows))
    return _registry(workspace).load(ref).model.predict(frame)
