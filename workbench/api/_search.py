"""Searches: start one in the background (or run it here), follow it, stop it; from any process."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from workbench.api._batch import default_cluster
from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.data import SplitSpec
from workbench.jobs import SearchHandle
from workbench.search import ENGINE_NAMES, SearchConfig, SearchSummary, check_finalize_mode
from workbench.store import Budget, Experiment, ExperimentSpec, SearchEvent, SearchProgress, StopMode, StopSignal

__all__ = [
    "attach",
    "prepare_search",
    "resume_config",
    "run_search",
    "search_config",
    "search_events",
    "search_progress",
    "start_search",
    "stop_search",
]


def resume_config(
    experiment_id: int,
    *,
    n_trials: int | None = None,
    time_limit_s: float | None = None,
    cluster: str | None = None,
    trial_timeout_s: float | None = None,
    on_stop: StopMode | None = None,
    finalize: str | None = None,
    workspace: WorkspaceLike = None,
) -> SearchConfig:
    """The configuration last searched on the experiment (its default one if none ran), with the given
    budget, cluster, timeout, end-of-budget mode and finalize mode instead: how a search continues an
    experiment."""
    from dataclasses import replace

    experiment = resolve_workspace(workspace).experiment(experiment_id)
    base = SearchConfig.from_dict(experiment.search) if experiment.search else SearchConfig()
    changes: dict[str, object] = {}
    if n_trials is not None or time_limit_s is not None:
        changes["budget"] = Budget(time_limit_s, n_trials)
    settings = (
        ("cluster", cluster),
        ("trial_timeout_s", trial_timeout_s),
        ("on_stop", on_stop),
        ("finalize", finalize),
    )
    for key, value in settings:
        if value is not None:
            changes[key] = value
    return replace(base, **changes)  # type: ignore[arg-type]


def search_config(
    *,
    engines: Sequence[str] = ENGINE_NAMES,
    families: Sequence[str] | None = None,
    n_trials: int | None = None,
    time_limit_s: float | None = None,
    cluster: str | None = None,
    trial_timeout_s: float = 900.0,
    on_stop: StopMode = "cancel",
    multi_objective: bool = False,
    seed: int = 0,
    finalize: str = "all",
    ensemble: bool = True,
) -> SearchConfig:
    """A search configuration, checked: engines, Optuna families, budget (None: the experiment's; a time
    limit covers the whole run, cluster start and finalize included), cluster ("auto", "local:N",
    "tcp://HOST:PORT" or a scheduler file; None: WORKBENCH_CLUSTER, else "auto"), per-trial timeout, what
    to do with running trials at the end of the budget, Optuna's multi-objective mode, the samplers' seed,
    whether an ensemble of the best candidates is built after the trials (kept when it beats its best
    member out of fold), and how the winner is finalized: refitted on "all" rows, on "train+valid", or
    "none"."""
    budget = None if n_trials is None and time_limit_s is None else Budget(time_limit_s, n_trials)
    return SearchConfig(
        engines=tuple(engines),
        families=tuple(families) if families is not None else None,
        budget=budget,
        cluster=cluster or default_cluster(),
        trial_timeout_s=trial_timeout_s,
        on_stop=on_stop,
        multi_objective=multi_objective,
        seed=seed,
        finalize=check_finalize_mode(finalize),
        ensemble=bool(ensemble),
    )


def start_search(
    experiment_id: int, config: SearchConfig | None = None, *, workspace: WorkspaceLike = None
) -> SearchHandle:
    """Search the experiment in a background job whose driver outlives this process; returns at once.

    >>> search = start_search(exp.id, search_config(n_trials=20, cluster="local:2"))  # doctest: +SKIP
    >>> search.progress().done, search.stop("finish")  # doctest: +SKIP
    """
    from workbench.jobs import start_search as start

    ws = resolve_workspace(workspace)
    return start(ws, ws.experiment(experiment_id), config or search_config())


def attach(experiment_id: int, *, workspace: WorkspaceLike = None) -> SearchHandle:
    """The experiment's newest search, from any process (a restarted kernel, another shell or host)."""
    from workbench.jobs import attach as follow

    return follow(resolve_workspace(workspace), experiment_id)


def search_progress(experiment_id: int, *, workspace: WorkspaceLike = None) -> SearchProgress:
    """Trials done / target, running, failed, pruned, best score and candidate, elapsed and time left."""
    return attach(experiment_id, workspace=workspace).progress()


def search_events(
    experiment_id: int, after: int = 0, limit: int | None = None, *, workspace: WorkspaceLike = None
) -> list[SearchEvent]:
    """The experiment's events with an id above `after`, oldest first: pass the last id seen to read on."""
    from workbench.store import events as event_rows

    ws = resolve_workspace(workspace)
    return event_rows.events_since(ws.store, ws.experiment(experiment_id).id, after, limit)


def stop_search(
    experiment_id: int, mode: StopMode = "finish", *, wait_s: float | None = None, workspace: WorkspaceLike = None
) -> SearchHandle:
    """Stop the experiment's running search: "finish" lets running trials finish, "cancel" stops now.
    Works from any process on any host sharing the workspace (the request is recorded in the store)."""
    handle = attach(experiment_id, workspace=workspace)
    handle.stop(mode, wait_s=wait_s)
    return handle


def prepare_search(
    dataset: str,
    config: SearchConfig | None = None,
    *,
    target: str | None = None,
    problem_type: str | None = None,
    metric: str | None = None,
    split: SplitSpec | None = None,
    workspace: WorkspaceLike = None,
) -> Experiment:
    """The experiment a search of `dataset` with `config` works on: the unfinished one that the same
    search started before (so running the same command again continues it), or a new one."""
    from workbench.compute import check_cluster
    from workbench.errors import InvalidInputError
    from workbench.search import find_or_create_experiment

    ws = resolve_workspace(workspace)
    chosen = config or SearchConfig()
    # Everything that can be refused is refused before the experiment is written.
    ws.dataset(dataset)
    if chosen.budget is None or chosen.budget.empty:
        raise InvalidInputError("Give a budget: a number of trials, a time limit, or both.")
    check_cluster(chosen.cluster)
    spec = ExperimentSpec(dataset, target, problem_type, metric, split or SplitSpec())
    return find_or_create_experiment(ws, spec, chosen)


@contextmanager
def _cancel_on_sigterm(stop: StopSignal) -> Iterator[None]:
    """SIGTERM (a job manager, `kill`) asks the search to cancel; the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request("cancel")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_search(
    experiment_id: int,
    config: SearchConfig | None = None,
    *,
    on_event: Callable[[SearchEvent], None] | None = None,
    started_at: float | None = None,
    workspace: WorkspaceLike = None,
) -> SearchSummary:
    """Search the experiment here, blocking until the budget is spent or the search is stopped (from any
    process with `stop_search`, or SIGTERM), then build an ensemble of the best candidates, kept when it
    beats its best member out of fold (`SearchSummary.ensemble`), and finalize the winner
    (`SearchSummary.finalized` says how; when its refit does not fit the time left, the best model whose
    refit does is finalized instead and registered with `register_model(summary.finalized["key"], NAME)`).
    `on_event` sees every event as it happens; one that raises is dropped, never the search. A time limit
    is counted from `started_at` (a `time.monotonic()` reading, e.g. when a command started; default: now)."""
    from workbench.compare import ensemble_step
    from workbench.search import EventBus
    from workbench.search import run_search as run

    ws = resolve_workspace(workspace)
    experiment = ws.experiment(experiment_id)
    chosen = config or SearchConfig()
    chosen.budget_for(experiment)  # no budget: refused before the signal handler or the cluster
    stop = StopSignal()
    bus = EventBus(ws.store, buffered=True)
    if on_event is not None:
        bus.subscribe(on_event)
    with _cancel_on_sigterm(stop):
        return run(ws, experiment, chosen, bus=bus, stop=stop, started_at=started_at, ensemble_step=ensemble_step)
