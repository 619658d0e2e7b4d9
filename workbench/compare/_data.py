"""What comparisons are computed from: every model's stored predictions on the experiment's fixed rows.

Candidates (both engines) and ensembles are all "models" here: each has predictions on the same valid
and test rows, scores, latency and size. Nothing is refitted or re-predicted to compare them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from workbench.metrics import get_metric
from workbench.model import Calibration
from workbench.store import Experiment, ExperimentTargets, FinalRow, Store, Workspace, final_note, how_made
from workbench.store import ensembles as ensemble_rows
from workbench.store import finals as final_rows
from workbench.store import trials as records

__all__ = ["ComparisonData", "ModelPredictions", "calibration_note", "load_comparison", "read_predictions"]


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
    artifact_key: str | None = None  # the candidate's model artifact (members sharing one count it once)
    artifact_size: int | None = None
    trained_on: str = "train"  # the rows of its final, if it was finalized: "all: 344 rows" (`trained_on_text`)
    calibration: str = ""  # a candidate's kept calibration: "calibrated T=1.31"

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
        rows: ExperimentTargets,
        models: Sequence[ModelPredictions],
        trials: Sequence[records.TrialRow] = (),
    ) -> ComparisonData:
        """Derive the problem type, metric, direction, classes and targets from the experiment and its
        targets (a `TrialData` serves too)."""
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
        """Best valid score first, with the one ranking of the leaderboard; models without a score last."""
        from workbench.compare._leaderboard import ranking_key

        return sorted(self.models, key=lambda m: ranking_key(m.valid_score, m.kind, m.id, self.greater_is_better))


def read_predictions(workspace: Workspace, key: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(io.BytesIO(workspace.store.read_artifact(key)), allow_pickle=False) as arrays:
        return arrays["valid"], arrays["test"]


def final_modes(store: Store, experiment_id: int) -> dict[int, dict[str, FinalRow]]:
    """Candidate id -> {finalize mode: final} of the experiment's finals."""
    finals: dict[int, dict[str, FinalRow]] = {}
    for final in final_rows.list_finals(store, experiment_id):
        finals.setdefault(final.candidate_id, {})[final.mode] = final
    return finals


def calibration_note(calibration: dict[str, Any] | None) -> str:
    """A candidate's stored calibration decision as a table note ("calibrated T=1.31"), "" when none was kept."""
    return "" if calibration is None else Calibration.from_dict(calibration).note()


def trained_on_text(finals: dict[int, dict[str, FinalRow]], candidate_ids: list[int]) -> str:
    """What a model was fitted on: "all: N rows" (or "train+valid: N rows") when every one of its
    candidates has such a final, else "train"; then how, when not one refit each: "all: 344 rows, 5 seeds
    averaged" or "..., bagged over 4 folds"."""
    for mode in ("all", "train+valid"):
        per_candidate = [finals.get(c, {}).get(mode) for c in candidate_ids]
        found = [f for f in per_candidate if f is not None]
        if candidate_ids and len(found) == len(per_candidate):
            return f"{mode}: {max(f.rows for f in found)} rows{final_note(how_made(found))}"
    return "train"


def load_comparison(workspace: Workspace, experiment: Experiment) -> ComparisonData:
    """Every candidate and saved ensemble of `experiment` with its stored predictions. Reads the store and
    its artifacts only: the dataset is not loaded."""
    store = workspace.store
    trials = tuple(records.list_trials(store, experiment.id))
    numbers = {t.id: t.number for t in trials}
    finals = final_modes(store, experiment.id)
    models: list[ModelPredictions] = []
    for c in records.list_candidates(store, experiment.id):
        if not c.predictions_key:
            continue
        valid, test = read_predictions(workspace, c.predictions_key)
        ref = store.get_artifact(c.artifact_key) if c.artifact_key else None
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
                artifact_key=c.artifact_key,
                artifact_size=ref.size if ref else c.size_bytes,
                trained_on=trained_on_text(finals, [c.id]),
                calibration=calibration_note(c.calibration),
            )
        )
    for e in ensemble_rows.list_ensembles(store, experiment.id):
        key = e.spec.get("predictions_key")
        if not key:
            continue
        valid, test = read_predictions(workspace, key)
        models.append(
            ModelPredictions(
                id=e.id,
                kind="ensemble",
                name=e.name,
                engine="workbench",
                model_type=f"ensemble:{e.method}",
                valid=valid,
                test=test,
                valid_score=e.valid_score,
                test_score=e.test_score,
                predict_row_ms=e.predict_row_ms,
                predict_batch_ms=e.predict_batch_ms,
                size_bytes=e.size_bytes,
                fit_time_s=None,
                created_at=e.created_at,
                trained_on=trained_on_text(finals, [int(m["candidate_id"]) for m in e.spec["members"]]),
            )
        )
    return ComparisonData.from_rows(experiment, workspace.targets(experiment), models, trials)
