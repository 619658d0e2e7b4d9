"""Evaluation metrics by name, with the problem types they fit and their direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.errors import InvalidInputError

__all__ = ["DEFAULT_METRIC", "METRICS", "Metric", "ProblemType", "get_metric"]

ProblemType = Literal["binary", "multiclass", "regression"]
PROBLEM_TYPES: tuple[ProblemType, ...] = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Metric:
    """A metric: its name (AutoGluon's name for it too), where it applies, and which way is better."""

    name: str
    problem_types: frozenset[str]
    greater_is_better: bool
    needs_proba: bool

    @property
    def thresholded(self) -> bool:
        """Computed from predicted labels (the argmax of the probabilities), so it moves in steps as the
        probabilities change: accuracy, balanced_accuracy, f1. False for probability and regression metrics."""
        return not self.needs_proba and "regression" not in self.problem_types


_CLS = frozenset({"binary", "multiclass"})
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", frozenset({"binary"}), True, True),
        Metric("f1", frozenset({"binary"}), True, False),
        Metric("accuracy", _CLS, True, False),
        Metric("balanced_accuracy", _CLS, True, False),
        Metric("log_loss", _CLS, False, True),
        Metric("rmse", frozenset({"regression"}), False, False),
        Metric("mae", frozenset({"regression"}), False, False),
        Metric("r2", frozenset({"regression"}), True, False),
    )
}

DEFAULT_METRIC: dict[str, str] = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}


def get_metric(name: str, problem_type: str) -> Metric:
    """The metric called `name`, checked against the problem type."""
    metric = METRICS.get(name)
    if metric is None:
        raise InvalidInputError(f"Unknown metric {name!r}; use one of: {', '.join(sorted(METRICS))}.")
    if problem_type not in metric.problem_types:
        fits = sorted(n for n, m in METRICS.items() if problem_type in m.problem_types)
        raise InvalidInputError(
            f"Metric {name!r} does not apply to {problem_type} problems; use one of: {', '.join(fits)}."
        )
    return metric
