"""Reporters for in-process use, and the helper families use to report the valid score while they train.

What a family reports: `step` is the number of boosting rounds fitted so far (boosting families, every
`REPORT_EVERY` rounds) or the number of epochs completed (MLP, every epoch); `value` is the experiment
metric (`TrialData.metric`) scored with `score_predictions` on the valid rows. Values therefore have the
metric's own direction (`workbench.metrics.get_metric(...).greater_is_better`), the same as the trial's
final valid score, so a pruner can compare them with other trials' values directly.
"""

from __future__ import annotations

import numpy as np

from workbench.model import score_predictions
from workbench.search._protocol import Reporter, TrialData, TrialPruned

__all__ = ["REPORT_EVERY", "LocalReporter", "PruneAfter", "ValidReporter"]

# Boosting families report every this many rounds.
REPORT_EVERY = 10


class LocalReporter:
    """A Reporter for in-process use: records every (step, value) and never prunes."""

    def __init__(self) -> None:
        self.values: list[tuple[int, float]] = []

    def report(self, step: int, value: float) -> None:
        self.values.append((int(step), float(value)))

    def should_prune(self) -> bool:
        return False


class PruneAfter(LocalReporter):
    """A Reporter for tests: records like LocalReporter, then prunes once a reported step reaches `step`."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step
        self.pruned = False

    def report(self, step: int, value: float) -> None:
        super().report(step, value)
        if step >= self.step:
            self.pruned = True
            raise TrialPruned(f"pruned at step {step}")

    def should_prune(self) -> bool:
        return self.pruned


class ValidReporter:
    """Scores valid-row predictions with the experiment metric and passes them to a Reporter.

    `report` raises TrialPruned when the driver decided to stop the trial; callers let it propagate.
    """

    def __init__(self, reporter: Reporter, data: TrialData, every: int = REPORT_EVERY) -> None:
        self.reporter = reporter
        self.data = data
        self.every = every

    def due(self, step: int) -> bool:
        return step > 0 and step % self.every == 0

    def score(self, valid_pred: np.ndarray) -> float:
        data = self.data
        return score_predictions(data.metric, data.problem_type, data.y_valid, valid_pred, data.classes)

    def report(self, step: int, valid_pred: np.ndarray) -> float:
        value = self.score(valid_pred)
        self.reporter.report(step, value)
        return value
