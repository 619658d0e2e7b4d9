"""The leaderboard: every candidate of an experiment, both engines together, best first."""

from __future__ import annotations

import math
from typing import Any

from workbench.metrics import get_metric
from workbench.store import Experiment, Workspace
from workbench.store import trials as records

__all__ = ["leaderboard", "trial_table"]


def leaderboard(workspace: Workspace, experiment: Experiment) -> list[dict[str, Any]]:
    """Candidates ranked by valid score in the metric's direction; rebuilt from the store alone."""
    metric = get_metric(experiment.metric, experiment.problem_type)
    numbers = {t.id: t.number for t in records.list_trials(workspace.store, experiment.id)}

    def key(score: float | None) -> float:
        if score is None or not math.isfinite(score):
            return math.inf
        return -score if metric.greater_is_better else score

    rows = sorted(records.list_candidates(workspace.store, experiment.id), key=lambda c: (key(c.valid_score), c.id))
    return [
        {
            "rank": rank,
            "candidate_id": c.id,
            "name": c.name,
            "engine": c.engine,
            "model_type": c.model_type,
            "trial": numbers.get(c.trial_id) if c.trial_id is not None else None,
            "metric": experiment.metric,
            "valid_score": c.valid_score,
            "test_score": c.test_score,
            "fit_time_s": c.fit_time_s,
            "predict_row_ms": c.predict_row_ms,
            "predict_batch_ms": c.predict_batch_ms,
            "size_bytes": c.size_bytes,
            "artifact_key": c.artifact_key,
        }
        for rank, c in enumerate(rows, start=1)
    ]


def trial_table(workspace: Workspace, experiment: Experiment) -> list[dict[str, Any]]:
    return [
        {
            "engine": t.engine,
            "number": t.number,
            "state": t.state,
            "values": t.values,
            "worker": t.worker,
            "attempts": t.attempts,
            "error": t.error,
            "duration_s": (t.finished_at - t.started_at) if t.finished_at and t.started_at else None,
            "params": t.params,
        }
        for t in records.list_trials(workspace.store, experiment.id)
    ]
