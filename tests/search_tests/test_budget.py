"""The time budget against real process workers: trials fitted to the time left, no trial wasted at the end,
waste reported, idle cores lent to the trials that remain."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import cloudpickle
import pytest
from distributed import Client

from workbench.model import loads_model
from workbench.search import (
    AutoGluonEngine,
    EventBus,
    FunctionEngine,
    Reporter,
    SearchDriver,
    SearchOptions,
    TrialData,
    TrialResult,
    TrialSpec,
    WorkerResources,
)
from workbench.search import _driver as driver_module
from workbench.search.families import fit_candidate, get_family
from workbench.store import Workspace
from workbench.store import events as event_rows
from workbench.store import trials as records

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _trial_data_factory(make_trial_data: Any) -> None:
    global small_trial_data
    small_trial_data = make_trial_data


small_trial_data: Any = None


def wait_then_fit(spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter) -> TrialResult:
    """Sleeps params["wait"] seconds; then fits params["family"] (if any) under the trial's deadline."""
    time.sleep(spec.params.get("wait", 0.0))
    family = spec.params.get("family")
    if family is None:
        return TrialResult(status="complete", values=(0.0,))
    candidate, blob = fit_candidate(family, {}, data, resources, reporter, spec.seed)
    return TrialResult(
        status="complete", candidates=[candidate], artifacts={candidate.artifact: blob}, values=(candidate.valid_score,)
    )


def stubborn(spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter) -> TrialResult:
    """Runs up to params["run"] seconds, or until its deadline when params["honour"]; returns early only
    when the driver asks it to stop (its prune event), as a cancelled trial is asked to."""
    end = time.monotonic() + spec.params.get("run", 30.0)
    while time.monotonic() < end and not reporter.should_prune():
        if spec.params.get("honour") and resources.out_of_time():
            break
        time.sleep(0.05)
    if spec.params.get("fail") and spec.number % 2 == 1:
        raise RuntimeError("a failing trial")
    return TrialResult(status="complete", values=(float(resources.cpus),))


def _driver(
    workspace: Workspace, client: Client, engines: list[Any], options: SearchOptions, dataset: str = "penguins"
) -> tuple[int, SearchDriver]:
    experiment_id, data = small_trial_data(workspace, dataset)
    experiment = workspace.experiment(experiment_id)
    return experiment_id, SearchDriver(workspace, experiment, engines, client, options, data=data)


def test_a_trial_started_near_the_end_of_the_budget_still_returns_a_candidate(
    search_workspace: Workspace, client: Client
) -> None:
    # Two quick trials, then two MLP fits on flights (slower than what is left of the budget): they stop
    # training at their deadline and return their best epoch instead of being cancelled. The workers import
    # torch first, as workers that fitted an MLP before have: what is timed is training, not a first import
    # (seconds on a loaded machine; `test_family_imports` checks that a fit's window does not include it).
    client.run(get_family("mlp").import_modules)
    engine = FunctionEngine(
        "fn",
        wait_then_fit,
        params_for=lambda n: {"wait": 3.0} if n < 2 else {"family": "mlp"},
        honours_time_limit=True,
    )
    experiment_id, driver = _driver(
        search_workspace, client, [engine], SearchOptions(time_limit_s=8.0), dataset="flights"
    )
    summary = driver.run()
    trials = {t.number: t for t in records.list_trials(search_workspace.store, experiment_id)}
    late = [t for n, t in trials.items() if n >= 2]
    assert late and all(t.state == "COMPLETE" for t in late), [(t.number, t.state, t.error) for t in late]
    candidates = records.list_candidates(search_workspace.store, experiment_id)
    assert {c.trial_id for c in candidates} == {t.id for t in late}
    for candidate in candidates:
        assert candidate.artifact_key is not None
        model = loads_model(search_workspace.store.read_artifact(candidate.artifact_key))
        assert 1 <= model.best_epoch_ <= model.epochs_
    assert summary.status == "finished" and summary.cancelled == 0 and summary.failed == 0
    assert summary.wasted_s == 0.0 and summary.wasted_share == 0.0 and summary.trial_s > 0


def test_autogluon_trials_end_with_the_budget_and_take_every_core(
    search_workspace: Workspace, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A generous grace: a loaded test machine may make AutoGluon overrun its limit; what is tested here is
    # that the end of the budget lets its trials finish rather than cancelling them.
    monkeypatch.setattr(driver_module, "GRACE_S", 120.0)
    engine = AutoGluonEngine(seed=0, time_limit_s=20.0)
    experiment_id, driver = _driver(search_workspace, client, [engine], SearchOptions(time_limit_s=20.0))
    summary = driver.run()
    engine.close()
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert trials and all(t.state == "COMPLETE" for t in trials), [(t.number, t.state, t.error) for t in trials]
    assert summary.cancelled == 0 and summary.wasted_s == 0.0
    candidates = records.list_candidates(search_workspace.store, experiment_id)
    assert candidates
    # An AutoGluon-only search on two one-core workers runs one trial at a time with both cores.
    assert {c.params["ag_num_cpus"] for c in candidates} == {2}
    assert all(c.params["ag_time_limit_s"] <= 20.0 for c in candidates)
    assert summary.trial_s >= sum(t.finished_at - t.started_at for t in trials if t.started_at and t.finished_at)


def test_the_summary_reports_worker_seconds_and_their_waste(search_workspace: Workspace, client: Client) -> None:
    bus = EventBus(search_workspace.store)
    engine = FunctionEngine("fn", stubborn, params_for=lambda n: {"run": 0.4, "fail": True})
    experiment_id, data = small_trial_data(search_workspace)
    driver = SearchDriver(
        search_workspace,
        search_workspace.experiment(experiment_id),
        [engine],
        client,
        SearchOptions(n_trials=3, max_failures=10),
        bus=bus,
        data=data,
    )
    summary = driver.run()
    assert summary.complete == 3 and summary.failed >= 1
    assert 0 < summary.wasted_s < summary.trial_s
    assert summary.wasted_share == pytest.approx(summary.wasted_s / summary.trial_s)
    assert 0.0 < summary.wasted_share < 1.0
    as_dict = summary.to_dict()
    assert {"trial_s", "wasted_s", "wasted_share"} <= set(as_dict)
    finished = [
        e for e in event_rows.events_since(search_workspace.store, experiment_id) if e.kind == "search_finished"
    ]
    assert finished[-1].payload["wasted_share"] == pytest.approx(summary.wasted_share, abs=1e-4)


def test_trials_cancelled_at_the_time_limit_are_asked_to_stop_and_awaited(
    search_workspace: Workspace, client: Client
) -> None:
    # A user-defined objective that does not honour its time limit is cancelled at the end of the budget;
    # its code is told to stop (it polls should_prune) and the run ends once it returned: the workers are
    # idle when the cluster closes, so nothing needs killing.
    engine = FunctionEngine("fn", stubborn, params_for=lambda n: {"run": 60.0})
    experiment_id, driver = _driver(search_workspace, client, [engine], SearchOptions(time_limit_s=1.5))
    summary = driver.run()
    assert summary.cancelled == 2 and summary.complete == 0
    assert summary.wasted_share == 1.0
    assert driver._cancelled_running == {}  # every cancelled trial's code said it returned
    states = {t.state for t in records.list_trials(search_workspace.store, experiment_id)}
    assert states == {"CANCELLED"}


@pytest.mark.parametrize("honour", [True, False])
def test_trials_that_honour_their_limit_finish_after_the_budget_within_a_grace(
    search_workspace: Workspace, client: Client, monkeypatch: pytest.MonkeyPatch, honour: bool
) -> None:
    monkeypatch.setattr(driver_module, "GRACE_S", 0.5)
    engine = FunctionEngine(
        "fn", stubborn, params_for=lambda n: {"run": 60.0, "honour": honour}, honours_time_limit=True
    )
    experiment_id, driver = _driver(search_workspace, client, [engine], SearchOptions(time_limit_s=1.0))
    summary = driver.run()
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert len(trials) == 2  # one per worker; none started after the budget
    if honour:  # they return at their deadline (MIN_TRIAL_S, the floor of a trial's limit)
        assert {t.state for t in trials} == {"COMPLETE"} and summary.cancelled == 0
    else:  # still running half a second past their limit: cancelled then
        assert {t.state for t in trials} == {"CANCELLED"}
        assert all("after its time limit" in (t.error or "") for t in trials)
    assert summary.status == "finished"


def test_a_cancel_request_while_trials_finish_after_the_budget_cancels_them(
    search_workspace: Workspace, client: Client
) -> None:
    engine = FunctionEngine("fn", stubborn, params_for=lambda n: {"run": 60.0, "honour": True}, honours_time_limit=True)
    experiment_id, driver = _driver(search_workspace, client, [engine], SearchOptions(time_limit_s=1.0))
    threading.Timer(2.5, driver.stop, args=("cancel",)).start()
    summary = driver.run()
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert {t.state for t in trials} == {"CANCELLED"} and all("by request" in (t.error or "") for t in trials)
    assert summary.stop_mode == "cancel" and summary.status == "stopped"


@pytest.mark.parametrize(
    ("n_trials", "whole_host", "cpus"),
    [(1, False, {2.0}), (4, False, {1.0}), (3, True, {2.0})],
)
def test_idle_cores_go_to_the_trials_that_remain(
    search_workspace: Workspace, client: Client, n_trials: int, whole_host: bool, cpus: set[float]
) -> None:
    engine = FunctionEngine("fn", stubborn, params_for=lambda n: {"run": 0.3}, whole_host=whole_host)
    experiment_id, driver = _driver(search_workspace, client, [engine], SearchOptions(n_trials=n_trials))
    summary = driver.run()
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert summary.complete == n_trials
    assert {t.values[0] for t in trials if t.values} == cpus
    if whole_host:  # one trial at a time, pinned to the same worker, the other lent to it
        assert len({t.worker for t in trials}) == 1
