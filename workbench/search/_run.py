"""One search run, end to end: check the configuration, connect to the cluster, run the driver, and end
the run's job and its experiment with a final status whatever ended the driver."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from workbench.data import Split
from workbench.errors import InvalidInputError
from workbench.search._driver import SearchDriver, SearchOptions, SearchSummary
from workbench.search._engines import ENGINE_NAMES, AutoGluonEngine, Engine, OptunaEngine
from workbench.search._events import EventBus
from workbench.search._fallback import fallback_candidate
from workbench.search._finalize import (
    FinalizeMode,
    RefitStopped,
    best_candidate,
    best_candidates,
    check_finalize_mode,
    estimated_refit_s,
    finalize_candidates,
    refit_scale,
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
    how_made,
    process_start_time,
    refresh_job,
    this_host,
)
from workbench.store import experiments as experiment_rows
from workbench.store import jobs as job_rows
from workbench.store import trials as records

__all__ = [
    "RESUMABLE",
    "EnsembleStep",
    "SearchConfig",
    "build_engines",
    "find_or_create_experiment",
    "job_status",
    "run_search",
    "search_fingerprint",
]

# An experiment in one of these states is picked up again by the same search command.
RESUMABLE = ("created", "running", "stopped", "interrupted")

# Builds and saves an ensemble of the experiment's candidates after the trials (the compare layer's
# `ensemble_step`, given by the caller: search does not import compare). Its third argument says whether
# refitting a set of candidates (by id), started the given seconds from now, fits the time left. Returns
# what it did as plain data, with `kept` and, when kept, the ensemble's `key`, `name` and `member_ids`.
EnsembleStep = Callable[[Workspace, Experiment, Callable[[Sequence[int], float], bool]], dict[str, Any]]


@dataclass(frozen=True)
class SearchConfig:
    """How to search an experiment.

    engines: "autogluon", "optuna" or both. families: the Optuna engine's model families (None: all).
    budget: finished trials to reach (earlier runs count) and/or this run's wall-clock limit; None takes
        the experiment's budget. cluster: "auto", "local:N", "tcp://HOST:PORT" or a scheduler file.
    trial_timeout_s: a trial running longer fails. on_stop: at the end of the budget, "cancel" running
        trials or let them "finish". multi_objective: Optuna optimises the metric and predict latency.
    seed: of the samplers.
    ensemble: after the trials, build an ensemble of the best candidates (cross-validated greedy selection
        and stacking) and keep it when it beats its best member out of fold (needs the run's `ensemble_step`).
    finalize: after the trials, refit the winner on "all" rows, on "train+valid" or not at all ("none"),
        inside the time limit (the time it needs is kept; see `finalize_reserve`).
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
    ensemble: bool = True

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
            stated_time_limit_s=budget.time_limit_s,
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
    """The configuration's engines."""
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


# About half an AutoGluon fit's time goes into the models of its best candidate (flights: CatBoost_BAG_L1
# took 19 s of a 38 s fit); AutoGluon fits for FIT_SHARE of a trial's time (`engines._autogluon`).
AUTOGLUON_WINNER_SHARE = 0.5


def autogluon_pending_refit_s(folds: int, config: SearchConfig, budget: Budget, scale: float) -> float:
    """About how long refitting the winner of the search's first AutoGluon trial will take, kept while that
    trial has made no candidate (AutoGluon's models all arrive as its fit ends, too late to keep time for
    them then, with the other trials running to the end of theirs): x seconds per second of the trial (its
    winner's share of the fit, one child of k, on `refit_scale` times the rows, as `estimated_refit_s`
    counts a model built on boosting models, whose rounds grow with the rows), for a trial of the time limit
    less that refit kept with REFIT_MARGIN. AutoGluon's model list is mostly boosting models, and its
    winners are built on them. 0 for a search that does not finalize or has no time limit."""
    from workbench.search._finalize import AUTOGLUON_BOOSTED_REFIT_SHARE
    from workbench.search.engines._autogluon import FIT_SHARE

    if config.finalize == "none" or budget.time_limit_s is None:
        return 0.0
    share = AUTOGLUON_BOOSTED_REFIT_SHARE * max(1.0, scale)
    x = AUTOGLUON_WINNER_SHARE * FIT_SHARE * scale / folds * share
    return x * budget.time_limit_s / (1.0 + REFIT_MARGIN * x)


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


# The least share of a time limit kept, after the trials, for finalizing the winner and ending the run
# (and at least FINALIZE_MIN_S); more when the best candidate so far needs more (`finalize_reserve`).
FINALIZE_SHARE = 0.05
FINALIZE_MIN_S = 2.0
# Between the trials' end and the refit: waiting for cancelled trials, closing the engines.
WIND_DOWN_S = 2.0
# With an ensemble step: the time kept for building the ensemble, ENSEMBLE_S_PER_ROW per selection row
# (the step took 0.26-1.12 s on tables of 113-19,200 rows and 4.7-7.2 s on 16,713 binary rows, whose
# stacking fits a logistic regression; 2-core machine), at least ENSEMBLE_MIN_S and at most ENSEMBLE_SHARE of the
# limit; and the reserve plans to refit this many of the best candidates, its likely members. The
# FINALIZE_SHARE floor is the slack for an ensemble of more members and for trials that started before
# the reserve grew (their deadline was set by the earlier reserve).
ENSEMBLE_S_PER_ROW = 4e-4
ENSEMBLE_SHARE = 0.06
ENSEMBLE_MIN_S = 1.5
ENSEMBLE_MEMBERS = 3
# The reserve plans for a refit this much slower than expected; a refit expected to end within
# OVERRUN_SHARE of the limit past it (the budget rule's tolerance) still runs.
REFIT_MARGIN = 1.2
OVERRUN_SHARE = 0.05
# The trials get at least this long, whatever the cluster's start took.
MIN_TRIAL_PHASE_S = 5.0


def trial_phase_s(budget: Budget, elapsed_s: float) -> float | None:
    """How long the trials and finalizing may take: the time limit, less what the command has spent so far
    (cluster start); None without a time limit."""
    if budget.time_limit_s is None:
        return None
    return max(MIN_TRIAL_PHASE_S, budget.time_limit_s - elapsed_s)


def finalize_reserve(
    workspace: Workspace,
    experiment: Experiment,
    config: SearchConfig,
    budget: Budget,
    ensemble: bool = False,
    split: Split | None = None,
) -> Callable[[], float] | None:
    """The seconds the driver keeps free at the end of the time limit for what follows the trials.

    Finalizing: what refitting the best candidate so far (with `ensemble`, the ENSEMBLE_MEMBERS best) is
    expected to take (`estimated_refit_s`, times REFIT_MARGIN) and WIND_DOWN_S, at least FINALIZE_SHARE
    of the limit and FINALIZE_MIN_S. With `ensemble`, the time building the ensemble is expected to take
    (`ensemble_reserve`) more. None when nothing follows the trials or there is no time limit. `split`:
    the experiment's (read from the store when not given)."""
    limit = budget.time_limit_s
    if limit is None or (config.finalize == "none" and not ensemble):
        return None
    split = split if split is not None else workspace.split(experiment)
    building = ensemble_reserve(split, limit) if ensemble else 0.0
    if config.finalize == "none":
        return lambda: building
    floor = max(FINALIZE_MIN_S, FINALIZE_SHARE * limit)
    scale = refit_scale(split, config.finalize)
    mode = config.finalize
    members = ENSEMBLE_MEMBERS if ensemble else 1
    pending_s = autogluon_pending_refit_s(split.cv_folds, config, budget, scale) if "autogluon" in config.engines else 0
    autogluon_seen = False

    def autogluon_pending() -> bool:
        """Whether no AutoGluon trial has ended yet, whatever its end."""
        nonlocal autogluon_seen
        if pending_s and not autogluon_seen:
            autogluon_seen = records.count_trials(workspace.store, experiment.id, "autogluon", records.ENDED_STATES) > 0
        return bool(pending_s) and not autogluon_seen

    def reserve() -> float:
        best = best_candidates(workspace, experiment, members)
        expected = estimated_refit_s(workspace, best, mode, scale) if best else 0.0
        if autogluon_pending():
            # The AutoGluon winner to come, with the best others.
            others = best[: members - 1]
            expected = max(expected, pending_s + (estimated_refit_s(workspace, others, mode, scale) if others else 0.0))
        return max(floor, REFIT_MARGIN * expected + WIND_DOWN_S) + building

    return reserve


def ensemble_reserve(split: Split, limit_s: float) -> float:
    """The seconds kept for the ensemble step: ENSEMBLE_S_PER_ROW per row it selects on (the train and valid
    rows when cross-validated, else the valid rows), at least ENSEMBLE_MIN_S and at most ENSEMBLE_SHARE of
    the limit (when that is more than ENSEMBLE_MIN_S)."""
    rows = len(split.valid) + (len(split.train) if split.cv_folds > 1 else 0)
    return max(ENSEMBLE_MIN_S, min(ENSEMBLE_SHARE * limit_s, ENSEMBLE_S_PER_ROW * rows))


def _ended_on_budget(summary: SearchSummary) -> bool:
    return summary.stop_mode is None and summary.status in ("finished", "stopped")


def _overrun_s(budget: Budget) -> float:
    """How far past the time limit a refit may be expected to end and still run: the budget rule's
    tolerance (a winner that became best only as the trials ended, such as an AutoGluon fit's models,
    may need more than the reserve kept)."""
    return OVERRUN_SHARE * (budget.time_limit_s or 0.0)


def _build_ensemble(
    workspace: Workspace,
    experiment: Experiment,
    config: SearchConfig,
    budget: Budget,
    summary: SearchSummary,
    step: EnsembleStep | None,
    deadline: float | None,
    scale: float,
) -> dict[str, Any] | None:
    """Run the ensemble step when the run ended on its budget; what it did (or why it failed) as plain data.
    An ensemble is saved only if refitting its members (on `scale` times the train rows) fits what is left
    of the time limit."""
    if not config.ensemble or step is None or not _ended_on_budget(summary):
        return None
    store = workspace.store

    def refit_fits(member_ids: Sequence[int], after_s: float) -> bool:
        if config.finalize == "none" or deadline is None:
            return True
        members = [c for c in (records.get_candidate(store, i) for i in member_ids) if c is not None]
        expected = estimated_refit_s(workspace, members, config.finalize, scale)
        return after_s + expected <= deadline - time.monotonic() + _overrun_s(budget)

    start = time.monotonic()
    try:
        report = step(workspace, experiment, refit_fits)
    except Exception as exc:  # the candidates stay as they are; say why there is no ensemble
        report = {"kept": False, "reason": f"the ensemble step failed: {_describe(exc)}"}
    return {**report, "seconds": round(time.monotonic() - start, 2)}


def _finalize_winner(
    workspace: Workspace,
    experiment: Experiment,
    config: SearchConfig,
    budget: Budget,
    summary: SearchSummary,
    client: Any,
    deadline: float | None,
    scale: float,
    stop: Callable[[], bool],
) -> dict[str, Any] | None:
    """Refit the winner (`config.finalize`): the ensemble the run kept (every member), else the best
    candidate; when the run ended on its budget and the refit (on `scale` times the train rows) fits the
    time left. When the winner's refit does not fit, the best candidate whose refit does is finalized
    instead if the winner leads it by at most one standard error on the selection rows (`fallback_candidate`;
    `instead_of` names the winner and why it was not finalized, `why` the comparison). What was done, or
    why not, as plain data for the summary. A cancel request (`stop`) cancels the refit: the winner stays
    as selected and the run ends stopped."""
    if config.finalize == "none" or not _ended_on_budget(summary):
        return None
    ensemble = summary.ensemble if summary.ensemble and summary.ensemble.get("kept") else None
    if ensemble is not None:
        ids = [int(i) for i in ensemble["member_ids"]]
        members = [c for c in (records.get_candidate(workspace.store, i) for i in ids) if c is not None]
        report: dict[str, Any] = {"key": ensemble["key"], "name": ensemble["name"], "mode": config.finalize}
    else:
        winner = best_candidate(workspace, experiment)
        if winner is None:
            return None
        ids, members = [winner.id], [winner]
        report = {"key": f"c{winner.id}", "candidate_id": winner.id, "name": winner.name, "mode": config.finalize}
    estimate = estimated_refit_s(workspace, members, config.finalize, scale)
    seconds_left = None if deadline is None else deadline - time.monotonic()
    if seconds_left is not None and estimate > seconds_left + _overrun_s(budget):
        option = f"--candidate {ids[0]}" if ensemble is None else f"--ensemble {report['key'][1:]}"
        reason = (
            f"its refit would take about {estimate:.0f} s and {max(0.0, seconds_left):.0f} s were left; "
            f"`workbench models register NAME {option}` finalizes it then"
        )
        fallback = None
        if ensemble is None:  # a kept ensemble was built of candidates whose refits fitted: it is kept whole

            def fits(candidate: records.CandidateRow) -> bool:
                expected = estimated_refit_s(workspace, [candidate], config.finalize, scale)
                return deadline is not None and expected <= deadline - time.monotonic() + _overrun_s(budget)

            fallback = fallback_candidate(workspace, experiment, members[0], fits)
        if fallback is None or not fallback.taken or fallback.candidate is None:
            why = f"; {fallback.describe(experiment.metric)}" if fallback is not None else ""
            return {**report, "finalized": False, "reason": reason + why}
        instead_of = {"key": report["key"], "name": report["name"], "reason": reason}
        ids = [fallback.candidate.id]
        report = {
            "key": f"c{fallback.candidate.id}",
            "candidate_id": fallback.candidate.id,
            "name": fallback.candidate.name,
            "mode": config.finalize,
            "instead_of": instead_of,
            "why": fallback.describe(experiment.metric),
        }
    start = time.monotonic()
    try:
        finals = finalize_candidates(workspace, ids, config.finalize, client=client, stop=stop)
    except RefitStopped:
        summary.status, summary.stop_mode = "stopped", "cancel"
        return {**report, "finalized": False, "reason": "stopped by request before its refit ended"}
    except Exception as exc:  # the unfinalized winner stays usable; say why
        return {**report, "finalized": False, "reason": f"the refit failed: {_describe(exc)}"}
    rows = max(final.rows for final in finals)
    done = {**report, "finalized": True, "rows": rows, "seconds": round(time.monotonic() - start, 2)}
    return {**done, **how_made(finals)}  # and how, when not one refit each: seeds averaged, bags as bags


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
    ensemble_step: EnsembleStep | None = None,
) -> SearchSummary:
    """Run one search of `experiment` until its budget is spent or it is stopped, then build an ensemble of
    its candidates (`ensemble_step`, when `config.ensemble`) and finalize its winner.

    A time limit covers the whole run from `started_at` (a `time.monotonic()` reading; default: now):
    connecting to or starting the cluster, the trials, the ensemble and finalizing the winner, for which
    the time they are expected to take is kept (`finalize_reserve`). The run has a job (`job_id`, or a new
    one for a run in the foreground): a stop request recorded on it by any process is honoured within one
    loop turn, and `stop` carries requests made in this process (a signal handler installed before this
    call). Whatever ends the run, its job and the experiment end with a final status. Bad input raises
    before anything is connected or written.
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
    ensemble = config.ensemble and ensemble_step is not None
    try:
        log_path = workspace.settings.home / "logs" / f"search-{experiment.id}-job-{job.id}.log"
        with cluster(config.cluster, log_path=log_path) as client:
            gpus = cluster_resources(client).get("gpus", 0) > 0
            options = config.options(budget, trial_phase_s(budget, time.monotonic() - started))
            split = workspace.split(experiment)
            scale = refit_scale(split, config.finalize)
            reserve = finalize_reserve(workspace, experiment, config, budget, ensemble, split)
            engines = build_engines(workspace, experiment, config, budget, gpus)
            _queue_replays(workspace, experiment, config, engines)
            try:
                driver = SearchDriver(
                    workspace, experiment, engines, client, options, bus, job_id=job.id, stop=stop, reserve=reserve
                )
                if on_driver is not None:
                    on_driver(driver)
                summary = driver.run()
            finally:
                for engine in engines:
                    engine.close()
            deadline = None if budget.time_limit_s is None else started + budget.time_limit_s
            summary.ensemble = _build_ensemble(
                workspace, experiment, config, budget, summary, ensemble_step, deadline, scale
            )
            summary.finalized = _finalize_winner(
                workspace,
                experiment,
                config,
                budget,
                summary,
                client,
                deadline,
                scale,
                _cancel_requested(stop, store, job),
            )
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or stop.mode is not None
        status = "cancelled" if interrupted else "failed"
        error = None if interrupted else _describe(exc)
        job_rows.finish_job(store, job.id, status, error=error)
        experiment_rows.set_status(store, experiment.id, "stopped" if interrupted else "failed", only_if=("running",))
        raise
    job_rows.finish_job(store, job.id, job_status(summary), outputs={"summary": summary.to_dict()})
    return summary


def _cancel_requested(stop: StopSignal, store: Any, job: Job) -> Callable[[], bool]:
    """Whether the run was asked to cancel, here (`stop`: a signal handler) or in the store (any process)."""

    def requested() -> bool:
        if stop.mode != "cancel" and job_rows.stop_request(store, job.id) == "cancel":
            stop.request("cancel")
        return stop.mode == "cancel"

    return requested


def _describe(exc: BaseException) -> str:
    from workbench.errors import WorkbenchError

    if isinstance(exc, WorkbenchError):
        return exc.message
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
