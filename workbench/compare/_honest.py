"""Honest ensemble acceptance: selection cross-validated over the valid rows.

Greedy selection (or the stacking meta-model) is run on k-1 folds of the valid rows and its blend predicts
the held-out fold; so is the alternative, the best single member chosen on the same k-1 folds. Both
out-of-fold predictions are scored once, on all valid rows, with the experiment's metric. An ensemble is
kept only if it beats that best member there: a blend that only looks better on the rows it was selected
on is refused. A thresholded metric ties often on few rows (every blend and member right on all of them
but one): a tie is then decided by the smooth proxy, out of fold too. Test rows are never used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from workbench.compare._selection import (
    StackingResult,
    assign_folds,
    fit_stacking,
    greedy_selection,
    proxy_greater_is_better,
    selection_proxy,
    selection_scorer,
)
from workbench.metrics import get_metric

__all__ = ["HonestGreedy", "SelectionReport", "honest_greedy", "honest_stacking"]

# "beats" means by more than rounding: an ensemble that only ties its best member (on the metric, and on the
# proxy too when the metric ties) is not worth its latency.
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class SelectionReport:
    """What an ensemble's selection did and whether the ensemble was kept.

    proxy: the score the selection optimised (`selection_proxy`: log loss for a thresholded metric;
    stacking: its meta-model's loss). folds: cross-validation folds over the valid rows (0: too few rows to
    cross-validate). oof_score, member_oof_score: the ensemble's and its best single member's out-of-fold
    score with `metric`, the member chosen on each fold's training part by the rule greedy selection starts
    with (the best by the proxy, ties by the metric). oof_proxy, member_oof_proxy: the same predictions
    scored with the proxy, when the metric ties and the proxy is another score. kept: the ensemble beat that
    member by more than rounding (on a tie, by the proxy). outcome: what was used as a result.
    """

    method: str
    metric: str
    proxy: str
    folds: int
    rows: int
    oof_score: float | None
    member_oof_score: float | None
    kept: bool
    outcome: str
    oof_proxy: float | None = None
    member_oof_proxy: float | None = None

    @property
    def reason(self) -> str:
        """One sentence for the user: the scores, the decision and what was used."""
        finding = self.finding
        if finding is None:
            what = _METHOD_TEXT.get(self.method, self.method).format(proxy=self.proxy)
            return f"Not kept: {self.rows} valid rows are too few to check {what} out of fold; {self.outcome}."
        return f"{'Kept' if self.kept else 'Not kept'}: {finding}; {self.outcome}."

    @property
    def finding(self) -> str | None:
        """What the out-of-fold check measured, without its verdict ("stacking ... scored 0.9964 accuracy out
        of fold ..., above 0.9927 for the best single member ..."); None when it could not be made."""
        if self.oof_score is None or self.member_oof_score is None:
            return None
        what = _METHOD_TEXT.get(self.method, self.method).format(proxy=self.proxy)
        tied = self.oof_proxy is not None and self.member_oof_proxy is not None
        compared = "level with" if tied else "above" if self.kept else "no better than"
        tie_break = ""
        if tied:
            side = "better" if self.kept else "no better"
            tie_break = (
                f", and {side} on {self.proxy} ({self.oof_proxy:.4f} against {self.member_oof_proxy:.4f}),"
                " which decides a tie"
            )
        return (
            f"{what} scored {self.oof_score:.4f} {self.metric} out of fold ({self.folds} folds over "
            f"{self.rows} valid rows), {compared} {self.member_oof_score:.4f} for the best single member chosen "
            f"on the same folds{tie_break}"
        )

    def using(self, outcome: str) -> SelectionReport:
        """The same report with another outcome (what the caller finally used)."""
        return replace(self, outcome=outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "metric": self.metric,
            "proxy": self.proxy,
            "folds": self.folds,
            "rows": self.rows,
            "oof_score": self.oof_score,
            "best_member_oof_score": self.member_oof_score,
            "oof_proxy": self.oof_proxy,
            "best_member_oof_proxy": self.member_oof_proxy,
            "kept": self.kept,
            "reason": self.reason,
        }


_METHOD_TEXT = {"greedy": "greedy selection on {proxy}", "stacking": "stacking (a meta-model minimising {proxy})"}


@dataclass(frozen=True)
class HonestGreedy:
    """weights: greedy selection's weights on all valid rows when kept, else 1 on `best_member` (the best
    single candidate on all valid rows by the same rule as on each fold: the proxy, ties by the metric).
    ensemble_weights: greedy's weights on all valid rows, kept or not."""

    weights: np.ndarray
    ensemble_weights: np.ndarray
    best_member: int
    report: SelectionReport


def _n_folds(rows: int, folds: int) -> int:
    return min(folds, rows // 2)


@dataclass(frozen=True)
class _Verdict:
    kept: bool
    oof_proxy: float | None = None
    member_oof_proxy: float | None = None


def _beats(
    ensemble_oof: np.ndarray,
    member_oof: np.ndarray,
    y: np.ndarray,
    metric: str,
    proxy: str,
    problem_type: str,
    classes: Sequence[Any] | None,
) -> tuple[float, float, _Verdict]:
    """Both out-of-fold predictions scored with `metric`, and whether the ensemble's beats the member's by
    more than rounding; on a tie, by `proxy` (when it is another score)."""
    oof_score = _score(metric, problem_type, y, classes, ensemble_oof)
    member_score = _score(metric, problem_type, y, classes, member_oof)
    gain = (1.0 if get_metric(metric, problem_type).greater_is_better else -1.0) * (oof_score - member_score)
    if abs(gain) > _TOLERANCE or proxy == metric:
        return oof_score, member_score, _Verdict(gain > _TOLERANCE)
    oof_proxy = _score(proxy, problem_type, y, classes, ensemble_oof)
    member_proxy = _score(proxy, problem_type, y, classes, member_oof)
    proxy_gain = (1.0 if proxy_greater_is_better(proxy, problem_type) else -1.0) * (oof_proxy - member_proxy)
    return oof_score, member_score, _Verdict(proxy_gain > _TOLERANCE, oof_proxy, member_proxy)


def _member_rule(
    predictions: Sequence[np.ndarray],
    y: np.ndarray,
    metric: str,
    proxy: str,
    problem_type: str,
    classes: Sequence[Any] | None,
    allowed: Sequence[int],
) -> int:
    """The best single member on these rows by the rule greedy selection starts with: by `proxy`, ties
    broken by `metric`, then the lower index."""
    smooth = selection_scorer(proxy, problem_type, y, classes)
    real = selection_scorer(metric, problem_type, y, classes)
    proxy_sign = 1.0 if proxy_greater_is_better(proxy, problem_type) else -1.0
    real_sign = 1.0 if get_metric(metric, problem_type).greater_is_better else -1.0
    with _quiet():
        return max(allowed, key=lambda i: (proxy_sign * smooth(predictions[i]), real_sign * real(predictions[i]), -i))


@contextmanager
def _quiet() -> Iterator[None]:
    """A fold's rows can lack a rare class that some prediction names; sklearn's warning says just that."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*y_pred contains classes not in y_true.*")
        yield


def _score(metric: str, problem_type: str, y: np.ndarray, classes: Sequence[Any] | None, p: np.ndarray) -> float:
    with _quiet():
        return selection_scorer(metric, problem_type, y, classes)(p)


def honest_greedy(
    predictions: Sequence[np.ndarray],
    y: np.ndarray,
    metric: str,
    problem_type: str,
    classes: Sequence[Any] | None,
    *,
    n_iterations: int = 50,
    max_members: int | None = None,
    admissible: Callable[[set[int]], bool] | None = None,
    folds: int = 5,
    seed: int = 0,
    names: Sequence[str] | None = None,
) -> HonestGreedy:
    """Greedy selection on the metric's proxy (`selection_proxy`), cross-validated over the valid rows.

    On each of `folds` seeded folds (stratified for classification), greedy selection runs on the other
    folds' rows and its blend predicts the fold; the best single member (among those `admissible` alone) is
    chosen on the same rows. The ensemble is kept only if its out-of-fold score beats that member's by the
    real metric. Its final weights are then selected on all valid rows; a refused ensemble gives way to
    the best single member on all valid rows.
    """
    stacked = [np.asarray(p, dtype=float) for p in predictions]
    y = np.asarray(y)
    proxy = selection_proxy(metric, problem_type)
    proxy_better = proxy_greater_is_better(proxy, problem_type)
    allowed = [i for i in range(len(stacked)) if admissible is None or admissible({i})]
    if not stacked or not allowed:
        raise ValueError("no prediction satisfies the ensemble's constraints")

    def select(rows: np.ndarray) -> np.ndarray:
        score = selection_scorer(proxy, problem_type, y[rows], classes)
        part = [p[rows] for p in stacked]
        return greedy_selection(part, score, proxy_better, n_iterations, max_members, admissible).weights

    def blend(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.zeros_like(stacked[0][rows])
        for i in np.flatnonzero(weights):
            out += weights[i] * stacked[i][rows]
        return out

    every = np.arange(len(y))
    ensemble_weights = select(every)
    best = _member_rule(stacked, y, metric, proxy, problem_type, classes, allowed)
    k = _n_folds(len(y), folds)
    oof_score: float | None = None
    member_score: float | None = None
    verdict = _Verdict(False)
    if k >= 2:
        fold_ids = assign_folds(y, k, seed, stratify=problem_type != "regression")
        ensemble_oof = np.zeros_like(stacked[0])
        member_oof = np.zeros_like(stacked[0])
        for fold in range(k):
            train, held_out = np.flatnonzero(fold_ids != fold), np.flatnonzero(fold_ids == fold)
            ensemble_oof[held_out] = blend(select(train), held_out)
            in_fold = [p[train] for p in stacked]
            chosen = _member_rule(in_fold, y[train], metric, proxy, problem_type, classes, allowed)
            member_oof[held_out] = stacked[chosen][held_out]
        oof_score, member_score, verdict = _beats(ensemble_oof, member_oof, y, metric, proxy, problem_type, classes)
    kept = verdict.kept
    name = names[best] if names is not None else f"prediction {best}"
    report = SelectionReport(
        method="greedy",
        metric=metric,
        proxy=proxy,
        folds=k if k >= 2 else 0,
        rows=len(y),
        oof_score=oof_score,
        member_oof_score=member_score,
        kept=kept,
        outcome="its weights are selected on all valid rows"
        if kept
        else f"the best single candidate, {name}, is used instead",
        oof_proxy=verdict.oof_proxy,
        member_oof_proxy=verdict.member_oof_proxy,
    )
    weights = ensemble_weights if kept else np.eye(len(stacked))[best]
    return HonestGreedy(weights, ensemble_weights, best, report)


def honest_stacking(
    valid_predictions: Sequence[np.ndarray],
    y: np.ndarray,
    test_predictions: Sequence[np.ndarray],
    metric: str,
    problem_type: str,
    classes: Sequence[Any] | None,
    *,
    folds: int = 5,
    seed: int = 0,
) -> tuple[StackingResult, SelectionReport]:
    """Stacking whose out-of-fold valid predictions (seeded folds, stratified for classification) are
    compared with the best single member chosen on each fold's training rows; kept only if better. For
    balanced_accuracy the meta-model weighs every class the same (class_weight="balanced")."""
    y = np.asarray(y)
    stacked = [np.asarray(p, dtype=float) for p in valid_predictions]
    k = max(2, _n_folds(len(y), folds))
    fold_ids = assign_folds(y, k, seed, stratify=problem_type != "regression")
    proxy = selection_proxy(metric, problem_type)
    balanced = proxy == "balanced_log_loss"
    result = fit_stacking(
        stacked, y, test_predictions, problem_type, classes, seed, fold_ids=fold_ids, balanced=balanced
    )
    member_oof = np.zeros_like(stacked[0])
    for fold in range(k):
        train, held_out = fold_ids != fold, fold_ids == fold
        in_fold = [p[train] for p in stacked]
        chosen = _member_rule(in_fold, y[train], metric, proxy, problem_type, classes, range(len(stacked)))
        member_oof[held_out] = stacked[chosen][held_out]
    loss = "squared_error" if problem_type == "regression" else "balanced_log_loss" if balanced else "log_loss"
    oof_score, member_score, verdict = _beats(result.valid_pred, member_oof, y, metric, loss, problem_type, classes)
    report = SelectionReport(
        method="stacking",
        metric=metric,
        proxy=loss,
        folds=k,
        rows=len(y),
        oof_score=oof_score,
        member_oof_score=member_score,
        kept=verdict.kept,
        outcome="the meta-model is refitted on all valid rows" if verdict.kept else "stacking is not used",
        oof_proxy=verdict.oof_proxy,
        member_oof_proxy=verdict.member_oof_proxy,
    )
    return result, report
