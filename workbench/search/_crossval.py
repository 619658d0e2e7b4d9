"""Cross-validated selection scores: a candidate's out-of-fold predictions of every train and valid row.

With `TrialData.cv_folds` = k > 1, fold 0 is the experiment's own split (trained on the train rows, early
stopping and reports on the valid rows): that fit is the candidate the search keeps, predicts the test rows
with and registers. Folds 1..k-1 are fitted the same way, each on every other fold's rows, only for their
predictions of the rows they held out. The candidate's selection score is the metric on all k folds'
out-of-fold predictions, train rows then valid rows (`TrialData.y_selection`): every candidate of an
experiment is scored on the same rows with the same folds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from workbench.model import FittedModel
from workbench.search._protocol import Reporter, TrialData, TrialPruned, WorkerResources

__all__ = ["FoldReporter", "fold_deadline", "out_of_fold"]


class FoldReporter:
    """The reporter of folds 1..k-1: their values are not the trial's (fold 0 reports those), but a trial the
    driver pruned stops in whichever fold it is."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def report(self, step: int, value: float) -> None:
        if self.reporter.should_prune():
            raise TrialPruned(f"pruned at step {step} of a later fold")

    def should_prune(self) -> bool:
        return self.reporter.should_prune()


def fold_deadline(resources: WorkerResources, folds_left: int) -> WorkerResources:
    """`resources` whose deadline is this fold's share of the fit time left: an equal part for each fold
    still to fit, this one included (unchanged without a deadline)."""
    left = resources.time_left()
    if left is None:
        return resources
    return replace(resources, deadline=time.monotonic() + max(0.0, left) / max(1, folds_left))


def out_of_fold(
    fit: Callable[[TrialData, WorkerResources, Reporter], FittedModel],
    data: TrialData,
    first_valid: np.ndarray,
    resources: WorkerResources,
    reporter: Reporter,
) -> np.ndarray:
    """The out-of-fold predictions of data's selection rows (train rows then valid rows).

    first_valid: the fold-0 model's predictions of the valid rows (the caller fitted it on `data.fold(0)`).
    fit(fold_data, resources, reporter) fits folds 1..k-1, each with an equal share of the time left
    before the deadline of `resources` (the fit window of the whole trial)."""
    folds = data.selection_folds()
    k = data.cv_folds
    predictions: np.ndarray | None = None
    for number in range(1, k):
        rows = data.fold(number)
        model = fit(rows, fold_deadline(resources, k - number), FoldReporter(reporter))
        held = np.asarray(model.prediction(rows.X_valid))
        if predictions is None:
            predictions = np.zeros((len(folds), *held.shape[1:]), dtype=float)
        predictions[folds == number] = held
    if predictions is None:
        return np.asarray(first_valid)
    predictions[folds == 0] = np.asarray(first_valid, dtype=float)
    return predictions
