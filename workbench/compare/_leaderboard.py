"""The leaderboard: the one ranking of an experiment's models (candidates of both engines and saved
ensembles), used by the CLI, the report, the widgets and REST alike.

Best valid score first in the metric's direction; models without a valid score last; ties go to
candidates before ensembles, then to the older (lower id).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from workbench._json import to_jsonable
from workbench.compare._data import calibration_note, final_modes, trained_on_text
from workbench.errors import InvalidInputError
from workbench.metrics import get_metric
from workbench.store import Experiment, Workspace
from workbench.store import ensembles as ensemble_rows
from workbench.store import trials as records

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["Leaderboard", "LeaderboardRow", "is_missing", "leaderboard", "ranking_key"]


def is_missing(value: Any) -> bool:
    """None, NaN or infinite: a score or figure that is not there."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def ranking_key(valid_score: float | None, kind: str, id: int, greater_is_better: bool) -> tuple[float, int, int]:
    """The sort key of the one ranking (see the module docstring)."""
    if is_missing(valid_score):
        score = math.inf
    else:
        assert valid_score is not None
        score = -valid_score if greater_is_better else valid_score
    return (score, 0 if kind == "candidate" else 1, id)


@dataclass(frozen=True)
class LeaderboardRow:
    """One model. key: "c12" for candidate 12, "e3" for ensemble 3 (unique across both kinds)."""

    rank: int
    key: str
    kind: Literal["candidate", "ensemble"]
    id: int
    name: str
    engine: str  # autogluon | optuna | workbench (ensembles built here)
    model_type: str
    trial: int | None
    valid_score: float | None
    test_score: float | None
    fit_time_s: float | None
    predict_row_ms: float | None
    predict_batch_ms: float | None
    size_bytes: int | None
    artifact_key: str | None = None
    # The rows the model was fitted on: "train" as selected, or a final's ("all: 344 rows"); the scores
    # are always those measured at selection, before any finalize.
    trained_on: str = "train"
    # The candidate's probability calibration, when one was kept ("calibrated T=1.31"); else "".
    calibration: str = ""

    @property
    def size_mb(self) -> float | None:
        return self.size_bytes / 1e6 if self.size_bytes is not None else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


@dataclass(frozen=True)
class Leaderboard:
    """An experiment's models, ranked (`rank` 1 is the best); `sort_by` says how `rows` are ordered now."""

    experiment_id: int
    metric: str
    greater_is_better: bool
    rows: tuple[LeaderboardRow, ...]
    sort_by: str = "rank"
    selection: str = ""  # which rows the valid scores are measured on (`Experiment.selection_note`)

    # table header -> LeaderboardRow attribute
    COLUMNS: ClassVar[dict[str, str]] = {
        "rank": "rank",
        "name": "name",
        "engine": "engine",
        "kind": "kind",
        "model_type": "model_type",
        "valid": "valid_score",
        "test": "test_score",
        "fit s": "fit_time_s",
        "row ms": "predict_row_ms",
        "batch ms": "predict_batch_ms",
        "size MB": "size_mb",
        "trained on": "trained_on",
    }
    SCORE_COLUMNS: ClassVar[frozenset[str]] = frozenset({"valid", "test"})

    @property
    def best(self) -> LeaderboardRow | None:
        ranked = [r for r in self.rows if r.rank == 1]
        return ranked[0] if ranked and not is_missing(ranked[0].valid_score) else None

    def row(self, key: str) -> LeaderboardRow:
        for r in self.rows:
            if r.key == key:
                return r
        raise InvalidInputError(f"No model {key!r} in experiment {self.experiment_id}; keys look like c12 or e3.")

    def sorted(self, column: str, descending: bool | None = None) -> Leaderboard:
        """The same rows sorted by a table column; missing values always last.

        `descending=None` means best first for the score columns, ascending for the others.
        """
        if column not in self.COLUMNS:
            raise InvalidInputError(f"Unknown leaderboard column {column!r}; use one of: {', '.join(self.COLUMNS)}.")
        attr = self.COLUMNS[column]
        if descending is None:
            descending = self.greater_is_better if column in self.SCORE_COLUMNS else False
        present = [r for r in self.rows if not is_missing(getattr(r, attr))]
        missing = [r for r in self.rows if is_missing(getattr(r, attr))]
        present.sort(key=lambda r: r.rank)  # a stable tie-break, kept by the next sort
        present.sort(key=lambda r: getattr(r, attr), reverse=descending)
        missing.sort(key=lambda r: r.rank)
        return replace(self, rows=tuple(present + missing), sort_by=column)

    def table(self) -> dict[str, list[Any]]:
        """Column name -> values (raw: numbers stay numbers, missing values are None)."""
        return {column: [getattr(row, attr) for row in self.rows] for column, attr in self.COLUMNS.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "metric": self.metric,
            "greater_is_better": self.greater_is_better,
            "sort_by": self.sort_by,
            "selection": self.selection,
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def ranked(
        cls, experiment_id: int, metric: str, greater_is_better: bool, rows: Iterable[LeaderboardRow]
    ) -> Leaderboard:
        """Rank `rows` (their `rank` is set here) with the one ranking."""
        ordered = sorted(rows, key=lambda r: ranking_key(r.valid_score, r.kind, r.id, greater_is_better))
        ranked = tuple(replace(r, rank=i) for i, r in enumerate(ordered, start=1))
        return cls(experiment_id, metric, greater_is_better, ranked)

    @classmethod
    def from_comparison(cls, data: ComparisonData) -> Leaderboard:
        rows = (
            LeaderboardRow(
                rank=0,
                key=m.key,
                kind=m.kind,
                id=m.id,
                name=m.name,
                engine=m.engine,
                model_type=m.model_type,
                trial=m.trial_number,
                valid_score=m.valid_score,
                test_score=m.test_score,
                fit_time_s=m.fit_time_s,
                predict_row_ms=m.predict_row_ms,
                predict_batch_ms=m.predict_batch_ms,
                size_bytes=m.size_bytes,
                trained_on=m.trained_on,
                calibration=m.calibration,
            )
            for m in data.models
        )
        board = cls.ranked(data.experiment.id, data.metric, data.greater_is_better, rows)
        return replace(board, selection=data.experiment.selection_note())


def leaderboard(workspace: Workspace, experiment: Experiment) -> Leaderboard:
    """The experiment's ranking, from its stored rows alone (no predictions are read)."""
    store = workspace.store
    numbers = {t.id: t.number for t in records.list_trials(store, experiment.id)}
    finals = final_modes(store, experiment.id)
    rows: list[LeaderboardRow] = [
        LeaderboardRow(
            rank=0,
            key=f"c{c.id}",
            kind="candidate",
            id=c.id,
            name=c.name,
            engine=c.engine,
            model_type=c.model_type,
            trial=numbers.get(c.trial_id) if c.trial_id is not None else None,
            valid_score=c.valid_score,
            test_score=c.test_score,
            fit_time_s=c.fit_time_s,
            predict_row_ms=c.predict_row_ms,
            predict_batch_ms=c.predict_batch_ms,
            size_bytes=c.size_bytes,
            artifact_key=c.artifact_key,
            trained_on=trained_on_text(finals, [c.id]),
            calibration=calibration_note(c.calibration),
        )
        for c in records.list_candidates(store, experiment.id)
    ]
    rows += [
        LeaderboardRow(
            rank=0,
            key=f"e{e.id}",
            kind="ensemble",
            id=e.id,
            name=e.name,
            engine="workbench",
            model_type=f"ensemble:{e.method}",
            trial=None,
            valid_score=e.valid_score,
            test_score=e.test_score,
            fit_time_s=None,
            predict_row_ms=e.predict_row_ms,
            predict_batch_ms=e.predict_batch_ms,
            size_bytes=e.size_bytes,
            artifact_key=e.artifact_key,
            trained_on=trained_on_text(finals, [int(m["candidate_id"]) for m in e.spec["members"]]),
        )
        for e in ensemble_rows.list_ensembles(store, experiment.id)
    ]
    greater = get_metric(experiment.metric, experiment.problem_type).greater_is_better
    return replace(
        Leaderboard.ranked(experiment.id, experiment.metric, greater, rows), selection=experiment.selection_note()
    )
