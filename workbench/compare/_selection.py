"""Ensemble construction on stored valid predictions: greedy selection and stacking.

Both work on predictions alone (no refits of the members): greedy selection with replacement after
Caruana et al. (2004), and a simple meta-model fitted with cross-validation on the valid rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.model import score_predictions, stack_features

__all__ = ["GreedyResult", "StackingResult", "fit_stacking", "greedy_selection"]


@dataclass(frozen=True)
class GreedyResult:
    weights: np.ndarray  # one per input prediction; zero for those not chosen
    scores: list[float]  # the ensemble's valid score after each iteration
    best_iteration: int


def greedy_selection(
    predictions: Sequence[np.ndarray],
    score: Callable[[np.ndarray], float],
    greater_is_better: bool,
    n_iterations: int = 50,
    max_members: int | None = None,
    admissible: Callable[[set[int]], bool] | None = None,
) -> GreedyResult:
    """Caruana's forward selection with replacement.

    Each iteration adds the prediction (an already chosen one included) that makes the running average
    score best; ties go to the lower index. The result is the best prefix of the iterations, so the
    ensemble never scores below the best single prediction (the first iteration picks it).
    `max_members` caps the number of distinct members; `admissible(members)` can veto a member set
    (latency and size budgets).
    """
    if not predictions:
        raise ValueError("greedy selection needs at least one prediction")
    sign = 1.0 if greater_is_better else -1.0
    stacked = np.stack([np.asarray(p, dtype=float) for p in predictions])
    total = np.zeros_like(stacked[0])
    counts = np.zeros(len(predictions), dtype=int)
    history: list[tuple[float, np.ndarray]] = []
    for iteration in range(n_iterations):
        chosen = set(np.flatnonzero(counts).tolist())
        best_index, best_value = -1, -np.inf
        for i in range(len(predictions)):
            members = chosen | {i}
            if max_members is not None and len(members) > max_members:
                continue
            if admissible is not None and not admissible(members):
                continue
            value = sign * score((total + stacked[i]) / (iteration + 1))
            if value > best_value:
                best_index, best_value = i, value
        if best_index < 0:
            break
        counts[best_index] += 1
        total += stacked[best_index]
        history.append((sign * best_value, counts.copy()))
    if not history:
        raise ValueError("no prediction satisfies the ensemble's constraints")
    best = max(range(len(history)), key=lambda k: (sign * history[k][0], -k))
    best_counts = history[best][1]
    return GreedyResult(best_counts / best_counts.sum(), [h[0] for h in history], best)


@dataclass(frozen=True)
class StackingResult:
    meta: Any  # fitted on every valid row
    valid_pred: np.ndarray  # out-of-fold predictions on the valid rows (honest valid score)
    test_pred: np.ndarray


def _meta_model(problem_type: str, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if problem_type == "regression":
        return Ridge(alpha=1.0, positive=True)
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed)


def fit_stacking(
    valid_predictions: Sequence[np.ndarray],
    y_valid: np.ndarray,
    test_predictions: Sequence[np.ndarray],
    problem_type: str,
    classes: Sequence[Any] | None,
    seed: int = 0,
    folds: int = 5,
) -> StackingResult:
    """Fit the meta-model with `folds`-fold cross-validation on the valid rows only.

    Test predictions are used only to produce the ensemble's test prediction, after fitting.
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    features = stack_features(valid_predictions, problem_type)
    if problem_type == "regression":
        target = np.asarray(y_valid, dtype=float)
        splitter: Any = KFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        assert classes is not None
        index = {c: i for i, c in enumerate(classes)}
        target = np.array([index[v] for v in y_valid])
        smallest = np.bincount(target).min() if len(target) else 0
        splitter = StratifiedKFold(n_splits=max(2, min(folds, int(smallest))), shuffle=True, random_state=seed)
    meta = _meta_model(problem_type, seed)
    method = "predict" if problem_type == "regression" else "predict_proba"
    out_of_fold = cross_val_predict(clone(meta), features, target, cv=splitter, method=method)
    meta.fit(features, target)
    test_features = stack_features(test_predictions, problem_type)
    if problem_type == "regression":
        return StackingResult(meta, np.asarray(out_of_fold, dtype=float), np.asarray(meta.predict(test_features)))
    n_classes = len(classes or [])
    valid_pred = _place(np.asarray(out_of_fold), np.unique(target), n_classes)
    test_pred = _place(np.asarray(meta.predict_proba(test_features)), meta.classes_, n_classes)
    return StackingResult(meta, valid_pred, test_pred)


def _place(proba: np.ndarray, codes: Any, n_classes: int) -> np.ndarray:
    out = np.zeros((proba.shape[0], n_classes))
    for column, code in enumerate(codes):
        out[:, int(code)] = proba[:, column]
    return out


def scorer(
    metric: str, problem_type: str, y: np.ndarray, classes: Sequence[Any] | None
) -> Callable[[np.ndarray], float]:
    return lambda prediction: score_predictions(metric, problem_type, y, prediction, classes)
