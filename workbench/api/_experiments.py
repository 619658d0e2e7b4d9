"""Experiments: create (target, problem type, metric, split, budget), list, show, delete; their trials."""

from __future__ import annotations

from typing import Any

from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.data import SplitSpec
from workbench.store import Budget, Experiment, ExperimentSpec, TrialRow
from workbench.store import trials as trial_rows

__all__ = [
    "create_experiment",
    "delete_experiment",
    "list_experiments",
    "list_trials",
    "sample_rows",
    "show_experiment",
]


def create_experiment(
    dataset: str,
    *,
    target: str | None = None,
    problem_type: str | None = None,
    metric: str | None = None,
    split: SplitSpec | None = None,
    budget: Budget | None = None,
    name: str | None = None,
    workspace: WorkspaceLike = None,
) -> Experiment:
    """A new experiment: the dataset's rows split once (seeded, stratified, grouped or time-ordered) and
    stored with their hash, the metric every candidate is scored with, and a default search budget.

    `target`, `problem_type` and `metric` default to the dataset's own or are inferred from the target.
    """
    spec = ExperimentSpec(
        dataset=dataset,
        target=target,
        problem_type=problem_type,
        metric=metric,
        split=split or SplitSpec(),
        budget=budget or Budget(),
        name=name,
    )
    return resolve_workspace(workspace).create_experiment(spec)


def list_experiments(*, workspace: WorkspaceLike = None) -> list[Experiment]:
    """Every experiment, oldest first, with its dataset, target, metric, split and status."""
    return resolve_workspace(workspace).experiments()


def show_experiment(experiment_id: int, *, workspace: WorkspaceLike = None) -> Experiment:
    """One experiment: dataset hash, target, metric, split (sizes, hash) and budget."""
    return resolve_workspace(workspace).experiment(experiment_id)


def delete_experiment(experiment_id: int, *, workspace: WorkspaceLike = None) -> Experiment:
    """Delete an experiment with its trials, candidates, ensembles, events, jobs and artifacts (refused
    while a search of it runs). Registered versions made from it stay."""
    return resolve_workspace(workspace).delete_experiment(experiment_id)


def list_trials(experiment_id: int, *, workspace: WorkspaceLike = None) -> list[TrialRow]:
    """Every trial of the experiment (both engines), oldest first, with state, values, worker and error."""
    ws = resolve_workspace(workspace)
    return trial_rows.list_trials(ws.store, ws.experiment(experiment_id).id)


def sample_rows(
    experiment_id: int, n: int = 2, *, part: str = "test", workspace: WorkspaceLike = None
) -> list[dict[str, Any]]:
    """`n` real feature rows of the experiment's test (or valid) part, as JSON records: what an example
    request to a served model of it looks like."""
    import json

    from workbench.errors import InvalidInputError

    if part not in ("test", "valid"):
        raise InvalidInputError(f"Unknown part {part!r}; use 'test' or 'valid'.")
    ws = resolve_workspace(workspace)
    rows = ws.rows(ws.experiment(experiment_id))
    frame = (rows.X_test if part == "test" else rows.X_valid).head(max(1, int(n)))
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return records
