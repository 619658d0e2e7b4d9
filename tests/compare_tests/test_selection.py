"""Greedy ensemble selection and stacking on fixed predictions."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.compare import fit_stacking, greedy_selection
from workbench.model import score_predictions

Y = np.array([0.0, 1.0, 2.0, 3.0])


def rmse(prediction: np.ndarray) -> float:
    return float(np.sqrt(np.mean((prediction - Y) ** 2)))


def test_greedy_on_fixed_predictions_gives_the_known_selection() -> None:
    # a is good, b and c err in opposite directions: the best mix is b + c, which cancels their errors.
    a = Y + 0.5
    b = Y + np.array([1.0, -1.0, 1.0, -1.0])
    c = Y + np.array([-1.0, 1.0, -1.0, 1.0])
    d = Y + 3.0
    result = greedy_selection([a, b, c, d], rmse, greater_is_better=False, n_iterations=10)
    # Worked by hand: a, a, b, c, then b and c alternately; after 10 iterations a:2, b:4, c:4, where the
    # errors of b and c cancel and only a's 0.5 remains, weighted 0.2: rmse 0.1, the best prefix.
    assert result.scores[0] == pytest.approx(0.5)
    np.testing.assert_allclose(result.weights, [0.2, 0.4, 0.4, 0.0])
    assert result.scores[result.best_iteration] == pytest.approx(0.1)
    assert result.scores[result.best_iteration] == min(result.scores)


def test_greedy_never_scores_below_its_best_member() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    preds = []
    for noise in (0.2, 0.5, 0.8, 1.2):
        p1 = np.clip(y + rng.normal(scale=noise, size=200), 0, 1)
        preds.append(np.column_stack([1 - p1, p1]))

    def auc(p: np.ndarray) -> float:
        return score_predictions("roc_auc", "binary", y, p, (0, 1))

    result = greedy_selection(preds, auc, greater_is_better=True)
    best_single = max(auc(p) for p in preds)
    assert result.scores[result.best_iteration] >= best_single
    assert result.weights.sum() == pytest.approx(1.0)


def test_max_members_and_admissibility_are_respected() -> None:
    rng = np.random.default_rng(1)
    preds = [Y + rng.normal(scale=0.5, size=4) for _ in range(8)]
    capped = greedy_selection(preds, rmse, False, n_iterations=30, max_members=2)
    assert np.count_nonzero(capped.weights) <= 2
    vetoed = greedy_selection(preds, rmse, False, n_iterations=30, admissible=lambda members: 0 not in members)
    assert vetoed.weights[0] == 0
    with pytest.raises(ValueError, match="constraints"):
        greedy_selection(preds, rmse, False, admissible=lambda members: False)


def test_stacking_fits_on_valid_rows_only() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b", "c"], size=300)
    codes = np.searchsorted(["a", "b", "c"], y)
    members = []
    for noise in (0.3, 0.6):
        logits = np.eye(3)[codes] + rng.normal(scale=noise, size=(300, 3))
        members.append(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    test_a = [m[:50] for m in members]
    test_b = [m[::-1][:50] for m in members]
    first = fit_stacking(members, y, test_a, "multiclass", ("a", "b", "c"))
    second = fit_stacking(members, y, test_b, "multiclass", ("a", "b", "c"))
    # Different test rows change the test predictions but never the fitted meta-model.
    np.testing.assert_array_equal(first.meta.coef_, second.meta.coef_)
    assert not np.allclose(first.test_pred, second.test_pred)
    assert first.valid_pred.shape == (300, 3) and np.allclose(first.valid_pred.sum(axis=1), 1)
    assert first.meta.n_features_in_ == 6
    honest = score_predictions("accuracy", "multiclass", y, first.valid_pred, ("a", "b", "c"))
    assert honest > 0.8  # out-of-fold predictions of a sensible meta-model
    regression = fit_stacking([Y, Y + 1.0], Y, [Y, Y + 1.0], "regression", None, folds=2)
    assert regression.test_pred.shape == (4,)
