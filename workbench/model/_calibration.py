"""Probability calibration by temperature scaling, decided on the valid rows only when it helps held-out rows.

Temperature scaling divides each class's log-probability by one scalar T > 0 and renormalises:
`softmax(log p / T)`. T > 1 softens over-confident probabilities, T < 1 sharpens timid ones; the argmax of
every row, and so every label, stays the same. One parameter cannot overfit a few hundred rows the way a
per-class isotonic map does (multiclass isotonic needs one-vs-rest maps and a renormalisation that undoes
them, and overfits small valid sets), so temperature is the only method here.

`choose_calibration` decides on the valid rows: T is fitted on k-1 folds and scored on the held-out fold,
and calibration is kept only when that out-of-fold log loss beats the uncalibrated one by MIN_GAIN; T is
then refitted on all valid rows. Sharpening (T < 1) is where a few hundred rows mislead: its cost is paid
on wrong answers, and a valid set holds few of them. So T may sharpen the probabilities only until their
mean confidence reaches the accuracy the rows support (Laplace's (right + 1) / (n + 2):
`sharpest_temperature`), and valid rows that the model all classifies right decide nothing (their log
loss keeps falling as T -> 0, in every fold alike, while one wrong answer on new rows would cost dearly).
Measured on the bundled tables (`bench/calibration.py`), without that bound a model with one wrong valid
row was sharpened to T = 0.12 and its test log loss went from 0.14 to 1.00.

Whatever the temperature, no probability is left more certain than the valid rows can show: each row keeps
at least 1 / (2n + 2) of its mass off its top class, mixed in evenly over the classes (`apply_floor`). That
is the error rate Krichevsky and Trofimov's estimator, (errors + 1/2) / (n + 1), gives n rows all classified
right: the estimator that keeps log loss on the unforeseen small, where Laplace's (errors + 1) / (n + 2)
charges every right row twice as much. The argmax of every row stays. Without it one new row that the
model gets wrong with p = 1e-15 costs 34.5 nats: on the bundled penguins table (69 test rows) an MLP that
classified all 220 of its valid rows right scored 0.496 test log loss, 0.48 of it from one row; the same
model with the floor scores 0.114. Out of fold the floor cannot be judged (where every row is right, the
log loss only falls as it shrinks), so like the bound on sharpening it is a rule, not a fit; its cost on
rows that are right is about 1 / (2n + 2) each.

The decision records both out-of-fold losses, which stay honest where the valid score of the calibrated
model (T fitted on those same rows) is slightly optimistic.

Pure numpy and scipy: the model classes apply a `Calibration` in `predict_proba` and in their fast paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

__all__ = [
    "LOG_T_BOUND",
    "MIN_GAIN",
    "MIN_ROWS",
    "THRESHOLD_METRICS",
    "Calibration",
    "apply_floor",
    "apply_temperature",
    "apply_threshold",
    "choose_calibration",
    "choose_threshold",
    "fit_temperature",
    "mean_log_loss",
    "probability_floor",
    "sharpest_temperature",
]

EPS = 1e-15  # probabilities are clipped here before their log, as score_predictions clips them
LOG_T_BOUND = 3.0  # T is searched in [e^-3, e^3]
MIN_GAIN = 0.005  # out-of-fold log loss must fall by more than this share for calibration to be kept
MIN_ROWS = 20  # fewer valid rows than this: no decision, no calibration
MAX_FOLDS = 5

Method = Literal["none", "temperature", "threshold"]


@dataclass(frozen=True)
class Calibration:
    """A calibration decision and its map.

    method: "temperature" (probabilities go through `apply_temperature` with `temperature`), "threshold"
        (a binary classifier's decision threshold moved: `apply_threshold` with `threshold`) or "none".
    oof_before, oof_after: the valid rows' log loss (for a threshold: the metric's score) uncalibrated and
        calibrated out of fold (fitted on the other folds); None when no decision was made (too few rows).
    folds, rows: how many folds of how many valid rows decided.
    reason: the decision in one sentence.
    threshold: the decision threshold on the positive class's probability (method "threshold").
    floor: the probability mass each row keeps off its top class at least (`apply_floor`, after the
        temperature; 0: none). Not used with a threshold.
    """

    method: Method = "none"
    temperature: float = 1.0
    oof_before: float | None = None
    oof_after: float | None = None
    folds: int = 0
    rows: int = 0
    reason: str = ""
    threshold: float = 0.5
    floor: float = 0.0

    @property
    def active(self) -> bool:
        if self.method == "threshold":
            return self.threshold != 0.5
        return (self.method == "temperature" and self.temperature != 1.0) or self.floor > 0.0

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """`proba` calibrated: the same array when nothing is active (no temperature, threshold or floor)."""
        if not self.active:
            return proba
        if self.method == "threshold":
            return apply_threshold(proba, self.threshold)
        tempered = apply_temperature(proba, self.temperature) if self.method == "temperature" else proba
        return apply_floor(tempered, self.floor)

    def note(self) -> str:
        """A short label for tables: "calibrated T=1.31", "floor 0.0045", "threshold 0.34", or "" when not
        calibrated."""
        if not self.active:
            return ""
        if self.method == "threshold":
            return f"threshold {self.threshold:.2f}"
        parts = (
            [f"calibrated T={self.temperature:.2f}"] if self.method == "temperature" and self.temperature != 1.0 else []
        )
        return ", ".join([*parts, f"floor {self.floor:.2g}"] if self.floor > 0.0 else parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "floor": self.floor,
            "oof_before": self.oof_before,
            "oof_after": self.oof_after,
            "folds": self.folds,
            "rows": self.rows,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        method = data.get("method", "none")
        if method not in ("none", "temperature", "threshold"):
            raise ValueError(
                f"unknown calibration method {method!r}; this workbench reads 'none', 'temperature' and 'threshold'"
            )
        temperature = float(data.get("temperature", 1.0))
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"a calibration temperature must be a positive number, not {temperature!r}")
        threshold = float(data.get("threshold", 0.5))
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"a decision threshold must be between 0 and 1, not {threshold!r}")
        floor = float(data.get("floor", 0.0))  # models calibrated before the floor have none
        if not 0.0 <= floor < 0.5:
            raise ValueError(f"a probability floor must be at least 0 and below 0.5, not {floor!r}")

        def number(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            method=method,
            temperature=temperature,
            threshold=threshold,
            floor=floor,
            oof_before=number("oof_before"),
            oof_after=number("oof_after"),
            folds=int(data.get("folds", 0)),
            rows=int(data.get("rows", 0)),
            reason=str(data.get("reason", "")),
        )


def _logits(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def probability_floor(rows: int) -> float:
    """The least probability mass a row keeps off its top class after `rows` valid rows: 1 / (2 rows + 2),
    the error rate Krichevsky and Trofimov's estimator gives when every one of them was classified right."""
    return 0.5 / (max(int(rows), 0) + 1)


def apply_floor(proba: np.ndarray, floor: float) -> np.ndarray:
    """Each row mixed with the uniform distribution so that its top probability is at most 1 - `floor` and
    every class gets at least floor / (K - 1): rows sum to 1 and keep their argmax. 0 returns `proba` itself."""
    if floor == 0.0:
        return proba
    p = np.asarray(proba, dtype=np.float64)
    k = p.shape[1]
    if not 0.0 < floor < 0.5 or k < 2:
        raise ValueError(f"a probability floor must be between 0 and 0.5 for 2 classes or more, not {floor!r}")
    share = min(1.0, floor * k / (k - 1))
    out: np.ndarray = (1.0 - share) * p + share / k
    return out


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) row by row (p clipped at 1e-15): rows sum to 1, each row's argmax is kept.
    T == 1 returns `proba` itself."""
    if temperature == 1.0:
        return proba
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"the temperature must be a positive number, not {temperature!r}")
    return _softmax(_logits(proba) / temperature)


def _nll(logits: np.ndarray, codes: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    top = z.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(codes)), codes]))


def mean_log_loss(proba: np.ndarray, codes: np.ndarray) -> float:
    """Mean -log p(true class), p clipped at 1e-15 and rows renormalised (as score_predictions scores)."""
    p = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(codes)), np.asarray(codes, dtype=np.int64)])))


def fit_temperature(proba: np.ndarray, codes: np.ndarray, lowest: float | None = None) -> float:
    """The T > 0 that minimises the mean log loss of softmax(log p / T) on these rows (`codes`: each row's
    true class as a column of `proba`); searched on log T in [-3, 3], or from log(`lowest`) up."""
    from scipy.optimize import minimize_scalar

    logits = _logits(proba)
    y = np.asarray(codes, dtype=np.int64)
    if len(y) == 0:
        return 1.0
    low = -LOG_T_BOUND if lowest is None else min(max(math.log(lowest), -LOG_T_BOUND), LOG_T_BOUND)
    if low >= LOG_T_BOUND:
        return math.exp(LOG_T_BOUND)
    result = minimize_scalar(
        lambda log_t: _nll(logits, y, math.exp(log_t)),
        bounds=(low, LOG_T_BOUND),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(math.exp(float(result.x)))


def _mean_confidence(proba: np.ndarray, temperature: float) -> float:
    return float(apply_temperature(proba, temperature).max(axis=1).mean())


def sharpest_temperature(proba: np.ndarray, codes: np.ndarray) -> float:
    """The lowest T the rows justify: T may sharpen the probabilities only until their mean confidence (the
    mean top probability) reaches the rows' accuracy, estimated by Laplace's rule as (right + 1) / (n + 2).
    1.0 when they are already that confident (then T may only soften them)."""
    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    accuracy = (int(np.sum(proba.argmax(axis=1) == codes)) + 1) / (n + 2)
    if _mean_confidence(proba, 1.0) >= accuracy:
        return 1.0
    low, high = -LOG_T_BOUND, 0.0  # confidence falls as log T rises: bisect for where it meets accuracy
    if _mean_confidence(proba, math.exp(low)) <= accuracy:
        return math.exp(low)
    for _ in range(40):
        middle = (low + high) / 2
        if _mean_confidence(proba, math.exp(middle)) > accuracy:
            low = middle
        else:
            high = middle
    return math.exp(high)


def _fit_bounded(proba: np.ndarray, codes: np.ndarray) -> float:
    return fit_temperature(proba, codes, lowest=sharpest_temperature(proba, codes))


def _folds(codes: np.ndarray, seed: int) -> list[np.ndarray]:
    """Held-out index sets: up to 5 stratified folds when every class present has that many rows, else
    up to 5 plain shuffled folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(codes)
    counts = np.bincount(codes)
    smallest = int(counts[counts > 0].min()) if n else 0
    k = min(MAX_FOLDS, smallest)
    index = np.arange(n)
    if k >= 2:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [held for _, held in splitter.split(index, codes)]
    plain = KFold(n_splits=min(MAX_FOLDS, n), shuffle=True, random_state=seed)
    return [held for _, held in plain.split(index)]


def choose_calibration(proba_valid: np.ndarray, codes_valid: np.ndarray, seed: int = 0) -> Calibration:
    """Whether temperature scaling helps these valid probabilities, decided out of fold; the Calibration
    to apply (method "none" when it does not help by more than MIN_GAIN, or the rows are too few), with the
    probability floor of n valid rows (`probability_floor`) in every case.

    codes_valid: each valid row's class as a column of `proba_valid`.
    """
    proba = np.asarray(proba_valid, dtype=np.float64)
    codes = np.asarray(codes_valid, dtype=np.int64)
    decision = _choose_temperature(proba, codes, seed)
    if proba.ndim != 2 or proba.shape[1] < 2 or len(codes) == 0:
        return decision
    floor = probability_floor(len(codes))
    bound = f"every row keeps at least {floor:.2g} off its top class (1 / (2n + 2) for n = {len(codes)} valid rows)"
    return replace(decision, floor=floor, reason=f"{decision.reason}; {bound}")


def _choose_temperature(proba: np.ndarray, codes: np.ndarray, seed: int) -> Calibration:
    n = len(codes)
    if n < MIN_ROWS or proba.ndim != 2 or proba.shape[1] < 2:
        return Calibration(rows=n, reason=f"not calibrated: {n} valid rows are too few to decide (needs {MIN_ROWS})")
    if not np.any(proba.argmax(axis=1) != codes):
        # The log loss then falls all the way as T -> 0: no held-out fold can show how sharp is too sharp,
        # and one wrong answer on new rows would cost more than every right one gains.
        return Calibration(
            rows=n,
            reason=f"not calibrated: all {n} valid rows are classified right, so they cannot tell what temperature fits",
        )
    calibrated = np.empty_like(proba)
    folds = _folds(codes, seed)
    for held in folds:
        fit_rows = np.setdiff1d(np.arange(n), held, assume_unique=True)
        t = _fit_bounded(proba[fit_rows], codes[fit_rows])
        calibrated[held] = apply_temperature(proba[held], t)
    before, after = mean_log_loss(proba, codes), mean_log_loss(calibrated, codes)
    scores = f"out-of-fold log loss {before:.4f} -> {after:.4f} on {len(folds)} folds of {n} valid rows"
    if not after < before * (1.0 - MIN_GAIN):
        return Calibration(
            oof_before=before,
            oof_after=after,
            folds=len(folds),
            rows=n,
            reason=f"not calibrated: {scores} (needs more than {MIN_GAIN:.1%} better)",
        )
    temperature = _fit_bounded(proba, codes)
    return Calibration(
        method="temperature",
        temperature=temperature,
        oof_before=before,
        oof_after=after,
        folds=len(folds),
        rows=n,
        reason=f"temperature {temperature:.3f}: {scores}",
    )


# --- decision thresholds ----------------------------------------------------------------------------------
#
# A binary metric computed from labels (balanced accuracy, F1) rewards the threshold that trades the two
# errors as the metric weighs them, not 0.5: on imbalanced rows balanced accuracy is best well below it.
# The threshold moves every row's log-odds by one constant, logit(p') = logit(p) - logit(t), so p' > 0.5
# exactly when p > t: the labels follow the threshold, the ranking (ROC AUC) stays, and every consumer of
# probabilities (argmax, scores, ensembles, fast paths, bundles) gets it with no change of its own.

THRESHOLD_METRICS = frozenset({"balanced_accuracy", "f1"})
THRESHOLD_GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)
MIN_THRESHOLD_GAIN = 0.002  # the out-of-fold score must rise by more than this for a threshold to be kept


def apply_threshold(proba: np.ndarray, threshold: float) -> np.ndarray:
    """Binary probabilities whose argmax is `p1 > threshold`: p1' = sigmoid(logit(p1) - logit(threshold))."""
    if threshold == 0.5:
        return proba
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the decision threshold must be between 0 and 1, not {threshold!r}")
    p1 = _positive_proba(proba, math.log(threshold / (1.0 - threshold)))
    out: np.ndarray = np.column_stack([1.0 - p1, p1])
    return out


def _positive_proba(proba: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """The positive class's probability as the argmax sees it (clipped, renormalised), its log-odds
    moved down by `shift`."""
    logits = _logits(proba)
    z = np.clip(logits[:, 1] - logits[:, 0] - shift, -700.0, 700.0)
    p1: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return p1


def _threshold_scores(p1: np.ndarray, positive: np.ndarray, metric: str, thresholds: np.ndarray) -> np.ndarray:
    """The metric at each threshold (label = p1 > t), from the confusion counts of all thresholds at once."""
    order = np.sort(p1)
    sorted_positive = np.sort(p1[positive])
    n, n_pos = len(p1), int(positive.sum())
    predicted = n - np.searchsorted(order, thresholds, side="right")  # rows with p1 > t
    tp = (n_pos - np.searchsorted(sorted_positive, thresholds, side="right")).astype(np.float64)
    fp = predicted - tp
    fn = n_pos - tp
    tn = (n - n_pos) - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "f1":
            scores = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        else:  # balanced accuracy: the mean recall of the classes present
            recalls = [r for r in (tp / (tp + fn), tn / (tn + fp)) if np.all(np.isfinite(r))]
            scores = np.mean(recalls, axis=0) if recalls else np.zeros(len(thresholds))
    result: np.ndarray = np.asarray(scores, dtype=np.float64)
    return result


def _best_threshold(p1: np.ndarray, positive: np.ndarray, metric: str) -> float:
    """The grid threshold with the best score on these rows; of equal ones, the nearest to 0.5."""
    scores = _threshold_scores(p1, positive, metric, THRESHOLD_GRID)
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(THRESHOLD_GRID[best[np.argmin(np.abs(THRESHOLD_GRID[best] - 0.5))]])


def choose_threshold(proba_valid: np.ndarray, codes_valid: np.ndarray, metric: str, seed: int = 0) -> Calibration:
    """Whether a binary classifier's decision threshold should move from 0.5 for `metric` (one of
    THRESHOLD_METRICS), decided out of fold on the valid rows: the threshold is chosen on k-1 folds and
    applied to the held-out fold, and kept only when the pooled held-out score beats 0.5's by more than
    MIN_THRESHOLD_GAIN; it is then chosen again on all the rows."""
    proba = np.asarray(proba_valid, dtype=np.float64)
    codes = np.asarray(codes_valid, dtype=np.int64)
    n = len(codes)
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"a decision threshold is chosen for {', '.join(sorted(THRESHOLD_METRICS))}, not {metric!r}")
    if n < MIN_ROWS or proba.ndim != 2 or proba.shape[1] != 2:
        return Calibration(rows=n, reason=f"threshold 0.5: {n} valid rows are too few to move it (needs {MIN_ROWS})")
    p1, positive = _positive_proba(proba), codes == 1
    folds = _folds(codes, seed)
    held_labels = np.zeros(n, dtype=bool)
    for held in folds:
        fit_rows = np.setdiff1d(np.arange(n), held, assume_unique=True)
        held_labels[held] = p1[held] > _best_threshold(p1[fit_rows], positive[fit_rows], metric)
    # The pooled held-out labels as a p1 of 0 or 1, scored at 0.5 by the same counting.
    after = float(_threshold_scores(held_labels.astype(np.float64), positive, metric, np.array([0.5]))[0])
    before = float(_threshold_scores(p1, positive, metric, np.array([0.5]))[0])
    scores = f"out-of-fold {metric} {before:.4f} -> {after:.4f} on {len(folds)} folds of {n} valid rows"
    if not after > before + MIN_THRESHOLD_GAIN:
        return Calibration(
            oof_before=before,
            oof_after=after,
            folds=len(folds),
            rows=n,
            reason=f"threshold 0.5: {scores} (needs more than {MIN_THRESHOLD_GAIN} better)",
        )
    threshold = _best_threshold(p1, positive, metric)
    return Calibration(
        method="threshold",
        threshold=threshold,
        oof_before=before,
        oof_after=after,
        folds=len(folds),
        rows=n,
        reason=f"threshold {threshold:.2f}: {scores}",
    )
