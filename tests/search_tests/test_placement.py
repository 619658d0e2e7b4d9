"""The driver's bookkeeping of workers: which trial holds which worker, and the idle cores one may borrow."""

from __future__ import annotations

import time

import pytest

from workbench.search._placement import Placement, WorkerPool, WorkerSlot, worker_slots
from workbench.search._protocol import MIN_TRIAL_S, TrialSpec, WorkerResources
from workbench.search._worker import trial_resources

A, B, C = "tcp://h1:1", "tcp://h1:2", "tcp://h2:1"
TWO = [WorkerSlot(A, "h1", 1), WorkerSlot(B, "h1", 1)]


def test_fewer_trials_than_idle_workers_borrow_their_cores() -> None:
    pool = WorkerPool(TWO)
    placement = pool.place(to_submit=1)
    assert placement == Placement(worker=A, cpus=2, lent=(B,)) and placement.workers_held == 2
    pool.assign("t0", placement)
    assert pool.free_count() == 0 and pool.place(to_submit=1) is None  # every worker is held: wait
    pool.release("t0")
    assert pool.free_count() == 2 and pool.place(to_submit=1) == placement


def test_as_many_trials_as_workers_each_get_a_free_worker() -> None:
    pool = WorkerPool(TWO)
    first = pool.place(to_submit=2)
    assert first == Placement(worker=A)
    pool.assign("t0", first)
    second = pool.place(to_submit=1)
    assert second == Placement(worker=B)  # one free worker for one trial: nothing to borrow
    pool.assign("t1", second)
    assert pool.place(to_submit=1) is None
    pool.assign("t2", Placement(worker=A, queued=True))  # queued behind t0
    pool.release("t0")
    assert pool.place(to_submit=1) is None  # A is t2's now


def test_whole_host_engines_take_every_idle_worker_of_a_host() -> None:
    pool = WorkerPool([*TWO, WorkerSlot(C, "h2", 4)])
    first = pool.place(to_submit=5, whole_host=True)
    assert first == Placement(worker=A, cpus=2, lent=(B,))
    pool.assign("t0", first)
    second = pool.place(to_submit=5, whole_host=True)
    assert second == Placement(worker=C)  # the other host's only worker, pinned while workers are lent
    pool.assign("t1", second)
    assert pool.place(to_submit=5, whole_host=True) is None


def test_a_pinned_trial_that_ran_elsewhere_frees_its_pin() -> None:
    pool = WorkerPool([*TWO, WorkerSlot(C, "h1", 1)])
    lease = pool.place(to_submit=1)
    assert lease == Placement(worker=A, cpus=3, lent=(B, C))
    pool.assign("t0", lease)
    pool.started("t0", "tcp://h1:9")  # its worker died and Dask ran it on a new one
    assert pool.place(to_submit=1) == Placement(worker=A)


def test_gpu_clusters_and_unknown_clusters_place_nothing() -> None:
    info = {
        A: {"host": "h1", "nthreads": 2, "resources": {"GPU": 1, "CPU": 2}},
        B: {"host": "h1", "nthreads": 2, "resources": {"CPU": 2}},
    }
    assert worker_slots(info) == []
    assert WorkerPool([]).place(to_submit=1) == Placement() and not WorkerPool([]).known
    plain = worker_slots({A: {"host": "h1", "nthreads": 3}, B: {"host": "h1", "resources": {"CPU": 1}}})
    assert plain == [WorkerSlot(A, "h1", 3), WorkerSlot(B, "h1", 1)]


def test_a_trial_starts_with_what_is_left_of_the_budget() -> None:
    spec = TrialSpec(1, "fn", 0, {}, 0, time_limit_s=30.0, ends_at=1000.0)
    assert spec.limit_at_start(now=980.0) == pytest.approx(20.0)  # it waited 10 s in a queue
    assert spec.limit_at_start(now=999.0) == MIN_TRIAL_S  # never less than the floor
    assert TrialSpec(1, "fn", 0, {}, 0, time_limit_s=30.0).limit_at_start(now=5e9) == 30.0
    assert TrialSpec(1, "fn", 0, {}, 0).limit_at_start() is None


def test_trial_resources_carry_the_lent_cores_and_the_deadline() -> None:
    spec = TrialSpec(1, "fn", 0, {}, 0, time_limit_s=60.0, cpus=2)
    resources = trial_resources(spec, WorkerResources(cpus=1, address="tcp://w:1"))
    assert resources.cpus == 2 and resources.address == "tcp://w:1"
    left = resources.time_left()
    assert left is not None and 59.0 < left <= 60.0 and not resources.out_of_time()
    assert trial_resources(TrialSpec(1, "fn", 0, {}, 0), WorkerResources(cpus=1)).deadline is None
    assert WorkerResources(cpus=1, deadline=time.monotonic() - 1).out_of_time()
