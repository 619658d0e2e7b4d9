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
from workbench.search._leaderboard import leaderboard, trial_table
from workbench.search._protocol import (
    CandidateResult,
    Reporter,
    TrialData,
    TrialPruned,
    TrialResult,
    TrialSpec,
    WorkerResources,
)
from workbench.search._run import SearchRequest, build_engines, prepare_experiment, run_search
from workbench.search._worker import DaskReporter, execute_trial

__all__ = [
    "ENGINE_NAMES",
    "EVENT_KINDS",
    "AutoGluonEngine",
    "CandidateResult",
    "DaskReporter",
    "Engine",
    "EventBus",
    "FunctionEngine",
    "OptunaEngine",
    "Reporter",
    "SearchDriver",
    "SearchEvent",
    "SearchOptions",
    "SearchRequest",
    "SearchSummary",
    "TrialData",
    "TrialPruned",
    "TrialResult",
    "TrialSpec",
    "WorkerResources",
    "build_engines",
    "execute_trial",
    "leaderboard",
    "prepare_experiment",
    "run_optuna_trial",
    "run_search",
    "trial_table",
]
