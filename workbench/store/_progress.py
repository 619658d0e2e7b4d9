"""A search's progress, computed from the store in one query: what a monitor polls."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench._json import to_jsonable

if TYPE_CHECKING:
    from workbench.store._store import Store

__all__ = ["SearchProgress", "search_progress"]


# An experiment's statuses once its trials have ended; its search job may still be running then (the ensemble
# step, finalize, the cluster closing).
TRIALS_ENDED = ("finished", "stopped", "failed", "interrupted")


@dataclass(frozen=True)
class SearchProgress:
    """Where a search stands.

    done: finished trials (complete + pruned), earlier runs included; target: the trials the current run
    aims for (None without a trial budget). best_*: the best candidate by valid score so far. elapsed_s and
    time_left_s: of the current run (time_left_s None without a time limit; 0 once it ran out or ended).
    job_status: the current run's job (None before any run).
    """

    experiment_id: int
    status: str
    metric: str
    done: int
    target: int | None
    complete: int
    pruned: int
    failed: int
    cancelled: int
    running: int
    queued: int
    best_candidate_id: int | None
    best_name: str | None
    best_engine: str | None
    best_score: float | None
    job_id: int | None
    job_status: str | None
    started_at: float | None
    finished_at: float | None
    elapsed_s: float | None
    time_limit_s: float | None
    time_left_s: float | None
    stop_requested: str | None

    @property
    def trials_left(self) -> int | None:
        return None if self.target is None else max(0, self.target - self.done)

    @property
    def active(self) -> bool:
        return self.job_status in ("starting", "running")

    @property
    def shown_status(self) -> str:
        """The status to show a person: the experiment's, and ", wrapping up" after it while the search's job
        still runs once the trials have ended (which is why it can still be stopped)."""
        return f"{self.status}, wrapping up" if self.active and self.status in TRIALS_ENDED else self.status

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["trials_left"] = self.trials_left
        data["shown_status"] = self.shown_status
        return data


_QUERY = """
WITH counts AS (
    SELECT
        COALESCE(SUM(state = 'COMPLETE'), 0) AS complete,
        COALESCE(SUM(state = 'PRUNED'), 0) AS pruned,
        COALESCE(SUM(state = 'FAILED'), 0) AS failed,
        COALESCE(SUM(state = 'CANCELLED'), 0) AS cancelled,
        COALESCE(SUM(state = 'RUNNING'), 0) AS running,
        COALESCE(SUM(state = 'QUEUED'), 0) AS queued
    FROM trials WHERE experiment_id = :experiment
),
best AS (
    SELECT id, name, engine, valid_score FROM candidates
    WHERE experiment_id = :experiment AND valid_score IS NOT NULL
    ORDER BY valid_score * :sign DESC, id LIMIT 1
),
job AS (
    SELECT id, status, params_json, started_at, finished_at, stop_mode FROM jobs
    WHERE experiment_id = :experiment AND kind = 'search' ORDER BY id DESC LIMIT 1
)
SELECT e.status AS status, e.metric AS metric, e.spec_json AS spec_json, counts.*,
    best.id AS best_id, best.name AS best_name, best.engine AS best_engine, best.valid_score AS best_score,
    job.id AS job_id, job.status AS job_status, job.params_json AS job_params, job.started_at AS started_at,
    job.finished_at AS finished_at, job.stop_mode AS stop_mode
FROM experiments e CROSS JOIN counts LEFT JOIN best LEFT JOIN job
WHERE e.id = :experiment
"""


def search_progress(store: Store, experiment_id: int, greater_is_better: bool) -> SearchProgress | None:
    """The experiment's progress (None when there is no such experiment)."""
    row = store.conn.execute(_QUERY, {"experiment": experiment_id, "sign": 1 if greater_is_better else -1}).fetchone()
    if row is None:
        return None
    spec = json.loads(row["spec_json"])
    budget = dict(spec.get("budget") or {})
    if row["job_params"]:
        budget.update({k: v for k, v in (json.loads(row["job_params"]).get("budget") or {}).items() if v is not None})
    target = budget.get("n_trials")
    limit = budget.get("time_limit_s")
    started, finished = row["started_at"], row["finished_at"]
    elapsed = None if started is None else (finished or time.time()) - started
    ended = row["job_status"] not in ("starting", "running")
    time_left = None
    if limit is not None:
        time_left = 0.0 if ended and started is not None else max(0.0, float(limit) - (elapsed or 0.0))
    complete, pruned = int(row["complete"]), int(row["pruned"])
    return SearchProgress(
        experiment_id=experiment_id,
        status=row["status"],
        metric=row["metric"],
        done=complete + pruned,
        target=int(target) if target is not None else None,
        complete=complete,
        pruned=pruned,
        failed=int(row["failed"]),
        cancelled=int(row["cancelled"]),
        running=int(row["running"]),
        queued=int(row["queued"]),
        best_candidate_id=row["best_id"],
        best_name=row["best_name"],
        best_engine=row["best_engine"],
        best_score=row["best_score"],
        job_id=row["job_id"],
        job_status=row["job_status"],
        started_at=started,
        finished_at=finished,
        elapsed_s=elapsed,
        time_limit_s=float(limit) if limit is not None else None,
        time_left_s=time_left,
        stop_requested=row["stop_mode"],
    )
