"""The search driver: owns all state, submits trials as Dask futures and records their results.

Runs in the notebook or CLI process. Workers only compute; the driver alone writes the store and tells
the samplers, so a task that Dask recomputes (its worker died after finishing) still yields one trial.

Time: each trial's time limit is what is left of the run's time budget, so trials end with the budget and
return what they have rather than being cancelled; the driver places trials on free workers itself, lends
idle workers' cores to the trials that remain (`_placement`), and reports the worker-seconds its trials
took and the share wasted on trials that produced no candidate (`SearchSummary`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from workbench.errors import InvalidInputError
from workbench.metrics import get_metric
from workbench.search._engines import Engine
from workbench.search._events import EventBus
from workbench.search._placement import Placement, WorkerPool, worker_slots
from workbench.search._protocol import MIN_TRIAL_S, TrialData, TrialResult, TrialSpec
from workbench.search._worker import execute_trial, prune_event_name, report_topic
from workbench.store import Experiment, StopMode, StopSignal, Workspace
from workbench.store import experiments as experiment_rows
from workbench.store import jobs as job_rows
from workbench.store import trials as records

__all__ = ["SearchDriver", "SearchOptions", "SearchSummary"]

# How long a worker with a timed-out trial gets to close before its nanny kills it.
RESTART_TIMEOUT_S = 5.0
# How often the driver tells the store that its job is alive (read by other hosts, which cannot see its pid).
HEARTBEAT_S = 10.0
# At the end of a time budget, a trial that honours its time limit is let finish; one still running this
# long after its limit is cancelled.
GRACE_S = 10.0
# No trial is queued beyond the free workers when less than this is left of a time budget: it could wait
# for a worker until the end and be cancelled before it started.
QUEUE_MIN_LEFT_S = 15.0
# How long the run waits, once over, for the code of trials it cancelled to return on their workers, so
# that closing the cluster finds them idle (and need not kill them).
CANCELLED_WAIT_S = 10.0
# How long the rows wait for a worker to send them to when none is on the cluster: a nanny brings a lost
# worker back in seconds, longer on a loaded machine; a cluster that stays empty this long fails the search.
WORKER_RETURN_S = 120.0
# How many times a trial is run again after its worker died while running it before it fails: the scheduler
# counts a worker's deaths per task only while the rows survive on another worker.
LOST_RUNS_ALLOWED = 2
# How many times a trial that was not running when it was lost (queued on a dying worker, or waiting for rows
# that died with one) is run again: it did not kill its worker, but a cluster whose workers keep dying must
# still end the search.
BYSTANDER_LOSSES_ALLOWED = 8


@dataclass(frozen=True)
class SearchOptions:
    """How long to search and how to stop.

    n_trials: finished trials (complete or pruned) to reach, counting those of earlier runs.
    time_limit_s: wall-clock limit of this run. At least one of the two is required. Each trial's own time
        limit (`TrialSpec.time_limit_s`) is what is left of it when the trial is submitted (at least
        MIN_TRIAL_S), and no trial starts in its last MIN_TRIAL_S seconds (a quarter of it, if shorter).
    trial_timeout_s: a trial running longer is failed and its worker restarted.
    on_stop: at the end of the budget, "cancel" running trials or let them "finish" (a stop request
        carries its own mode). With "cancel", trials of engines that honour their time limit
        (`Engine.honours_time_limit`) still finish: they end by themselves at the budget's end, and one
        still running GRACE_S seconds after its limit is cancelled.
    max_failures: stop after this many failed trials in this run (default: max(5, n_trials)).
    """

    n_trials: int | None = None
    time_limit_s: float | None = None
    trial_timeout_s: float = 900.0
    on_stop: Literal["finish", "cancel"] = "cancel"
    max_failures: int | None = None
    seed: int = 0
    # The time limit as the user gave it (the whole command's), which messages name; `time_limit_s` may be
    # what is left of it once the cluster has started. None: `time_limit_s`.
    stated_time_limit_s: float | None = None
    extra_in_flight: int = 1  # trials queued beyond the free worker slots, to hide driver latency

    def __post_init__(self) -> None:
        if self.n_trials is None and self.time_limit_s is None:
            raise InvalidInputError("Give a budget: a number of trials, a time limit, or both.")
        if self.n_trials is not None and self.n_trials <= 0:
            raise InvalidInputError(f"The number of trials must be at least 1, not {self.n_trials}.")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise InvalidInputError(f"The time limit must be more than 0 seconds, not {self.time_limit_s}.")
        if self.trial_timeout_s <= 0:
            raise InvalidInputError("The per-trial timeout must be more than 0 seconds.")
        if self.on_stop not in ("finish", "cancel"):
            raise InvalidInputError("on_stop must be 'finish' or 'cancel'.")


@dataclass
class SearchSummary:
    """How a run went. `trial_s`: worker-seconds its trials took (a trial lent other workers' cores counts
    theirs too); `wasted_s`: those of trials that produced no candidate (failed, timed out, cancelled,
    including the time their code ran on after the cancel); `wasted_share`: wasted_s / trial_s. Pruned
    trials are not waste: the pruner stopped them to save time."""

    experiment_id: int
    status: str
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    cancelled: int = 0
    elapsed_s: float = 0.0
    best: dict[str, Any] | None = None
    message: str = ""
    stop_mode: str | None = None  # the stop request that ended the run, if one did
    trial_s: float = 0.0
    wasted_s: float = 0.0
    wasted_share: float = 0.0
    # The ensemble built of the candidates after the trials (`workbench.search.run_search`): kept or not, why.
    ensemble: dict[str, Any] | None = None
    # How the winner was finalized after the trials (`workbench.search.run_search`), or why it was not;
    # with "instead_of", the winner's refit did not fit the time left and the model named was finalized.
    finalized: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass
class _Running:
    trial_id: int
    engine: Engine
    spec: TrialSpec
    submitted: float
    placement: Placement = field(default_factory=Placement)
    started: float | None = None
    worker: str | None = None
    limit_s: float | None = None  # the time limit the trial started with, as its worker reported it
    cutoff: float | None = None  # when it is cancelled if still running (set at the end of a time budget)
    reports: list[tuple[int, float]] = field(default_factory=list)
    ended: bool = False  # its worker said the trial's code returned
    losses: int = 0  # earlier runs of the trial lost with the worker they were running on
    bystander_losses: int = 0  # earlier runs lost while they were not running (queued, or their rows lost)

    def deadline(self) -> float | None:
        """When the trial should have ended (driver clock), if it started under a time limit."""
        limit = self.limit_s if self.limit_s is not None else self.spec.time_limit_s
        return None if self.started is None or limit is None else self.started + limit


class SearchDriver:
    """Run engines' trials for one experiment on a Dask cluster until the budget is spent."""

    def __init__(
        self,
        workspace: Workspace,
        experiment: Experiment,
        engines: Sequence[Engine],
        client: Any,
        options: SearchOptions,
        bus: EventBus | None = None,
        data: TrialData | None = None,
        *,
        job_id: int | None = None,
        stop: StopSignal | None = None,
        reserve: Callable[[], float] | None = None,
    ) -> None:
        """`reserve`: the seconds to keep free at the end of a time limit for what follows the trials
        (finalizing the best candidate), asked when the run starts and whenever its best candidate changes;
        the trials' phase ends that much before the limit (never less than half of it is left to them)."""
        if not engines:
            raise InvalidInputError("Choose at least one engine.")
        self.workspace = workspace
        self.experiment = experiment
        self.engines = list(engines)
        self.client = client
        self.options = options
        self.bus = bus or EventBus(workspace.store, buffered=True)
        self._data = data
        self.job_id = job_id
        self._stop = stop or StopSignal()
        self._resumed: deque[tuple[records.TrialRow, Engine]] = deque()  # queued trials a dead driver left
        self._running: dict[Any, _Running] = {}  # future -> trial
        self._by_key: dict[str, Any] = {}  # run key (TrialSpec.run_key) -> future
        self.run_id = uuid.uuid4().hex[:12]
        self._metric = get_metric(experiment.metric, experiment.problem_type)
        self._best: dict[str, Any] | None = None
        self._data_future: Any = None
        self._attempt = 0
        self._cpu_request: dict[str, float] = {}
        self._finished_by_engine: dict[str, int] = {}
        self._durations: dict[str, list[float]] = {}  # engine -> durations of its trials finished in this run
        self._next_number: dict[str, int] = {}
        self._inbox: deque[tuple[float, Any]] = deque()  # (time, message) from subscribe_topic
        self._pool = WorkerPool()
        self._whole_host = all(e.whole_host for e in self.engines)
        self._start = time.monotonic()
        self._ends_at: float | None = None  # wall-clock end of the trials' phase
        self._wall_start = 0.0  # the wall-clock start of `run()`, against which the trials' phase ends
        self._reserve = reserve
        self._reserve_s = 0.0  # the part of the time limit kept for after the trials
        self._draining = False  # the time budget ended; trials that honour their limit are finishing
        # Trials cancelled while their code ran (key -> (when, workers held)), until their worker says it
        # returned; and those cancelled before they said they started.
        self._cancelled_running: dict[str, tuple[float, int]] = {}
        self._cancelled_queued: dict[str, int] = {}
        self._summary = SearchSummary(experiment.id, "created")

    # public ------------------------------------------------------------------------------------

    def stop(self, mode: StopMode = "cancel") -> None:
        """Ask the run to stop (thread-safe): "cancel" every trial now, or "finish" the running ones."""
        self._stop.request(mode)

    def _stop_requested(self) -> StopMode | None:
        """A stop asked in this process, or recorded in the store by any process on any host."""
        mode = self._stop.mode
        if mode != "cancel" and self.job_id is not None:
            stored = job_rows.stop_request(self.workspace.store, self.job_id)
            if stored is not None and mode != stored:
                self._stop.request(stored)
        return self._stop.mode

    def run(self) -> SearchSummary:
        from distributed import wait

        store = self.workspace.store
        exp = self.experiment
        summary = self._summary = SearchSummary(exp.id, "running")
        start = self._start = time.monotonic()
        self._wall_start = time.time()
        self._resume_interrupted()
        summary.complete, summary.pruned = self._finished_counts()
        for row in records.list_trials(store, exp.id, ("COMPLETE", "PRUNED")):
            self._finished_by_engine[row.engine] = self._finished_by_engine.get(row.engine, 0) + 1
        self._best = self._best_so_far()
        self._update_reserve()
        experiment_rows.set_status(store, exp.id, "running")
        resources = self._cluster_resources()
        self.bus.publish("search_started", exp.id, run_id=self.run_id, engines=[e.name for e in self.engines])
        self.bus.publish("cluster", exp.id, **resources)
        slots = max(1, int(resources["slots"]))
        topic = report_topic(self.run_id)
        self.client.subscribe_topic(topic, self._inbox.append)
        self._data_future = self._scatter_data()
        max_failures = self.options.max_failures or max(5, self.options.n_trials or 0)
        stopping: StopMode | None = None
        at_time_limit = False  # whether `stopping` is the end of the trials' phase
        message_before = summary.message
        beat = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                self._drain_reports()
                self.bus.flush()
                self._check_timeouts(summary)
                self._check_cutoffs(summary)
                if self.job_id is not None and now - beat >= HEARTBEAT_S:
                    job_rows.heartbeat(store, self.job_id)
                    beat = now
                done_count = summary.complete + summary.pruned
                requested = self._stop_requested()
                if self._draining and requested is not None:
                    self._end_drain(summary, requested)
                if at_time_limit and requested is None and self._phase_reopened():
                    stopping, at_time_limit, summary.message = None, False, message_before
                if stopping != "cancel":
                    reason, mode = self._stop_reason(requested, done_count, now - start, summary.failed, max_failures)
                    if mode is not None and mode != stopping:
                        message_before = summary.message
                        summary.message = summary.message or reason
                        summary.stop_mode = requested
                        stopping = mode
                        at_time_limit = requested is None and reason.startswith("time limit")
                        self._wind_down(summary, mode, reason, drain=at_time_limit and mode == "cancel")
                if not stopping:
                    self._fill(slots, done_count)
                if not self._running:
                    if stopping is None and self._too_late_to_start():  # the time budget is spent
                        summary.message = summary.message or self._time_limit_reason()
                    break
                done = _wait_first(wait, list(self._running), 0.2)
                results = self._gather([f for f in done if f.status == "finished"])
                for future in done:
                    self._finish(future, summary, results.get(future.key))
            self._await_cancelled(CANCELLED_WAIT_S)
        except KeyboardInterrupt:
            self._cancel_all(summary, "interrupted")
            summary.message = "interrupted"
            summary.stop_mode = "cancel"
            raise
        finally:
            self._drain_reports()
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(topic)
            summary.elapsed_s = time.monotonic() - start
            summary.wasted_share = summary.wasted_s / summary.trial_s if summary.trial_s > 0 else 0.0
            summary.best = self._best
            failed_out = summary.failed >= max_failures and not (summary.complete + summary.pruned)
            spent = self._budget_spent(summary) and summary.stop_mode is None
            summary.status = "failed" if failed_out else ("finished" if spent else "stopped")
            experiment_rows.set_status(store, exp.id, summary.status)
            self.bus.publish(
                "search_finished",
                exp.id,
                status=summary.status,
                complete=summary.complete,
                pruned=summary.pruned,
                failed=summary.failed,
                cancelled=summary.cancelled,
                elapsed_s=round(summary.elapsed_s, 3),
                trial_s=round(summary.trial_s, 3),
                wasted_share=round(summary.wasted_share, 4),
                message=summary.message,
            )
            self.bus.flush()
        return summary

    def _wind_down(self, summary: SearchSummary, mode: StopMode, reason: str, drain: bool = False) -> None:
        """Stop submitting; cancel every trial ("cancel") or only those not started yet ("finish").

        `drain` (the end of a time budget, "cancel"): a started trial whose engine honours its time limit is
        not cancelled but let finish, until GRACE_S seconds after its limit (see `_check_cutoffs`).
        """
        for future, running in list(self._running.items()):
            deadline = running.deadline()
            if drain and running.engine.honours_time_limit and deadline is not None:
                running.cutoff = deadline + GRACE_S
                self._draining = True
            elif mode == "cancel" or running.started is None:
                why = "cancelled before it started" if running.started is None else "cancelled"
                self._cancel(future, summary, f"{why}: {reason}")
        if mode == "finish":
            self._resumed.clear()

    def _phase_reopened(self) -> bool:
        """After the trials' phase ended: whether the reserve has since shrunk (a trial that ended as the
        phase did made candidates that refit faster than was kept, as an AutoGluon trial's often do) enough
        to start a trial again. If so the trials go on: the drain ends, those still running keep their own
        time limits."""
        if self._time_left() is None or self._too_late_to_start():
            return False
        self._draining = False
        for running in self._running.values():
            running.cutoff = None
        return True

    def _end_drain(self, summary: SearchSummary, mode: StopMode) -> None:
        """A stop request while trials finish after the time budget: "cancel" cancels them now (the run
        ends stopped), "finish" lets them run to their end (the run ends as its budget did)."""
        self._draining = False
        if mode == "cancel":
            summary.stop_mode = mode
        for future, running in list(self._running.items()):
            if mode == "cancel":
                self._cancel(future, summary, "cancelled: stopped by request")
            else:
                running.cutoff = None

    def _check_cutoffs(self, summary: SearchSummary) -> None:
        now = time.monotonic()
        for future, running in list(self._running.items()):
            if running.cutoff is not None and now > running.cutoff:
                self._cancel(future, summary, f"cancelled: still running {GRACE_S:g} s after its time limit")

    def _cancel(self, future: Any, summary: SearchSummary, error: str) -> None:
        """Cancel a trial's task and close it CANCELLED. Its code may be running on a worker: it is asked to
        stop (through its prune event) and the run waits for it to return before it ends."""
        running = self._running.get(future)
        future.cancel()
        if running is not None:
            key, held = running.spec.run_key, running.placement.workers_held
            if running.started is not None:
                self._cancelled_running[key] = (time.monotonic(), held)
                self._ask_to_stop(key)
            else:
                self._cancelled_queued[key] = held
        self._close(future, summary, "CANCELLED", error=error)

    def _ask_to_stop(self, key: str) -> None:
        from distributed import Event

        with contextlib.suppress(Exception):
            Event(prune_event_name(key), client=self.client).set()

    def _await_cancelled(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the code of cancelled trials to return on their workers."""
        end = time.monotonic() + timeout
        self._drain_reports()
        while self._cancelled_running and time.monotonic() < end:
            time.sleep(0.05)
            self._drain_reports()

    # budget ------------------------------------------------------------------------------------

    def _stop_reason(
        self, requested: StopMode | None, done: int, elapsed: float, failed: int, max_failures: int
    ) -> tuple[str, StopMode | None]:
        """Why to stop now and how ("cancel" or "finish"), or ("", None) to go on."""
        if requested is not None:
            return "stopped by request", requested
        on_stop: StopMode = self.options.on_stop
        if self.options.n_trials is not None and done >= self.options.n_trials:
            return f"{done} trials finished", on_stop
        phase = self._phase_s()
        if phase is not None and elapsed >= phase:
            return self._time_limit_reason(), on_stop
        if failed >= max_failures:
            return f"{failed} trials failed; see the trial errors with 'workbench leaderboard --trials'", "cancel"
        return "", None

    def _time_limit_reason(self) -> str:
        kept = f" ({self._reserve_s:.0f} s of it kept to finalize the winner)" if self._reserve_s >= 0.5 else ""
        stated = self.options.stated_time_limit_s or self.options.time_limit_s
        return f"time limit of {stated:g} s reached{kept}"

    def _phase_s(self) -> float | None:
        """How long the trials may run: the time limit less the reserve; None without a time limit."""
        limit = self.options.time_limit_s
        return None if limit is None else limit - self._reserve_s

    def _update_reserve(self) -> None:
        """Ask the reserve again (at the start and after every trial), at most half the limit."""
        limit = self.options.time_limit_s
        if limit is None:
            return
        if self._reserve is not None:
            self._reserve_s = min(0.5 * limit, max(0.0, float(self._reserve())))
        self._ends_at = self._wall_start + limit - self._reserve_s

    def _too_late_to_start(self) -> bool:
        """Whether too little of the time budget is left to start a trial: less than MIN_TRIAL_S (a quarter
        of the budget, if shorter)."""
        left, limit = self._time_left(), self.options.time_limit_s
        return left is not None and limit is not None and left < min(MIN_TRIAL_S, 0.25 * limit)

    def _time_left(self) -> float | None:
        """Seconds left of the time budget (negative once spent); None without one."""
        phase = self._phase_s()
        return None if phase is None else phase - (time.monotonic() - self._start)

    def _budget_spent(self, summary: SearchSummary) -> bool:
        if self.options.n_trials is not None and summary.complete + summary.pruned >= self.options.n_trials:
            return True
        return bool(self.options.time_limit_s is not None and summary.message.startswith("time limit"))

    def _finished_counts(self) -> tuple[int, int]:
        rows = records.list_trials(self.workspace.store, self.experiment.id, ("COMPLETE", "PRUNED"))
        return sum(r.state == "COMPLETE" for r in rows), sum(r.state == "PRUNED" for r in rows)

    # submission --------------------------------------------------------------------------------

    def _resume_interrupted(self) -> None:
        """Trials a dead driver left open. One that was RUNNING is closed as FAILED and its parameters run
        again as a new trial; one still QUEUED (never started) keeps its row and number and runs first."""
        store = self.workspace.store
        engines = {e.name: e for e in self.engines}
        for row in records.list_trials(store, self.experiment.id, records.ACTIVE_STATES):
            engine = engines.get(row.engine)
            if row.state == "QUEUED" and row.started_at is None and engine is not None:
                params = engine.resume(row.number, row.params)
                records.requeue_trial(store, row.id, params)
                self._resumed.append((replace(row, params=params), engine))
                continue
            records.finish_trial(store, row.id, "FAILED", error="interrupted: the driver stopped before it finished")
            if engine is not None:
                engine.requeue(row.params)

    def _next_engine(self) -> Engine:
        """An engine with a queued fixed trial (a requeued or replayed one), else, in a time budget, the
        engine with the least worker time in this run (see `_worker_time`); then the fewest finished and
        running trials; then the first listed."""
        for engine in self.engines:
            if engine.queued:
                return engine
        counts = dict(self._finished_by_engine)
        for running in self._running.values():
            counts[running.engine.name] = counts.get(running.engine.name, 0) + 1
        timed = self.options.time_limit_s is not None
        return min(self.engines, key=lambda e: (self._worker_time(e) if timed else 0.0, counts.get(e.name, 0)))

    def _worker_time(self, engine: Engine) -> float:
        """The worker-seconds `engine` has had in this run: its finished trials', and each running trial's
        time so far or, if longer, its expected duration (the engine's median trial in this run; the trial's
        time limit before any has finished). Rounded to 0.1 s, so that near ties go by trial count."""
        now = time.monotonic()
        total = sum(self._durations.get(engine.name, []))
        expected = self._expected_s(engine)
        for running in self._running.values():
            if running.engine is engine:
                so_far = now - running.started if running.started is not None else 0.0
                total += max(so_far, expected if expected is not None else running.spec.time_limit_s or 0.0)
        return round(total, 1)

    def _expected_s(self, engine: Engine) -> float | None:
        """The median duration of `engine`'s trials finished in this run; None before one has."""
        durations = sorted(self._durations.get(engine.name, []))
        return durations[len(durations) // 2] if durations else None

    def _remaining(self, done: int) -> int | None:
        """Trials still to submit for the trial budget; None without one."""
        if self.options.n_trials is None:
            return None
        return self.options.n_trials - done - len(self._running)

    def _fill(self, slots: int, done: int) -> None:
        """Start a trial on every free worker (moving there first a trial queued behind a busy one), and
        queue one more behind the trial expected to end first; until the trial budget is reached or too
        little time is left to start one."""
        if self._too_late_to_start():
            return
        left = self._time_left()
        if not self._pool.known:
            self._fill_anywhere(slots, done, left)
            return
        self._move_queued()
        while True:
            remaining = self._remaining(done)
            free = self._pool.free_count()
            to_submit = free if remaining is None else min(free, remaining)
            placement = self._pool.place(to_submit, self._whole_host) if to_submit > 0 else None
            if placement is None:
                break
            self._submit(placement)
        if self._whole_host or (left is not None and left < QUEUE_MIN_LEFT_S):
            return
        while sum(r.placement.queued for r in self._running.values()) < self.options.extra_in_flight:
            remaining = self._remaining(done)
            target = self._queue_target() if remaining is None or remaining > 0 else None
            if target is None:
                break
            self._submit(Placement(worker=target, queued=True))

    def _fill_anywhere(self, slots: int, done: int, left: float | None) -> None:
        """Without worker information: as many trials as workers, and one more queued, placed by Dask."""
        queued = left is None or left >= QUEUE_MIN_LEFT_S
        wanted = slots + (self.options.extra_in_flight if queued else 0)
        while len(self._running) < wanted:
            remaining = self._remaining(done)
            if remaining is not None and remaining <= 0:
                break
            self._submit(Placement())

    def _queue_target(self) -> str | None:
        """The worker whose trial is expected to end first (by its engine's median trial in this run), if
        that leaves time to run another and no trial is queued there yet; None when none is known."""
        taken = {r.placement.worker for r in self._running.values() if r.placement.queued}
        phase = self._phase_s()
        budget_end = self._start + phase if phase is not None else None
        best: tuple[float, str] | None = None
        for running in self._running.values():
            expected = self._expected_s(running.engine)
            if running.started is None or running.worker is None or expected is None or running.worker in taken:
                continue
            end = running.started + expected
            if budget_end is not None and budget_end - end < MIN_TRIAL_S:
                continue
            if best is None or end < best[0]:
                best = (end, running.worker)
        return best[1] if best is not None else None

    def _move_queued(self) -> None:
        """A trial queued behind a busy worker goes to a worker that is free now instead."""
        for future, running in list(self._running.items()):
            if running.started is not None or not running.placement.queued:
                continue
            placement = self._pool.place(self._pool.free_count(), self._whole_host)
            if placement is None:
                return
            future.cancel()
            self._running.pop(future)
            self._by_key.pop(running.spec.run_key, None)
            # It may have started since the last messages were read: if so, it is stopped as it says so.
            self._cancelled_queued[running.spec.run_key] = running.placement.workers_held
            self._submit_again(running, placement)

    def _resubmit(self, future: Any, summary: SearchSummary, killed_worker: bool = False) -> None:
        """Run a trial again whose result was lost with a worker: on a free worker if one is known.

        Only a trial its worker said was running (started, not ended) can have killed it: one lost that way
        more than LOST_RUNS_ALLOWED times fails (on a one-worker cluster, a trial that crashes its worker
        takes its rows with it every time), and at once after `killed_worker` (the scheduler already ran it
        again on other workers). One caught by another's crash runs again, within BYSTANDER_LOSSES_ALLOWED."""
        self._drain_reports()  # its last "started" or "ended" came before the news of the loss
        running = self._running[future]
        culprit = running.started is not None and not running.ended
        if culprit and (killed_worker or running.losses >= LOST_RUNS_ALLOWED):
            self._close(future, summary, "FAILED", error=_WORKER_DIED)
            return
        if not culprit and running.bystander_losses >= BYSTANDER_LOSSES_ALLOWED:
            self._close(future, summary, "FAILED", error=_WORKERS_KEPT_DYING)
            return
        self._running.pop(future)
        if culprit:
            running.losses += 1
        else:
            running.bystander_losses += 1
        self._by_key.pop(running.spec.run_key, None)
        self._pool.release(running.spec.key)
        self._submit_again(running, (self._pool.place(1) if self._pool.known else None) or Placement())

    def _submit_again(self, running: _Running, placement: Placement) -> None:
        """Submit `running`'s trial anew with `placement` (its row and number stay)."""
        self._data_future = self._ensure_data(self._data_future)
        spec = replace(running.spec, cpus=placement.cpus)
        self._submit_spec(
            running.trial_id,
            spec,
            running.engine,
            self._data_future,
            placement,
            running.losses,
            running.bystander_losses,
        )

    def _submit_spec(
        self,
        trial_id: int,
        spec: TrialSpec,
        engine: Engine,
        data_future: Any,
        placement: Placement,
        losses: int = 0,
        bystander_losses: int = 0,
    ) -> None:
        """Submit `spec` as a new attempt of trial row `trial_id` and track it as running."""
        resources = {"GPU": 1} if spec.needs_gpu else self._cpu_request
        self._attempt += 1
        spec = replace(spec, attempt=self._attempt)
        # Pinned loosely: should its worker be gone, the trial runs on another.
        where: dict[str, Any] = {"workers": [placement.worker], "allow_other_workers": True} if placement.worker else {}
        future = self.client.submit(
            execute_trial,
            engine.trial_function,
            spec,
            data_future,
            key=spec.run_key,
            resources=resources or None,
            pure=False,
            retries=0,
            **where,
        )
        self._running[future] = _Running(
            trial_id, engine, spec, time.monotonic(), placement, losses=losses, bystander_losses=bystander_losses
        )
        self._by_key[spec.run_key] = future
        self._pool.assign(spec.key, placement)

    def _submit(self, placement: Placement) -> None:
        self._data_future = data_future = self._ensure_data(self._data_future)
        store = self.workspace.store
        if self._resumed:
            row, engine = self._resumed.popleft()
        else:
            engine = self._next_engine()
            if engine.name not in self._next_number:
                self._next_number[engine.name] = records.next_trial_number(store, self.experiment.id, engine.name)
            number = self._next_number[engine.name]
            self._next_number[engine.name] += 1
            row = records.create_trial(store, self.experiment.id, engine.name, number, engine.ask(number))
        spec = TrialSpec(
            experiment_id=self.experiment.id,
            engine=engine.name,
            number=row.number,
            params=row.params,
            seed=self.options.seed + row.number,
            time_limit_s=self._trial_time_limit(),
            needs_gpu=engine.needs_gpu(row.params),
            run_id=self.run_id,
            ends_at=self._ends_at,
            cpus=placement.cpus,
        )
        self._submit_spec(row.id, spec, engine, data_future, placement)
        self.bus.publish("trial_queued", self.experiment.id, engine=engine.name, number=row.number, params=row.params)

    def _trial_time_limit(self) -> float | None:
        """What is left of the time budget, at least MIN_TRIAL_S; None without a time budget."""
        left = self._time_left()
        return None if left is None else max(MIN_TRIAL_S, left)

    def _cluster_resources(self) -> dict[str, Any]:
        info = (
            self.client.scheduler_info(n_workers=-1)
            if _accepts_n_workers(self.client)
            else self.client.scheduler_info()
        )
        workers = info.get("workers", {})
        self._pool.update(worker_slots(workers))
        cpu_per_worker = [w.get("resources", {}).get("CPU") for w in workers.values()]
        advertised = [c for c in cpu_per_worker if c]
        # One trial per worker: it asks for the whole CPU allotment of the smallest worker.
        self._cpu_request = {"CPU": float(min(advertised))} if advertised else {}
        slots = len(workers)
        gpus = sum(int(w.get("resources", {}).get("GPU", 0)) for w in workers.values())
        threads = sum(int(w.get("nthreads", 0)) for w in workers.values())
        return {"workers": len(workers), "threads": threads, "gpus": gpus, "slots": slots}

    def _scatter_data(self) -> Any:
        data = self._data
        if data is None:
            data = self._data = self.workspace.rows(self.experiment)
        # Right after the last worker was lost (a trial that crashed it, run again on the other one) the
        # cluster may be empty until a nanny brings one back: the scheduler refuses to scatter to no worker.
        try:
            self.client.wait_for_workers(1, timeout=WORKER_RETURN_S)
        except TimeoutError:
            raise RuntimeError(
                f"No worker has been on the cluster for {WORKER_RETURN_S:.0f} s: every worker was lost and none"
                " came back. Check the workers' memory and logs, then resume the search."
            ) from None
        return self.client.scatter(data, broadcast=True, hash=False)

    def _ensure_data(self, data_future: Any) -> Any:
        if data_future.status in ("lost", "error", "cancelled"):
            return self._scatter_data()
        return data_future

    # reports and timeouts ----------------------------------------------------------------------

    def _drain_reports(self) -> None:
        """Handle the workers' messages received since the last call (pushed by the scheduler)."""
        items = []
        while self._inbox:
            items.append(self._inbox.popleft()[1])
        for item in items or []:
            kind, key = item[0], item[1]
            if kind == "ended":
                self._cancelled_ended(key)
            future = self._by_key.get(key)
            running = self._running.get(future) if future is not None else None
            if running is None:
                if kind == "started" and key in self._cancelled_queued:  # it started as it was cancelled
                    self._cancelled_running[key] = (time.monotonic(), self._cancelled_queued.pop(key))
                    self._ask_to_stop(key)
                continue
            if kind == "ended":
                running.ended = True
            elif kind == "started":
                running.started = time.monotonic()
                running.ended = False
                running.worker = item[2]
                running.limit_s = float(item[4]) if len(item) > 4 and item[4] is not None else None
                self._pool.started(key, item[2])
                if self._pool.known and not self._pool.knows(item[2]):  # a worker restarted or joined
                    self._cluster_resources()
                records.start_trial(self.workspace.store, running.trial_id, item[2])
                self.bus.publish(
                    "trial_started",
                    self.experiment.id,
                    engine=running.engine.name,
                    number=running.spec.number,
                    worker=item[2],
                )
            elif kind == "report":
                step, value = int(item[2]), float(item[3])
                running.reports.append((step, value))
                self.bus.publish(
                    "trial_reported",
                    self.experiment.id,
                    engine=running.engine.name,
                    number=running.spec.number,
                    step=step,
                    value=value,
                )
                if running.engine.on_report(running.spec.number, step, value):
                    from distributed import Event

                    Event(prune_event_name(key), client=self.client).set()

    def _cancelled_ended(self, key: str) -> None:
        """A cancelled trial's code returned: its worker is free; the time it ran on after the cancel is waste."""
        self._cancelled_queued.pop(key, None)
        cancelled = self._cancelled_running.pop(key, None)
        if cancelled is not None:
            seconds = (time.monotonic() - cancelled[0]) * cancelled[1]
            self._summary.trial_s += seconds
            self._summary.wasted_s += seconds

    def _check_timeouts(self, summary: SearchSummary) -> None:
        limit = self.options.trial_timeout_s
        now = time.monotonic()
        for future, running in list(self._running.items()):
            if running.started is not None and now - running.started > limit:
                self._close(future, summary, "FAILED", error=f"timed out after {limit:g} s")
                future.cancel()
                if running.worker:
                    self._restart_worker(running.worker)

    def _restart_worker(self, address: str) -> None:
        """A timed-out trial may still hold its worker's thread: restart that worker (via its nanny)."""

        def restart() -> None:
            # Best effort: a worker without a nanny cannot be restarted and keeps the stuck thread. A stuck
            # thread never lets the worker close gracefully, so the nanny is told to kill it quickly.
            with contextlib.suppress(Exception):
                self.client.restart_workers([address], timeout=RESTART_TIMEOUT_S, raise_for_error=False)

        threading.Thread(target=restart, name=f"restart-{address}", daemon=True).start()

    def _cancel_all(self, summary: SearchSummary, reason: str) -> None:
        for future in list(self._running):
            self._cancel(future, summary, f"cancelled: {reason}")

    # results -----------------------------------------------------------------------------------

    def _gather(self, futures: list[Any]) -> dict[str, TrialResult]:
        """Results of finished trials in one round trip (one fetch per trial costs ~20 ms at scale)."""
        if len(futures) < 2:
            return {}
        try:
            results = self.client.gather(futures, errors="raise")
        except Exception:  # a result was lost with its worker: fetch (or resubmit) one by one
            return {}
        return {f.key: r for f, r in zip(futures, results, strict=True)}

    def _finish(self, future: Any, summary: SearchSummary, prefetched: TrialResult | None = None) -> None:
        running = self._running.get(future)
        if running is None:
            return
        if future.status == "finished":
            try:
                result: TrialResult = prefetched if prefetched is not None else future.result()
            except CancelledError:  # its result died with its worker before we fetched it: run it again
                self._resubmit(future, summary)
                return
            except Exception as exc:
                self._close(future, summary, "FAILED", error=_describe(exc))
                return
            if result.status == "pruned":
                self._close(future, summary, "PRUNED", result=result)
            else:
                self._close(future, summary, "COMPLETE", result=result)
        elif future.status == "cancelled":
            # Not cancelled by us (we pop a trial before cancelling it): Dask dropped it because every
            # worker holding its input data died. The trial did not fail: run it again.
            self._resubmit(future, summary)
        else:
            error = future.exception()
            if type(error).__name__ == "KilledWorker":
                # Dask counts a death against every task a dying worker held, queued ones too: whether this
                # trial was the one running there decides whether it fails or runs again.
                self._resubmit(future, summary, killed_worker=True)
                return
            self._close(future, summary, "FAILED", error=_describe(error))

    def _close(
        self,
        future: Any,
        summary: SearchSummary,
        state: str,
        result: TrialResult | None = None,
        error: str | None = None,
    ) -> None:
        running = self._running.pop(future, None)
        if running is None:
            return
        self._by_key.pop(running.spec.run_key, None)
        self._pool.release(running.spec.key)
        self._count_seconds(summary, running, state, result)
        store = self.workspace.store
        candidates = self._store_candidates(running, result) if result is not None and state == "COMPLETE" else []
        values = list(result.values) if result is not None and result.values else None
        worker = result.worker if result is not None and result.worker else None
        started_at = time.time() - result.duration_s if result is not None and worker else None
        if not records.finish_trial(store, running.trial_id, state, values, error, candidates, worker, started_at):
            return
        running.engine.tell(running.spec.number, state, values)
        if state in ("COMPLETE", "PRUNED"):
            name = running.engine.name
            self._finished_by_engine[name] = self._finished_by_engine.get(name, 0) + 1
            if result is not None and result.duration_s > 0:
                self._durations.setdefault(name, []).append(result.duration_s)
        counter = {"COMPLETE": "complete", "PRUNED": "pruned", "FAILED": "failed", "CANCELLED": "cancelled"}[state]
        setattr(summary, counter, getattr(summary, counter) + 1)
        base = {"engine": running.engine.name, "number": running.spec.number, "state": state}
        if state in ("FAILED", "CANCELLED"):
            self.bus.publish("trial_failed", self.experiment.id, **base, error=error)
        else:
            best_valid = max((c["valid_score"] for c in candidates), default=None, key=self._sort_key)
            self.bus.publish(
                "trial_finished",
                self.experiment.id,
                **base,
                values=values,
                duration_s=round(result.duration_s, 3) if result else None,
                candidates=len(candidates),
                best_valid=best_valid,
                worker=result.worker if result else None,
            )
            self._update_best(candidates)
        future.release()

    @staticmethod
    def _count_seconds(summary: SearchSummary, running: _Running, state: str, result: TrialResult | None) -> None:
        """Add the trial's worker-seconds to the summary: measured on its worker when it returned, else from
        when it said it started; times the workers it held."""
        if result is not None and result.duration_s > 0:
            seconds = result.duration_s
        elif running.started is not None:
            seconds = time.monotonic() - running.started
        else:
            seconds = 0.0
        seconds *= running.placement.workers_held
        summary.trial_s += seconds
        if state in ("FAILED", "CANCELLED"):
            summary.wasted_s += seconds

    def _sort_key(self, score: float | None) -> float:
        if score is None or not np.isfinite(score):
            return -np.inf
        return score if self._metric.greater_is_better else -score

    def _update_best(self, candidates: list[dict[str, Any]]) -> None:
        for c in candidates:
            if self._best is None or self._sort_key(c["valid_score"]) > self._sort_key(self._best["valid_score"]):
                self._best = {k: c[k] for k in ("engine", "name", "model_type", "valid_score", "test_score")}
                self.bus.publish("best", self.experiment.id, **self._best)
        # After every trial, not only a new best: the reserve counts the few best candidates and an
        # AutoGluon trial still to end.
        self._update_reserve()

    def _best_so_far(self) -> dict[str, Any] | None:
        best: dict[str, Any] | None = None
        for c in records.list_candidates(self.workspace.store, self.experiment.id):
            if best is None or self._sort_key(c.valid_score) > self._sort_key(best["valid_score"]):
                best = {
                    "engine": c.engine,
                    "name": c.name,
                    "model_type": c.model_type,
                    "valid_score": c.valid_score,
                    "test_score": c.test_score,
                }
        return best

    def _store_candidates(self, running: _Running, result: TrialResult) -> list[dict[str, Any]]:
        """Write the trial's artifacts (atomically, checksummed) and return its candidate rows."""
        store = self.workspace.store
        spec = running.spec
        keys: dict[str, str] = {}
        for name, blob in result.artifacts.items():
            digest = hashlib.sha256(blob).hexdigest()[:12]
            key = f"experiments/{spec.experiment_id}/{spec.engine}-{spec.number}-{digest}/{name}"
            keys[name] = store.put_artifact(key, blob).key
        rows = []
        for c in result.candidates:
            buffer = io.BytesIO()
            np.savez(buffer, valid=np.asarray(c.valid_pred), test=np.asarray(c.test_pred))
            blob = buffer.getvalue()
            digest = hashlib.sha256(blob).hexdigest()[:12]
            safe = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in c.name)
            predictions = store.put_artifact(
                f"experiments/{spec.experiment_id}/predictions/{spec.engine}-{spec.number}-{safe}-{digest}.npz", blob
            )
            rows.append(
                {
                    "engine": spec.engine,
                    "name": f"{spec.engine}-{spec.number}-{c.name}",
                    "model_type": c.model_type,
                    "valid_score": _finite(c.valid_score),
                    "test_score": _finite(c.test_score),
                    "fit_time_s": c.fit_time_s,
                    "predict_row_ms": c.predict_row_ms,
                    "predict_batch_ms": c.predict_batch_ms,
                    "size_bytes": c.size_bytes,
                    "params": c.params,
                    "artifact_key": keys.get(c.artifact),
                    "model_in_artifact": c.model_in_artifact,
                    "predictions_key": predictions.key,
                    "calibration": c.calibration,
                }
            )
        return rows


def _wait_first(wait: Any, futures: list[Any], timeout: float) -> list[Any]:
    """The futures done within `timeout` seconds (at least one unless the time ran out)."""
    from distributed.client import FuturesCancelledError

    try:
        done, _ = wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    except (asyncio.CancelledError, FuturesCancelledError):  # an input was lost: look at each future
        return [f for f in futures if f.status != "pending"]
    return list(done)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _accepts_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


_WORKER_DIED = (
    "its worker died each time it ran the trial (crash, os._exit or out of memory); "
    "it was not run again after the allowed failures"
)
_WORKERS_KEPT_DYING = (
    f"it was lost {BYSTANDER_LOSSES_ALLOWED + 1} times with workers that died while it waited to run (other "
    "trials crashing them, out of memory, or workers stopped from outside): check the workers' logs and memory"
)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "failed"
    name = type(exc).__name__
    if name == "KilledWorker":
        return _WORKER_DIED
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    return text[:500]
