"""The driver against real process workers: counts, worker crashes, hangs, pruning, stopping.

The objectives here are user-defined trial functions (FunctionEngine) that sleep, kill their own worker,
hang or report intermediate values: the failure modes the driver must survive, made on purpose.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import cloudpickle
import dask
import pytest
from distributed import Client, LocalCluster

from workbench.search import (
    DaskReporter,
    EventBus,
    FunctionEngine,
    Reporter,
    SearchDriver,
    SearchEvent,
    SearchOptions,
    TrialData,
    TrialResult,
    TrialSpec,
    WorkerResources,
)
from workbench.store import Workspace, search_progress
from workbench.store import events as event_rows
from workbench.store import jobs as job_rows
from workbench.store import trials as records

# Process workers unpickle these objectives: ship them by value, not by (test-only) module path.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow


def sleeper(spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter) -> TrialResult:
    """Sleeps params["sleep"] seconds; dies with os._exit when params["die"]; hangs when params["hang"]."""
    if spec.params.get("die"):
        os._exit(3)
    if spec.params.get("hang"):
        time.sleep(3600)
    time.sleep(spec.params.get("sleep", 0.1))
    return TrialResult(status="complete", values=(float(spec.number),))


def climber(spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter) -> TrialResult:
    """Reports a value per step; a 'bad' trial reports low values and should be pruned early."""
    low = spec.params.get("bad", False)
    for step in range(60):
        reporter.report(step, (0.1 if low else 0.9) + step * 1e-4)
        time.sleep(0.05)
    return TrialResult(status="complete", values=(0.9,))


def with_an_earlier_submission(
    spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter
) -> TrialResult:
    """Reports steps 1 and 2, while an earlier submission of the same trial (one the driver moved or lost,
    still running somewhere) says it started, reports other values for the same steps, and ends."""
    earlier = DaskReporter(replace(spec, attempt=spec.attempt - 1))
    earlier.started(resources.address)
    for step in (1, 2):
        earlier.report(step, 0.1)
        reporter.report(step, 0.9)
    earlier.ended()
    time.sleep(0.5)  # reports that arrive after the trial ended are not its own any more
    return TrialResult(status="complete", values=(0.9,))


class RecordingEngine(FunctionEngine):
    """Records every intermediate value the driver hands it; prunes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reports: list[tuple[int, int, float]] = []

    def on_report(self, number: int, step: int, value: float) -> bool:
        self.reports.append((number, step, value))
        return False


class PruneLowEngine(FunctionEngine):
    """Prunes a trial whose intermediate value falls below 0.5 after step 5 (decided in the driver)."""

    def on_report(self, number: int, step: int, value: float) -> bool:
        return step >= 5 and value < 0.5


@pytest.fixture(autouse=True)
def _trial_data_factory(make_trial_data: Any) -> None:
    global small_trial_data
    small_trial_data = make_trial_data


small_trial_data: Any = None


def _run(
    workspace: Workspace, client: Client, engine: FunctionEngine, options: SearchOptions, bus: EventBus | None = None
) -> Any:
    experiment_id, data = small_trial_data(workspace)
    experiment = workspace.experiment(experiment_id)
    driver = SearchDriver(workspace, experiment, [engine], client, options, bus=bus, data=data)
    return experiment_id, driver.run()


def _driver(
    workspace: Workspace, client: Client, engine: FunctionEngine, options: SearchOptions, **kwargs: Any
) -> tuple[int, SearchDriver]:
    """A driver of `engine` on a new small experiment (its id returned too), not started."""
    experiment_id, data = small_trial_data(workspace)
    experiment = workspace.experiment(experiment_id)
    return experiment_id, SearchDriver(workspace, experiment, [engine], client, options, data=data, **kwargs)


def _states(workspace: Workspace, experiment_id: int) -> list[str]:
    return [t.state for t in records.list_trials(workspace.store, experiment_id)]


def test_exact_trial_count_and_events(search_workspace: Workspace, client: Client) -> None:
    events: list[SearchEvent] = []
    bus = EventBus(search_workspace.store)
    bus.subscribe(events.append)
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 0.2})
    experiment_id, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=6), bus)
    assert summary.status == "finished" and summary.complete == 6
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert [t.state for t in trials] == ["COMPLETE"] * 6
    assert sorted(t.number for t in trials) == list(range(6))
    assert {t.worker for t in trials} >= {w for w in client.scheduler_info()["workers"]}  # both workers used
    kinds = [e.kind for e in events]
    assert kinds[0] == "search_started" and kinds[-1] == "search_finished"
    for kind in ("cluster", "trial_queued", "trial_started", "trial_finished"):
        assert kind in kinds
    persisted = event_rows.events_since(search_workspace.store, experiment_id)
    # The same events, of the same type, read back from the store (now with their row ids).
    assert [(e.kind, e.to_dict()["payload"]) for e in persisted] == [(e.kind, e.to_dict()["payload"]) for e in events]
    assert all(type(e) is SearchEvent for e in persisted) and all(e.id is None for e in events)
    assert [e.id for e in persisted] == sorted(e.id for e in persisted if e.id is not None)


def test_sigkill_a_worker_mid_search(search_workspace: Workspace, client: Client) -> None:
    pids = client.run(os.getpid)
    killed: list[str] = []
    bus = EventBus(search_workspace.store)

    def kill_first_started(event: SearchEvent) -> None:
        if event.kind == "trial_started" and not killed:
            killed.append(event.payload["worker"])
            os.kill(pids[event.payload["worker"]], signal.SIGKILL)

    bus.subscribe(kill_first_started)
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 1.5})
    experiment_id, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=6), bus)
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert killed, "the test did kill a worker"
    assert summary.complete == 6
    assert [t.state for t in trials] == ["COMPLETE"] * 6  # none duplicated, none left RUNNING, none lost
    assert len({t.number for t in trials}) == 6
    assert max(t.attempts for t in trials) >= 2  # the killed trial really ran again
    client.wait_for_workers(2, timeout=60)


def test_an_objective_that_kills_its_worker_fails_and_the_search_goes_on(
    search_workspace: Workspace, client: Client
) -> None:
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"die": n == 1, "sleep": 0.1})
    experiment_id, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=4))
    trials = records.list_trials(search_workspace.store, experiment_id)
    failed = [t for t in trials if t.state == "FAILED"]
    assert summary.complete == 4 and len(failed) == 1 and failed[0].number == 1, [(t.number, t.error) for t in failed]
    assert "worker died" in (failed[0].error or "")
    client.wait_for_workers(2, timeout=60)


def test_a_trial_that_kills_the_only_worker_fails_and_the_search_goes_on(search_workspace: Workspace) -> None:
    # The rows were on the lost worker alone: they go again once its nanny has brought it back, and the trial
    # that takes them down each time fails after a few runs instead of being run again forever.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"die": n == 1, "sleep": 0.1})
        experiment_id, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=3))
    trials = {t.number: t for t in records.list_trials(search_workspace.store, experiment_id)}
    assert summary.complete == 3 and trials[1].state == "FAILED", {n: t.state for n, t in trials.items()}
    assert "worker died" in (trials[1].error or "")


def test_a_hanging_trial_is_failed_by_the_timeout(search_workspace: Workspace) -> None:
    # A cluster of its own: the stuck worker is restarted by its nanny, which this test then checks.
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            resources={"CPU": 1},
        ) as cluster,
        Client(cluster) as client,
    ):
        stuck_pid_before = set(client.run(os.getpid).values())
        engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"hang": n == 0, "sleep": 0.2})
        experiment_id, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=3, trial_timeout_s=4))
        trials = records.list_trials(search_workspace.store, experiment_id)
        hung = next(t for t in trials if t.number == 0)
        assert hung.state == "FAILED" and "timed out after 4 s" in (hung.error or "")
        assert summary.complete == 3
        client.wait_for_workers(2, timeout=120)
        deadline = time.monotonic() + 120
        while set(client.run(os.getpid).values()) & stuck_pid_before == stuck_pid_before:
            assert time.monotonic() < deadline, "the stuck worker was not restarted"
            time.sleep(0.5)


def test_pruning_is_decided_by_the_driver_for_remote_trials(search_workspace: Workspace, client: Client) -> None:
    engine = PruneLowEngine("fn", climber, params_for=lambda n: {"bad": n % 2 == 1})
    experiment_id, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=4))
    trials = records.list_trials(search_workspace.store, experiment_id)
    assert summary.complete + summary.pruned == 4 and summary.pruned >= 1
    for trial in trials:
        assert trial.state == ("PRUNED" if trial.params["bad"] else "COMPLETE")
    reported = event_rows.events_since(search_workspace.store, experiment_id)
    steps_of_pruned = [
        e.payload["step"] for e in reported if e.kind == "trial_reported" and e.payload["number"] % 2 == 1
    ]
    assert steps_of_pruned and max(steps_of_pruned) < 59  # stopped before the end


def test_messages_of_an_earlier_submission_of_a_trial_are_not_taken_for_its_current_one(
    search_workspace: Workspace, client: Client
) -> None:
    # Each step must reach the engine once, from the current submission (Optuna's engine warns on a repeat).
    engine = RecordingEngine("fn", with_an_earlier_submission)
    _, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=3))
    assert summary.complete == 3 and summary.wasted_s == 0.0
    assert sorted(engine.reports) == [(n, step, 0.9) for n in range(3) for step in (1, 2)]


@pytest.mark.parametrize("on_stop", ["cancel", "finish"])
def test_stop_at_the_time_limit(search_workspace: Workspace, client: Client, on_stop: str) -> None:
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 5.0})
    experiment_id, summary = _run(
        search_workspace,
        client,
        engine,
        SearchOptions(time_limit_s=3.0, on_stop=on_stop),  # type: ignore[arg-type]
    )
    states = _states(search_workspace, experiment_id)
    assert "RUNNING" not in states and "QUEUED" not in states
    trials = records.list_trials(search_workspace.store, experiment_id)
    if on_stop == "cancel":
        assert summary.complete == 0 and summary.cancelled >= 2
    else:
        # Running trials finish; the one queued beyond the free workers never starts.
        assert summary.complete >= 2
        assert all("before it started" in (t.error or "") for t in trials if t.state == "CANCELLED")
    assert summary.status == "finished"


def test_the_reserve_ends_the_trials_early_and_bounds_their_time(search_workspace: Workspace, client: Client) -> None:
    asked: list[float] = []

    def reserve() -> float:
        asked.append(time.monotonic())
        return 3.0

    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 0.2})
    _, driver = _driver(search_workspace, client, engine, SearchOptions(time_limit_s=6.0), reserve=reserve)
    before = time.time()
    summary = driver.run()
    assert asked and summary.status == "finished" and summary.complete >= 2
    assert "3 s of it kept to finalize the winner" in summary.message
    # every trial was told to end by the end of the trials' phase (limit less reserve), not the limit
    assert driver._ends_at is not None and driver._ends_at <= before + 3.0 + 0.5
    assert summary.elapsed_s < 6.0 - 1.0


def until_its_deadline(spec: TrialSpec, data: TrialData, resources: WorkerResources, reporter: Reporter) -> TrialResult:
    """Trial 0 sleeps until just past its deadline (as an AutoGluon trial fits until its time limit, then
    scores its models); others 0.3 s."""
    left = resources.time_left()
    time.sleep(max(0.0, left + 0.5) if spec.number == 0 and left is not None else 0.3)
    return TrialResult(status="complete", values=(float(spec.number),))


def test_trials_go_on_when_the_reserve_shrinks_after_their_phase_ended(
    search_workspace: Workspace, client: Client
) -> None:
    # The reserve is large until trial 0 ends, which it does only as the trials' phase ends: the time it then
    # frees runs more trials instead of being left idle.
    experiment_id = -1

    def reserve() -> float:
        trial_0 = [t for t in records.list_trials(search_workspace.store, experiment_id) if t.number == 0]
        return 1.0 if trial_0 and trial_0[0].state == "COMPLETE" else 10.0

    engine = FunctionEngine("fn", until_its_deadline, honours_time_limit=True)
    experiment_id, driver = _driver(search_workspace, client, engine, SearchOptions(time_limit_s=20.0), reserve=reserve)
    summary = driver.run()
    trials = records.list_trials(search_workspace.store, experiment_id)
    first = next(t for t in trials if t.number == 0)
    assert first.state == "COMPLETE" and first.finished_at is not None
    after = [t for t in trials if t.started_at is not None and t.started_at > first.finished_at]
    assert after and all(t.state == "COMPLETE" for t in after), [(t.number, t.state) for t in trials]
    assert summary.status == "finished" and summary.cancelled == 0
    assert summary.message == "time limit of 20 s reached (1 s of it kept to finalize the winner)"
    # Past the first phase (20 - 10 s), up to the last trial start that the shorter reserve allows (no trial
    # starts in the last 5 s).
    assert len(after) >= 3 and 20.0 - 10.0 + 1.0 < summary.elapsed_s < 20.0 - 0.5


def test_stop_from_another_thread(search_workspace: Workspace, client: Client) -> None:
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 0.5})
    experiment_id, driver = _driver(search_workspace, client, engine, SearchOptions(n_trials=1000))
    threading.Timer(2.0, driver.stop).start()
    summary = driver.run()
    assert summary.status == "stopped" and 0 < summary.complete < 1000
    assert "RUNNING" not in _states(search_workspace, experiment_id)


def _driver_with_job(workspace: Workspace, client: Client, engine: FunctionEngine, options: SearchOptions) -> Any:
    experiment_id, data = small_trial_data(workspace)
    job = job_rows.create_job(workspace.store, "search", {}, experiment_id=experiment_id)
    experiment = workspace.experiment(experiment_id)
    return (
        experiment_id,
        job.id,
        SearchDriver(workspace, experiment, [engine], client, options, data=data, job_id=job.id),
    )


@pytest.mark.parametrize("mode", ["finish", "cancel"])
def test_a_stop_request_in_the_store_is_honoured_in_its_mode(
    search_workspace: Workspace, client: Client, mode: str
) -> None:
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 2.5})
    experiment_id, job_id, driver = _driver_with_job(search_workspace, client, engine, SearchOptions(n_trials=50))
    other = Workspace(search_workspace.settings)  # another connection, as another process would have

    def request_once_two_trials_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(records.list_trials(other.store, experiment_id, ("RUNNING",))) >= 2:
                job_rows.request_stop(other.store, job_id, mode)  # type: ignore[arg-type]
                return
            time.sleep(0.05)

    threading.Thread(target=request_once_two_trials_run, daemon=True).start()
    summary = driver.run()
    other.close()
    trials = records.list_trials(search_workspace.store, experiment_id)
    states = [t.state for t in trials]
    assert summary.status == "stopped" and summary.stop_mode == mode
    assert "RUNNING" not in states and "QUEUED" not in states
    started = [t for t in trials if t.started_at is not None]
    if mode == "finish":
        assert {t.state for t in started} == {"COMPLETE"} and len(started) >= 2  # the running ones finished
        assert all("before it started" in (t.error or "") for t in trials if t.state == "CANCELLED")
    else:
        assert summary.complete == 0 and {t.state for t in started} == {"CANCELLED"}
    assert len(trials) <= 4  # nothing was submitted after the request


def test_a_raising_subscriber_is_dropped_and_never_aborts_the_search(
    search_workspace: Workspace, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    bus = EventBus(search_workspace.store, buffered=True)

    def broken(event: SearchEvent) -> None:
        seen.append(event.kind)
        raise RuntimeError("a widget that broke")

    bus.subscribe(broken)
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 0.1})
    with caplog.at_level("WARNING", logger="workbench.search"):
        _, summary = _run(search_workspace, client, engine, SearchOptions(n_trials=3), bus)
    assert summary.status == "finished" and summary.complete == 3
    assert seen == ["search_started"]  # called once, then dropped
    assert any("subscriber raised" in r.message for r in caplog.records)


def test_queued_trials_a_dead_driver_left_run_on_resume_with_their_numbers(
    search_workspace: Workspace, client: Client
) -> None:
    experiment_id, data = small_trial_data(search_workspace)
    store = search_workspace.store
    # What a driver killed early leaves: two trials queued (never started) and one running.
    for number in range(2):
        records.create_trial(store, experiment_id, "fn", number, {"sleep": 0.1, "number": number})
    running = records.create_trial(store, experiment_id, "fn", 2, {"sleep": 0.1, "number": 2})
    records.start_trial(store, running.id, "tcp://gone:1")
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 0.1, "number": n})
    experiment = search_workspace.experiment(experiment_id)
    summary = SearchDriver(search_workspace, experiment, [engine], client, SearchOptions(n_trials=4), data=data).run()
    trials = {t.number: t for t in records.list_trials(store, experiment_id)}
    assert summary.status == "finished" and summary.complete == 4
    assert trials[0].state == trials[1].state == "COMPLETE"  # run, not failed
    assert trials[0].attempts == trials[1].attempts == 1
    assert trials[2].state == "FAILED" and "interrupted" in (trials[2].error or "")
    assert sorted(n for n, t in trials.items() if t.state == "COMPLETE") == [0, 1, 3, 4]
    assert trials[3].params == {"sleep": 0.1, "number": 2}  # the interrupted one's parameters, run again


def test_a_second_thread_polls_and_writes_outside_the_drivers_transaction(
    search_workspace: Workspace, client: Client
) -> None:
    """A widget thread reads progress and writes (a stop-free job update) while the real driver writes."""
    engine = FunctionEngine("fn", sleeper, params_for=lambda n: {"sleep": 0.05})
    experiment_id, job_id, driver = _driver_with_job(search_workspace, client, engine, SearchOptions(n_trials=40))
    store = search_workspace.store
    errors: list[BaseException] = []
    done_seen: list[int] = []
    connections: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        connections.append(id(store.conn))
        i = 0
        while not stop.is_set():
            try:
                assert not store.conn.in_transaction  # this thread's connection is never inside another's BEGIN
                progress = search_progress(store, experiment_id, True)
                assert progress is not None
                done_seen.append(progress.done)
                i += 1
                job_rows.merge_outputs(store, job_id, {"polls": i})
            except BaseException as exc:
                errors.append(exc)
                return

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        summary = driver.run()
    finally:
        stop.set()
        poller.join(timeout=60)
    assert errors == []
    assert summary.complete == 40
    assert connections and connections[0] != id(store.conn)  # a connection of its own
    assert done_seen == sorted(done_seen) and len(done_seen) > 10
    job = job_rows.get_job(store, job_id)
    assert job is not None and job.outputs["polls"] == len(done_seen)  # every write of the poller kept
