"""Scoring stored predictions: class probabilities (classification) or values (regression)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.metrics import get_metric

__all__ = ["labels_from_proba", "score_predictions"]


def labels_from_proba(proba: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    labels: np.ndarray = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    return labels


def score_predictions(
    metric: str, problem_type: str, y_true: np.ndarray, prediction: np.ndarray, classes: Sequence[Any] | None = None
) -> float:
    """Score `prediction` against `y_true`.

    Classification: `prediction` is an (n, k) probability matrix whose columns follow `classes`; for binary
    problems the positive class is `classes[1]`. Regression: `prediction` is a vector of values.
    """
    from sklearn import metrics as skm

    spec = get_metric(metric, problem_type)
    y = np.asarray(y_true)
    if problem_type == "regression":
        pred = np.asarray(prediction, dtype=float)
        if metric == "rmse":
            return float(np.sqrt(skm.mean_squared_error(y, pred)))
        if metric == "mae":
            return float(skm.mean_absolute_error(y, pred))
        return float(skm.r2_score(y, pred))
    assert classes is not None, "classification scores need the class order"
    proba = np.asarray(prediction, dtype=float)
    labels = labels_from_proba(proba, classes)
    y_obj = y.astype(object)
    if spec.name == "roc_auc":
        return float(skm.roc_auc_score(y_obj == classes[1], proba[:, 1]))
    if spec.name == "log_loss":
        clipped = np.clip(proba, 1e-15, 1.0)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        return float(skm.log_loss(y_obj, clipped, labels=list(classes)))
    if spec.name == "f1":
        return float(skm.f1_score(y_obj == classes[1], labels == classes[1]))
    if spec.name == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y_obj, labels))
    return float(skm.accuracy_score(y_obj, labels))
