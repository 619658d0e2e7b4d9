"""Ensemble construction on stored valid predictions: greedy selection and stacking.

Both work on predictions alone (no refits of the members): greedy selection with replacement after
Caruana et al. (2004), and a simple meta-model fitted with cross-validation on the valid rows. Also the
pieces their honest checks share: seeded folds over the valid rows and the score each selection optimises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.metrics import get_metric
from workbench.model import score_predictions, stack_features

__all__ = [
    "GreedyResult",
    "StackingResult",
    "assign_folds",
    "fit_stacking",
    "greedy_selection",
    "proxy_greater_is_better",
    "selection_proxy",
    "selection_scorer",
]


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
    fitted_pred: np.ndarray  # `meta`'s predictions of the valid rows it was fitted on


def _meta_model(problem_type: str, seed: int, balanced: bool = False) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if problem_type == "regression":
        return Ridge(alpha=1.0, positive=True)
    weights = "balanced" if balanced else None
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed, class_weight=weights)


def fit_stacking(
    valid_predictions: Sequence[np.ndarray],
    y_valid: np.ndarray,
    test_predictions: Sequence[np.ndarray],
    problem_type: str,
    classes: Sequence[Any] | None,
    seed: int = 0,
    folds: int = 5,
    fold_ids: np.ndarray | None = None,
    balanced: bool = False,
) -> StackingResult:
    """Fit the meta-model with `folds`-fold cross-validation on the valid rows only (or on the given
    `fold_ids`, one fold number per valid row, to share folds with another check). `balanced` weighs
    every class the same in a classification meta-model's log loss (for balanced_accuracy).

    Test predictions are used only to produce the ensemble's test prediction, after fitting.
    """
    from sklearn.base import clone

    features = stack_features(valid_predictions, problem_type)
    regression = problem_type == "regression"
    if regression:
        target = np.asarray(y_valid, dtype=float)
    else:
        assert classes is not None
        index = {c: i for i, c in enumerate(classes)}
        target = np.array([index[v] for v in y_valid])
    if fold_ids is None:
        fold_ids = assign_folds(y_valid, folds, seed, stratify=not regression)
    n_classes = len(classes or [])
    meta = _meta_model(problem_type, seed, balanced)
    out_of_fold = np.zeros(len(target)) if regression else np.zeros((len(target), n_classes))
    for fold in np.unique(fold_ids):
        held_out = fold_ids == fold
        fold_meta = clone(meta).fit(features[~held_out], target[~held_out])
        if regression:
            out_of_fold[held_out] = fold_meta.predict(features[held_out])
        else:
            # A class missing from the fold's training rows gets probability 0 on its held-out rows.
            proba = fold_meta.predict_proba(features[held_out])
            out_of_fold[held_out] = _place(np.asarray(proba), fold_meta.classes_, n_classes)
    meta.fit(features, target)
    test_features = stack_features(test_predictions, problem_type)
    if regression:
        return StackingResult(
            meta, out_of_fold, np.asarray(meta.predict(test_features)), np.asarray(meta.predict(features))
        )
    test_pred = _place(np.asarray(meta.predict_proba(test_features)), meta.classes_, n_classes)
    fitted = _place(np.asarray(meta.predict_proba(features)), meta.classes_, n_classes)
    return StackingResult(meta, out_of_fold, test_pred, fitted)


def _place(proba: np.ndarray, codes: Any, n_classes: int) -> np.ndarray:
    out = np.zeros((proba.shape[0], n_classes))
    for column, code in enumerate(codes):
        out[:, int(code)] = proba[:, column]
    return out


def scorer(
    metric: str, problem_type: str, y: np.ndarray, classes: Sequence[Any] | None
) -> Callable[[np.ndarray], float]:
    return lambda prediction: score_predictions(metric, problem_type, y, prediction, classes)


def assign_folds(y: np.ndarray, folds: int, seed: int, stratify: bool) -> np.ndarray:
    """A fold number in [0, folds) for each row: shuffled with `seed`, and for classification dealt class by
    class, so every class is spread over the folds as evenly as its rows allow (a class of two rows or more
    keeps a row in every fold's training part)."""
    rng = np.random.default_rng(seed)
    values = list(np.asarray(y, dtype=object))
    if stratify:
        codes: dict[Any, int] = {}
        labels = np.array([codes.setdefault(v, len(codes)) for v in values], dtype=int)
        groups = [np.flatnonzero(labels == code) for code in range(len(codes))]
    else:
        groups = [np.arange(len(values))]
    out = np.zeros(len(values), dtype=int)
    dealt = 0
    for rows in groups:
        # Deal on from where the last class stopped, so small classes do not all start in fold 0.
        out[rng.permutation(rows)] = (dealt + np.arange(len(rows))) % folds
        dealt += len(rows)
    return out


def selection_proxy(metric: str, problem_type: str) -> str:
    """The score greedy selection optimises for an experiment scored by `metric`.

    A thresholded metric (accuracy, balanced_accuracy, f1: computed from argmax labels) moves in steps of
    one valid row, so on a small valid set greedy selection chases rows that flip by chance: those select on
    log loss of the blended probabilities instead, class-balanced for balanced_accuracy ("balanced_log_loss":
    each class's mean log loss counts the same, as each class's recall does). roc_auc is rank based but takes
    a step per pair of rows (positives x negatives, thousands even on a small set); log_loss and the
    regression metrics are smooth: those select on the metric itself.
    """
    if not get_metric(metric, problem_type).thresholded:
        return metric
    return "balanced_log_loss" if metric == "balanced_accuracy" else "log_loss"


def proxy_greater_is_better(proxy: str, problem_type: str) -> bool:
    """The direction of a `selection_proxy` result (a metric's own, or lower for balanced_log_loss)."""
    return False if proxy == "balanced_log_loss" else get_metric(proxy, problem_type).greater_is_better


def selection_scorer(
    metric: str, problem_type: str, y: np.ndarray, classes: Sequence[Any] | None
) -> Callable[[np.ndarray], float]:
    """`score_predictions(metric, ...)` for fixed `y`, computed directly with numpy for the metrics greedy
    selection calls thousands of times (log_loss, roc_auc, rmse, mae, r2); the same values. Also the
    balanced_log_loss proxy, which only selection uses."""
    y = np.asarray(y)
    if problem_type == "regression":
        truth = y.astype(float)
        spread = float(np.sum((truth - truth.mean()) ** 2))
        if metric == "rmse":
            return lambda p: float(np.sqrt(np.mean((truth - np.asarray(p, dtype=float)) ** 2)))
        if metric == "mae":
            return lambda p: float(np.mean(np.abs(truth - np.asarray(p, dtype=float))))
        if metric == "r2":

            def r2(p: np.ndarray) -> float:
                residual = float(np.sum((truth - np.asarray(p, dtype=float)) ** 2))
                if spread == 0:
                    return 1.0 if residual == 0 else 0.0
                return 1.0 - residual / spread

            return r2
    elif classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        codes = np.array([index.get(v, -1) for v in y.astype(object)])
        if metric in ("log_loss", "balanced_log_loss") and len(codes) and codes.min() >= 0:
            rows = np.arange(len(codes))
            # log_loss: every row counts 1/n; balanced: every class present counts the same in total.
            counts = np.bincount(codes)
            weight = (
                1.0 / (counts[codes] * np.count_nonzero(counts))
                if metric == "balanced_log_loss"
                else np.full(len(codes), 1.0 / len(codes))
            )

            def log_loss(p: np.ndarray) -> float:
                clipped = np.clip(np.asarray(p, dtype=float), 1e-15, 1.0)
                return float(-np.sum(weight * np.log(clipped[rows, codes] / clipped.sum(axis=1))))

            return log_loss
        positive = codes == 1
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        if metric == "roc_auc" and not (n_pos and n_neg):
            return lambda p: 0.5  # undefined on rows of one class (a tiny fold): chance, for every prediction
        if metric == "roc_auc":
            from scipy.stats import rankdata

            offset = n_pos * (n_pos + 1) / 2

            def roc_auc(p: np.ndarray) -> float:
                ranks = rankdata(np.asarray(p, dtype=float)[:, 1])
                return float((ranks[positive].sum() - offset) / (n_pos * n_neg))

            return roc_auc
    return scorer(metric, problem_type, y, classes)
