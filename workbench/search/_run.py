"""One search run, end to end: check the configuration, connect to the cluster, run the driver, and end
the run's job and its experiment with a final status whatever ended the driver."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from workbench.errors import InvalidInputError
from workbench.search._driver import SearchDriver, SearchOptions, SearchSummary
from workbench.search._engines import ENGINE_NAMES, AutoGluonEngine, Engine, OptunaEngine
from workbench.search._events import EventBus
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

    def __post_init__(self) -> None:
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

    def options(self, budget: Budget) -> SearchOptions:
        return SearchOptions(
            n_trials=budget.n_trials,
            time_limit_s=budget.time_limit_s,
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


def run_search(
    workspace: Workspace,
    experiment: Experiment,
    config: SearchConfig,
    *,
    bus: EventBus | None = None,
    job_id: int | None = None,
    stop: StopSignal | None = None,
    on_driver: Callable[[SearchDriver], None] | None = None,
) -> SearchSummary:
    """Run one search of `experiment` until its budget is spent or it is stopped.

    The run has a job (`job_id`, or a new one for a run in the foreground): a stop request recorded on it
    by any process is honoured within one loop turn, and `stop` carries requests made in this process
    (a signal handler installed before this call). Whatever ends the run, its job and the experiment end
    with a final status. Bad input raises before anything is connected or written.
    """
    from workbench.compute import cluster, cluster_resources

    budget = config.budget_for(experiment)
    options = config.options(budget)
    stop = stop or StopSignal()
    store = workspace.store
    job = _start_job(workspace, experiment, config, budget, job_id)
    experiment_rows.set_search_config(store, experiment.id, config.to_dict())
    bus = bus or EventBus(store, buffered=True)
    summary: SearchSummary | None = None
    try:
        with cluster(config.cluster) as client:
            gpus = cluster_resources(client).get("gpus", 0) > 0
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
