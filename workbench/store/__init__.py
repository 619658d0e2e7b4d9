"""The workspace store: SQLite catalog with migrations, atomic checksummed artifacts, datasets and experiments."""

from workbench.store import _trials as trials
from workbench.store._artifacts import ArtifactRef, atomic_write, sha256_file, sweep_temp_files
from workbench.store._migrations import MIGRATIONS
from workbench.store._store import Store
from workbench.store._workspace import Budget, Experiment, ExperimentSpec, Workspace

__all__ = [
    "MIGRATIONS",
    "ArtifactRef",
    "Budget",
    "Experiment",
    "ExperimentSpec",
    "Store",
    "Workspace",
    "atomic_write",
    "sha256_file",
    "sweep_temp_files",
    "trials",
]
