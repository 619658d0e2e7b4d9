"""What comparisons are computed from: every model's stored predictions on the experiment's fixed rows.

Candidates (both engines) and ensembles are all "models" here: each has predictions on the same valid
and test rows, scores, latency and size. Nothing is refitted or re-predicted to compare them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from workbench.metrics import get_metric
from workbench.search._protocol import TrialData
from workbench.store import Experiment, Workspace
from workbench.store import trials as records

__all__ = ["ComparisonData", "ModelPredictions", "load_comparison", "read_predictions"]


@dataclass(frozen=True)
class ModelPredictions:
    """One model (candidate or ensemble) and its predictions on the valid and test rows.

    Predictions are class probabilities, (n, k) in `ComparisonData.classes` order, for classification,
    and values for regression.
    """

    id: int
    kind: Literal["candidate", "ensemble"]
    name: str
    engine: str  # autogluon | optuna | workbench (ensembles built here)
    model_type: str
    valid: np.ndarray
    test: np.ndarray
    valid_score: float | None
    test_score: float | None
    predict_row_ms: float | None
    predict_batch_ms: float | None
    size_bytes: int | None
    fit_time_s: float | None
    trial_number: int | None = None
    created_at: float = 0.0

    @property
    def key(self) -> str:
        """Unique across candidates and ensembles: 'c12' or 'e3'."""
        return f"{self.kind[0]}{self.id}"


@dataclass(frozen=True)
class ComparisonData:
    experiment: Experiment
    problem_type: str
    metric: str
    greater_is_better: bool
    classes: tuple[Any, ...] | None
    y_valid: np.ndarray
    y_test: np.ndarray
    models: tuple[ModelPredictions, ...]
    trials: tuple[records.TrialRow, ...]

    @classmethod
    def from_rows(
        cls,
        experiment: Experiment,
        rows: TrialData,
        models: Sequence[ModelPredictions],
        trials: Sequence[records.TrialRow] = (),
    ) -> ComparisonData:
        """Derive the problem type, metric, direction, classes and targets from the experiment's rows."""
        return cls(
            experiment=experiment,
            problem_type=experiment.problem_type,
            metric=experiment.metric,
            greater_is_better=get_metric(experiment.metric, experiment.problem_type).greater_is_better,
            classes=rows.classes,
            y_valid=rows.y_valid,
            y_test=rows.y_test,
            models=tuple(models),
            trials=tuple(trials),
        )

    def model(self, name_or_key: str) -> ModelPredictions:
        for m in self.models:
            if name_or_key in (m.name, m.key):
                return m
        raise KeyError(name_or_key)

    def candidates(self) -> list[ModelPredictions]:
        return [m for m in self.models if m.kind == "candidate"]

    def ranked(self) -> list[ModelPredictions]:
        """Best valid score first; models without a score last."""

        def key(m: ModelPredictions) -> float:
            if m.valid_score is None or not np.isfinite(m.valid_score):
                return np.inf
            return -m.valid_score if self.greater_is_better else m.valid_score

        return sorted(self.models, key=lambda m: (key(m), m.key))


def read_predictions(workspace: Workspace, key: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(io.BytesIO(workspace.store.read_artifact(key)), allow_pickle=False) as arrays:
        return arrays["valid"], arrays["test"]


def load_comparison(workspace: Workspace, experiment: Experiment) -> ComparisonData:
    """Every candidate and saved ensemble of `experiment` with its stored predictions."""
    from workbench.search.families import trial_data

    data = trial_data(workspace, experiment)
    trials = tuple(records.list_trials(workspace.store, experiment.id))
    numbers = {t.id: t.number for t in trials}
    models: list[ModelPredictions] = []
    for c in records.list_candidates(workspace.store, experiment.id):
        if not c.predictions_key:
            continue
        valid, test = read_predictions(workspace, c.predictions_key)
        models.append(
            ModelPredictions(
                id=c.id,
                kind="candidate",
                name=c.name,
                engine=c.engine,
                model_type=c.model_type,
                valid=valid,
                test=test,
                valid_score=c.valid_score,
                test_score=c.test_score,
                predict_row_ms=c.predict_row_ms,
                predict_batch_ms=c.predict_batch_ms,
                size_bytes=c.size_bytes,
                fit_time_s=c.fit_time_s,
                trial_number=numbers.get(c.trial_id) if c.trial_id is not None else None,
                created_at=c.created_at,
            )
        )
    for row in workspace.store.conn.execute(
        "SELECT * FROM ensembles WHERE experiment_id = ? ORDER BY id", (experiment.id,)
    ).fetchall():
        members = json.loads(row["members_json"])
        if not members.get("predictions_key"):
            continue
        valid, test = read_predictions(workspace, members["predictions_key"])
        models.append(
            ModelPredictions(
                id=row["id"],
                kind="ensemble",
                name=members.get("name", f"ensemble-{row['id']}"),
                engine="workbench",
                model_type=f"ensemble:{row['method']}",
                valid=valid,
                test=test,
                valid_score=row["valid_score"],
                test_score=row["test_score"],
                predict_row_ms=row["predict_row_ms"],
                predict_batch_ms=row["predict_batch_ms"],
                size_bytes=row["size_bytes"],
                fit_time_s=None,
                created_at=row["created_at"],
            )
        )
    return ComparisonData.from_rows(experiment, data, models, trials)
