"""One search run, end to end: check the configuration, connect to the cluster, run the driver, and end
the run's job and its experiment with a final status whatever ended the driver."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from workbench.errors import InvalidInputError
from workbench.search._driver import SearchDriver, SearchOptions, SearchSummary
from workbench.search._engines import ENGINE_NAMES, AutoGluonEngine, Engine, OptunaEngine
from workbench.search._events import EventBus
from workbench.search._finalize import (
    FinalizeMode,
    best_candidate,
    check_finalize_mode,
    estimated_refit_s,
    finalize_candidate,
)
from workbench.store import (
    Budget,
    Experiment,
    ExperimentSpec,
    Job,
    StopMode,
    StopSignal,
    Workspace,
    check_stop_mode,
    process_start_time,
    refresh_job,
    this_host,
)
from workbench.store import experiments as experiment_rows
from workbench.store import jobs as job_rows
from workbench.store import trials as records

__all__ = [
    "RESUMABLE",
    "SearchConfig",
    "build_engines",
    "find_or_create_experiment",
    "job_status",
    "run_search",
    "search_fingerprint",
]

# An experiment in one of these states is picked up again by the same search command.
RESUMABLE = ("created", "running", "stopped", "interrupted")


@dataclass(frozen=True)
class SearchConfig:
    """How to search an experiment.

    engines: "autogluon", "optuna" or both. families: the Optuna engine's model families (None: all).
    budget: finished trials to reach (earlier runs count) and/or this run's wall-clock limit; None takes
        the experiment's budget. cluster: "auto", "local:N", "tcp://HOST:PORT" or a scheduler file.
    trial_timeout_s: a trial running longer fails. on_stop: at the end of the budget, "cancel" running
        trials or let them "finish". multi_objective: Optuna optimises the metric and predict latency.
    seed: of the samplers.
    finalize: after the trials, refit the winner on "all" rows, on "train+valid" or not at all ("none"),
        inside the time limit (a share of it is reserved; see `FINALIZE_SHARE`).
    replay: trials with fixed parameters run before any other, each `{"engine": ..., "params": ...}` as a
        trial's row holds them (how a retrain repeats a registered model's recipe); one already in the
        experiment is not run again.
    """

    engines: tuple[str, ...] = ENGINE_NAMES
    families: tuple[str, ...] | None = None
    budget: Budget | None = None
    cluster: str = "auto"
    trial_timeout_s: float = 900.0
    on_stop: StopMode = "cancel"
    multi_objective: bool = False
    seed: int = 0
    replay: tuple[dict[str, Any], ...] = ()
    finalize: FinalizeMode = "all"

    def __post_init__(self) -> None:
        check_finalize_mode(self.finalize)
        object.__setattr__(self, "replay", tuple(dict(r) for r in self.replay))
        for item in self.replay:
            if item.get("engine") not in self.engines or not isinstance(item.get("params"), dict):
                raise InvalidInputError(
                    "Each replayed trial names one of the search's engines and its parameters: "
                    '{"engine": "optuna", "params": {...}}.'
                )
        engines = tuple(self.engines)
        object.__setattr__(self, "engines", engines)
        if self.families is not None:
            object.__setattr__(self, "families", tuple(self.families))
        unknown = [e for e in engines if e not in ENGINE_NAMES]
        if unknown or not engines:
            raise InvalidInputError(f"Unknown engine {', '.join(unknown) or '(none)'}; use autogluon, optuna or both.")
        if len(set(engines)) != len(engines):
            raise InvalidInputError("Name each engine once.")
        if self.families is not None:
            from workbench.search.families import FAMILIES

            bad = [f for f in self.families if f not in FAMILIES]
            if bad or not self.families:
                raise InvalidInputError(
                    f"Unknown model families {bad or '(none)'}; use some of: {', '.join(FAMILIES)}."
                )
        if not isinstance(self.cluster, str) or not self.cluster.strip():
            raise InvalidInputError("Name a cluster: auto, local:N, tcp://HOST:PORT or a scheduler file.")
        if not self.trial_timeout_s > 0:
            raise InvalidInputError("The per-trial timeout must be more than 0 seconds.")
        check_stop_mode(self.on_stop)

    def options(self, budget: Budget, trial_phase_s: float | None = None) -> SearchOptions:
        """The driver's options; `trial_phase_s` (the time the trials may take) replaces the time limit."""
        return SearchOptions(
            n_trials=budget.n_trials,
            time_limit_s=trial_phase_s if trial_phase_s is not None else budget.time_limit_s,
            trial_timeout_s=self.trial_timeout_s,
            on_stop=self.on_stop,
            seed=self.seed,
        )

    def budget_for(self, experiment: Experiment) -> Budget:
        """This run's budget: the configuration's, else the experiment's; refused when neither has one."""
        budget = self.budget if self.budget is not None and not self.budget.empty else experiment.budget
        if budget.empty:
            raise InvalidInputError(
                f"Experiment {experiment.id} has no budget; give a number of trials, a time limit, or both."
            )
        return budget

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["engines"] = list(self.engines)
        data["families"] = list(self.families) if self.families else None
        data["replay"] = [dict(r) for r in self.replay]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        budget = values.get("budget")
        values["budget"] = Budget(**budget) if isinstance(budget, dict) else None
        values["engines"] = tuple(values.get("engines") or ENGINE_NAMES)
        values["families"] = tuple(values["families"]) if values.get("families") else None
        values["replay"] = tuple(values.get("replay") or ())
        return cls(**values)


def search_fingerprint(spec: ExperimentSpec, config: SearchConfig) -> str:
    """What makes "the same search command": run again, it continues the experiment it started."""
    budget = config.budget or Budget()
    data: dict[str, Any] = {
        "dataset": spec.dataset,
        "target": spec.target,
        "problem_type": spec.problem_type,
        "metric": spec.metric,
        "split_seed": spec.split.seed,
        "engines": list(config.engines),
        "n_trials": budget.n_trials,
        "time_limit_s": budget.time_limit_s,
        "multi_objective": config.multi_objective,
        "families": list(config.families) if config.families else None,
        "seed": config.seed,
    }
    if config.replay:
        data["replay"] = [dict(r) for r in config.replay]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def find_or_create_experiment(workspace: Workspace, spec: ExperimentSpec, config: SearchConfig) -> Experiment:
    """The unfinished experiment this same search started before, or a new one."""
    fingerprint = search_fingerprint(spec, config)
    found = workspace.find_experiment(fingerprint, RESUMABLE)
    if found is not None:
        return found
    if config.budget is not None and spec.budget.empty:
        spec = replace(spec, budget=config.budget)
    return workspace.create_experiment(spec, fingerprint=fingerprint)


def build_engines(
    workspace: Workspace, experiment: Experiment, config: SearchConfig, budget: Budget, gpus: bool
) -> list[Engine]:
    engines: list[Engine] = []
    for name in config.engines:
        if name == "optuna":
            engines.append(
                OptunaEngine(
                    storage_url=f"sqlite:///{workspace.settings.home / 'optuna.db'}",
                    study_name=f"experiment-{experiment.id}",
                    metric=experiment.metric,
                    problem_type=experiment.problem_type,
                    seed=config.seed,
                    families=config.families,
                    multi_objective=config.multi_objective,
                    gpus_available=gpus,
                )
            )
        else:
            engines.append(AutoGluonEngine(config.seed, budget.time_limit_s, gpus))
    return engines


def _queue_replays(workspace: Workspace, experiment: Experiment, config: SearchConfig, engines: list[Engine]) -> None:
    """Queue the configuration's fixed trials that the experiment has not run yet (a resumed retrain)."""
    done: dict[str, int] = {}
    for row in records.list_trials(workspace.store, experiment.id):
        done[row.engine] = done.get(row.engine, 0) + 1
    by_name = {engine.name: engine for engine in engines}
    seen: dict[str, int] = {}
    for item in config.replay:
        name = item["engine"]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > done.get(name, 0):
            by_name[name].requeue(dict(item["params"]))


def job_status(summary: SearchSummary) -> str:
    """A search job's final status from its run: a cancel request ends it "cancelled"."""
    if summary.status == "stopped" and summary.stop_mode == "cancel":
        return "cancelled"
    return summary.status


def _start_job(
    workspace: Workspace, experiment: Experiment, config: SearchConfig, budget: Budget, job_id: int | None
) -> Job:
    """The run's job: the one a job runner was started for, or a new one for a search run in the foreground."""
    store = workspace.store
    for other in job_rows.list_jobs(store, kind="search", experiment_id=experiment.id, statuses=job_rows.ACTIVE):
        # A driver that died without a word left its job "running": noticed (and ended) here.
        if other.id != job_id and refresh_job(store, other).active:
            raise InvalidInputError(
                f"Experiment {experiment.id} already has a search running (job {other.id}); stop it or attach to it."
            )
    if job_id is None:
        params = {"experiment_id": experiment.id, "config": config.to_dict(), "budget": budget.to_dict()}
        job = job_rows.create_job(store, "search", {**params, "foreground": True}, experiment_id=experiment.id)
        job_id = job.id
    job_rows.mark_running(store, job_id, os.getpid(), this_host(), process_start_time(os.getpid()))
    started = job_rows.get_job(store, job_id)
    assert started is not None
    return started


# The share of a time limit kept, after the trials, for finalizing the winner.
FINALIZE_SHARE = 0.2
# The trials get at least this long, whatever the cluster's start took.
MIN_TRIAL_PHASE_S = 5.0


def trial_phase_s(budget: Budget, config: SearchConfig, elapsed_s: float) -> float | None:
    """How long the trials may run: the time limit, less what the command has spent so far (cluster
    start) and the share reserved for finalizing; None without a time limit."""
    if budget.time_limit_s is None:
        return None
    reserve = FINALIZE_SHARE * budget.time_limit_s if config.finalize != "none" else 0.0
    return max(MIN_TRIAL_PHASE_S, budget.time_limit_s - elapsed_s - reserve)


def _finalize_winner(
    workspace: Workspace,
    experiment: Experiment,
    config: SearchConfig,
    summary: SearchSummary,
    client: Any,
    seconds_left: float | None,
) -> dict[str, Any] | None:
    """Refit the winner (`config.finalize`) when the run ended on its budget and the refit fits the time
    left; what was done, or why not, as plain data for the summary."""
    if config.finalize == "none" or summary.stop_mode is not None or summary.status not in ("finished", "stopped"):
        return None
    winner = best_candidate(workspace, experiment)
    if winner is None:
        return None
    estimate = estimated_refit_s(workspace, winner, config.finalize)
    report: dict[str, Any] = {"candidate_id": winner.id, "name": winner.name, "mode": config.finalize}
    if seconds_left is not None and estimate > seconds_left:
        return {
            **report,
            "finalized": False,
            "reason": f"its refit would take about {estimate:.0f} s and {max(0.0, seconds_left):.0f} s were left; "
            f"`workbench models register NAME --candidate {winner.id}` finalizes it then",
        }
    start = time.monotonic()
    try:
        final = finalize_candidate(workspace, winner.id, config.finalize, client=client)
    except Exception as exc:  # the unfinalized winner stays usable; say why
        return {**report, "finalized": False, "reason": f"the refit failed: {_describe(exc)}"}
    return {**report, "finalized": True, "rows": final.rows, "seconds": round(time.monotonic() - start, 2)}


def run_search(
    workspace: Workspace,
    experiment: Experiment,
    config: SearchConfig,
    *,
    bus: EventBus | None = None,
    job_id: int | None = None,
    stop: StopSignal | None = None,
    on_driver: Callable[[SearchDriver], None] | None = None,
    started_at: float | None = None,
) -> SearchSummary:
    """Run one search of `experiment` until its budget is spent or it is stopped, then finalize its winner.

    A time limit covers the whole run from `started_at` (a `time.monotonic()` reading; default: now):
    connecting to or starting the cluster, the trials, and finalizing the winner, for which
    `FINALIZE_SHARE` of the limit is kept. The run has a job (`job_id`, or a new one for a run in the
    foreground): a stop request recorded on it by any process is honoured within one loop turn, and `stop`
    carries requests made in this process (a signal handler installed before this call). Whatever ends the
    run, its job and the experiment end with a final status. Bad input raises before anything is connected
    or written.
    """
    from workbench.compute import cluster, cluster_resources

    started = time.monotonic() if started_at is None else started_at
    budget = config.budget_for(experiment)
    stop = stop or StopSignal()
    store = workspace.store
    job = _start_job(workspace, experiment, config, budget, job_id)
    experiment_rows.set_search_config(store, experiment.id, config.to_dict())
    bus = bus or EventBus(store, buffered=True)
    summary: SearchSummary | None = None
    try:
        log_path = workspace.settings.home / "logs" / f"search-{experiment.id}-job-{job.id}.log"
        with cluster(config.cluster, log_path=log_path) as client:
            gpus = cluster_resources(client).get("gpus", 0) > 0
            options = config.options(budget, trial_phase_s(budget, config, time.monotonic() - started))
            engines = build_engines(workspace, experiment, config, budget, gpus)
            _queue_replays(workspace, experiment, config, engines)
            try:
                driver = SearchDriver(workspace, experiment, engines, client, options, bus, job_id=job.id, stop=stop)
                if on_driver is not None:
                    on_driver(driver)
                summary = driver.run()
            finally:
                for engine in engines:
                    engine.close()
            left = None if budget.time_limit_s is None else started + budget.time_limit_s - time.monotonic()
            summary.finalized = _finalize_winner(workspace, experiment, config, summary, client, left)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or stop.mode is not None
        status = "cancelled" if interrupted else "failed"
        error = None if interrupted else _describe(exc)
        job_rows.finish_job(store, job.id, status, error=error)
        experiment_rows.set_status(store, experiment.id, "stopped" if interrupted else "failed", only_if=("running",))
        raise
    job_rows.finish_job(store, job.id, job_status(summary), outputs={"summary": summary.to_dict()})
    return summary


def _describe(exc: BaseException) -> str:
    from workbench.errors import WorkbenchError

    if isinstance(exc, WorkbenchError):
        return exc.message
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
