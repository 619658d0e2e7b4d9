"""The workspace store: the SQLite catalog (one owner module per table), atomic checksummed artifacts,
datasets, experiments and their rows.

Every table is read and written by one module here, and nowhere else:

| table | module |
| --- | --- |
| artifacts | `Store` (`_store`) |
| datasets, profiles | `datasets` |
| experiments | `experiments` |
| trials, candidates | `trials` |
| events | `events` |
| ensembles | `ensembles` |
| finals | `finals` |
| registry_versions, registry_aliases | `registry` |
| trusted_keys | `keys` |
| endpoints | `endpoints` |
| jobs | `jobs` |

Names load on first use: a model server reads the registry tables (`workbench.store.registry`) without
importing pandas or the dataset catalog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._lazy import lazy_getattr

if TYPE_CHECKING:
    from workbench.store import _datasets as datasets
    from workbench.store import _endpoints as endpoints
    from workbench.store import _ensembles as ensembles
    from workbench.store import _events as events
    from workbench.store import _experiments as experiments
    from workbench.store import _finals as finals
    from workbench.store import _jobs as jobs
    from workbench.store import _keys as keys
    from workbench.store import _registry as registry
    from workbench.store import _trials as trials
    from workbench.store._artifacts import ArtifactRef, atomic_write, sha256_file, sweep_temp_files
    from workbench.store._endpoints import Endpoint
    from workbench.store._ensembles import EnsembleRow
    from workbench.store._events import EVENT_KINDS, EventKind, SearchEvent
    from workbench.store._finals import FinalRow, final_note, how_made
    from workbench.store._jobs import STOP_MODES, Job, StopMode, StopSignal, check_stop_mode
    from workbench.store._migrations import MIGRATIONS
    from workbench.store._processes import job_alive, pid_alive, process_start_time, refresh_job, this_host
    from workbench.store._progress import SearchProgress, search_progress
    from workbench.store._rows import ExperimentTargets, TrialData, sorted_classes, trial_data
    from workbench.store._store import Store
    from workbench.store._trials import CandidateRow, TrialRow
    from workbench.store._workspace import Budget, Experiment, ExperimentSpec, Workspace

__all__ = [
    "EVENT_KINDS",
    "MIGRATIONS",
    "STOP_MODES",
    "ArtifactRef",
    "Budget",
    "CandidateRow",
    "Endpoint",
    "EnsembleRow",
    "EventKind",
    "Experiment",
    "ExperimentSpec",
    "ExperimentTargets",
    "FinalRow",
    "Job",
    "SearchEvent",
    "SearchProgress",
    "StopMode",
    "StopSignal",
    "Store",
    "TrialData",
    "TrialRow",
    "Workspace",
    "atomic_write",
    "check_stop_mode",
    "datasets",
    "endpoints",
    "ensembles",
    "events",
    "experiments",
    "final_note",
    "finals",
    "how_made",
    "job_alive",
    "jobs",
    "keys",
    "pid_alive",
    "process_start_time",
    "refresh_job",
    "registry",
    "search_progress",
    "sha256_file",
    "sorted_classes",
    "sweep_temp_files",
    "this_host",
    "trial_data",
    "trials",
]

_MODULES = {
    "datasets": "_datasets",
    "endpoints": "_endpoints",
    "ensembles": "_ensembles",
    "events": "_events",
    "experiments": "_experiments",
    "finals": "_finals",
    "jobs": "_jobs",
    "keys": "_keys",
    "registry": "_registry",
    "trials": "_trials",
}
_HOMES = {
    "ArtifactRef": "_artifacts",
    "atomic_write": "_artifacts",
    "sha256_file": "_artifacts",
    "sweep_temp_files": "_artifacts",
    "Endpoint": "_endpoints",
    "EnsembleRow": "_ensembles",
    "FinalRow": "_finals",
    "final_note": "_finals",
    "how_made": "_finals",
    "EVENT_KINDS": "_events",
    "EventKind": "_events",
    "SearchEvent": "_events",
    "Job": "_jobs",
    "StopMode": "_jobs",
    "StopSignal": "_jobs",
    "STOP_MODES": "_jobs",
    "check_stop_mode": "_jobs",
    "MIGRATIONS": "_migrations",
    "job_alive": "_processes",
    "pid_alive": "_processes",
    "process_start_time": "_processes",
    "refresh_job": "_processes",
    "this_host": "_processes",
    "SearchProgress": "_progress",
    "search_progress": "_progress",
    "ExperimentTargets": "_rows",
    "TrialData": "_rows",
    "sorted_classes": "_rows",
    "trial_data": "_rows",
    "Store": "_store",
    "CandidateRow": "_trials",
    "TrialRow": "_trials",
    "Budget": "_workspace",
    "Experiment": "_workspace",
    "ExperimentSpec": "_workspace",
    "Workspace": "_workspace",
}


__getattr__ = lazy_getattr(globals(), _HOMES, _MODULES)
