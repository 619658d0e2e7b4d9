"""The model a timed search finalizes when its winner's refit does not fit the time left.

The winner left on the train rows, or the best candidate whose refit fits, finalized on every row? Both
selection scores were measured with models trained on about the train rows, and a final gains from the
rows added by an amount the selection cannot measure. So the search takes the other candidate only when
the selection rows cannot tell it from the winner: when the winner leads it by at most one standard
error, that of the paired difference of their scores over bootstrap resamples of the selection rows (the
one-standard-error rule of Breiman et al., 1984). Measured on unseen rows (`bench/quality.py`'s 20%), 60 s
searches whose AutoGluon weighted ensemble won and could not be refitted in time: on `seattle_weather` by
log loss it led an Optuna forest by 0.9 standard errors, and the forest finalized scored 0.605 against
its 0.618; on `flights` selected on the valid rows alone it led AutoGluon's LightGBM and CatBoost by 6.0
and 5.2 standard errors, and those finalized scored 12.42 and 12.03 mae against its 12.08 and 12.15.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench.metrics import get_metric
from workbench.model import score_predictions
from workbench.search._finalize import best_candidates
from workbench.store import Experiment, Workspace
from workbench.store import trials as records

__all__ = ["Fallback", "fallback_candidate", "score_gap"]

# The standard error of a score difference: paired bootstrap resamples of the selection rows, at most
# BOOTSTRAP_SAMPLES of BOOTSTRAP_ROWS rows each, made while BOOTSTRAP_S lasts (at least
# MIN_BOOTSTRAP_SAMPLES): the search has little time left when it needs them (a balanced accuracy takes
# 4 ms on 2,000 rows and 55 ms on 20,000; 2-core machine).
BOOTSTRAP_SAMPLES = 100
MIN_BOOTSTRAP_SAMPLES = 20
BOOTSTRAP_ROWS = 2000
BOOTSTRAP_S = 0.5
# The candidates looked at, best first, for one whose refit fits.
FALLBACK_CANDIDATES = 50


@dataclass(frozen=True)
class Fallback:
    """The best candidate whose refit fits (`candidate`, None when none does) and how far the winner leads
    it on the selection rows: `gap` in the metric's units (positive: the winner is better) and
    `standard_error` of that gap; `taken` when the gap is at most one standard error."""

    candidate: records.CandidateRow | None
    gap: float | None = None
    standard_error: float | None = None

    @property
    def taken(self) -> bool:
        return (
            self.candidate is not None
            and self.gap is not None
            and self.standard_error is not None
            and self.gap <= self.standard_error
        )

    def describe(self, metric: str) -> str:
        """How the winner compares with it, for the search's summary."""
        if self.candidate is None:
            return "no other candidate's refit fits the time left either"
        if self.gap is None or self.standard_error is None:
            return f"the best model whose refit fits, {self.candidate.name}, has no selection scores to compare"
        errors = f" ({self.gap / self.standard_error:.1f} standard errors)" if self.standard_error > 0 else ""
        lead = f"{self.gap:.4g} {metric}{errors} on the selection rows"
        if self.taken:
            return f"the winner leads it by only {lead}"
        return f"the best model whose refit fits, {self.candidate.name}, is not finalized instead: the winner leads it by {lead}"


def fallback_candidate(
    workspace: Workspace,
    experiment: Experiment,
    winner: records.CandidateRow,
    refit_fits: Callable[[records.CandidateRow], bool],
) -> Fallback:
    """The best candidate other than `winner` that `refit_fits`, and how far `winner` leads it
    (`score_gap`)."""
    for candidate in best_candidates(workspace, experiment, FALLBACK_CANDIDATES):
        if candidate.id == winner.id or not refit_fits(candidate):
            continue
        gap = score_gap(workspace, experiment, winner, candidate)
        if gap is None:
            return Fallback(candidate)
        return Fallback(candidate, *gap)
    return Fallback(None)


def score_gap(
    workspace: Workspace, experiment: Experiment, first: records.CandidateRow, second: records.CandidateRow
) -> tuple[float, float] | None:
    """How far `first` leads `second` on the experiment's selection rows (positive: `first` is better, in the
    metric's units) and the standard error of that lead: from up to BOOTSTRAP_SAMPLES paired resamples of
    BOOTSTRAP_ROWS rows (all rows when fewer), scaled to the row count (the m-out-of-n bootstrap), made
    while BOOTSTRAP_S lasts, at least MIN_BOOTSTRAP_SAMPLES (seeded resamples). None when either has no selection predictions or the scores cannot be computed."""
    if not first.predictions_key or not second.predictions_key:
        return None
    targets = workspace.targets(experiment)
    y = np.asarray(targets.y_valid)
    classes = list(targets.classes) if targets.classes is not None else None
    sign = 1.0 if get_metric(experiment.metric, experiment.problem_type).greater_is_better else -1.0
    try:
        a, b = _selection_predictions(workspace, first), _selection_predictions(workspace, second)
        if len(a) != len(y) or len(b) != len(y) or not len(y):
            return None

        def lead(rows: np.ndarray) -> float:
            score_a = score_predictions(experiment.metric, experiment.problem_type, y[rows], a[rows], classes)
            score_b = score_predictions(experiment.metric, experiment.problem_type, y[rows], b[rows], classes)
            return sign * (float(score_a) - float(score_b))

        gap = lead(np.arange(len(y)))
        rng = np.random.default_rng(0)
        size = min(len(y), BOOTSTRAP_ROWS)
        leads: list[float] = []
        start = time.monotonic()
        while len(leads) < BOOTSTRAP_SAMPLES and (
            len(leads) < MIN_BOOTSTRAP_SAMPLES or time.monotonic() - start < BOOTSTRAP_S
        ):
            leads.append(lead(rng.integers(0, len(y), size)))
    except Exception:  # predictions unreadable or a score undefined: no comparison, so no fallback
        return None
    finite = [value for value in leads if math.isfinite(value)]
    if not math.isfinite(gap) or len(finite) < len(leads) // 2 or len(finite) < 2:
        return None
    return gap, float(np.std(finite)) * math.sqrt(size / len(y))


def _selection_predictions(workspace: Workspace, candidate: records.CandidateRow) -> np.ndarray:
    assert candidate.predictions_key is not None
    with np.load(io.BytesIO(workspace.store.read_artifact(candidate.predictions_key)), allow_pickle=False) as arrays:
        return np.asarray(arrays["valid"])
