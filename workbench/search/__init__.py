"""Search: AutoGluon and Optuna trials as Dask tasks, driven from one process that owns all state."""

from workbench.search._driver import SearchDriver, SearchOptions, SearchSummary
from workbench.search._engines import (
    ENGINE_NAMES,
    AutoGluonEngine,
    Engine,
    FunctionEngine,
    OptunaEngine,
    run_optuna_trial,
)
from workbench.search._events import EVENT_KINDS, EventBus, SearchEvent
from workbench.search._finalize import (
    FINALIZE_MODES,
    FinalizeMode,
    Refit,
    RefitStopped,
    check_finalize_mode,
    final_data,
    finalize_candidate,
    finalize_candidates,
    refit_candidate,
)
from workbench.search._protocol import (
    CandidateResult,
    Reporter,
    TrialData,
    TrialPruned,
    TrialResult,
    TrialSpec,
    WorkerResources,
)
from workbench.search._run import (
    RESUMABLE,
    EnsembleStep,
    SearchConfig,
    build_engines,
    find_or_create_experiment,
    job_status,
    run_search,
    search_fingerprint,
)
from workbench.search._worker import DaskReporter, execute_trial
from workbench.store import STOP_MODES, StopMode, StopSignal, check_stop_mode

__all__ = [
    "ENGINE_NAMES",
    "EVENT_KINDS",
    "FINALIZE_MODES",
    "RESUMABLE",
    "STOP_MODES",
    "AutoGluonEngine",
    "CandidateResult",
    "DaskReporter",
    "Engine",
    "EnsembleStep",
    "EventBus",
    "FinalizeMode",
    "FunctionEngine",
    "OptunaEngine",
    "Refit",
    "RefitStopped",
    "Reporter",
    "SearchConfig",
    "SearchDriver",
    "SearchEvent",
    "SearchOptions",
    "SearchSummary",
    "StopMode",
    "StopSignal",
    "TrialData",
    "TrialPruned",
    "TrialResult",
    "TrialSpec",
    "WorkerResources",
    "build_engines",
    "check_finalize_mode",
    "check_stop_mode",
    "execute_trial",
    "final_data",
    "finalize_candidate",
    "finalize_candidates",
    "find_or_create_experiment",
    "job_status",
    "refit_candidate",
    "run_optuna_trial",
    "run_search",
    "search_fingerprint",
]
