"""Honest ensemble selection on fixed synthetic predictions (no model fits): the proxy per metric,
cross-validated acceptance, constraints, seeds, and build_ensemble's choice and record."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from workbench.compare import (
    BuiltEnsemble,
    ComparisonData,
    EnsembleConstraints,
    ModelPredictions,
    build_ensemble,
    greedy_selection,
    honest_greedy,
    honest_stacking,
    selection_proxy,
)
from workbench.compare import _ensembles as ensembles
from workbench.compare._selection import assign_folds, scorer, selection_scorer
from workbench.metrics import METRICS, get_metric
from workbench.model import score_predictions

WEATHER = ("rain", "snow", "sun")  # sorted, as the store gives classes
BINARY = ("no", "yes")


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _blend(weights: np.ndarray, predictions: list[np.ndarray]) -> np.ndarray:
    return sum(w * p for w, p in zip(weights, predictions, strict=True) if w > 0)  # type: ignore[return-value]


def noisy_members(seed: int, n_valid: int = 60, n_test: int = 4000, n_noise: int = 30) -> dict[str, Any]:
    """One real model and 30 members that are pure noise, on 3 classes with a rare one: a small valid set
    where some noise member always flips a few valid rows the right way by chance."""
    rng = np.random.default_rng(seed)
    codes = {part: rng.choice(3, size=n, p=[0.6, 0.1, 0.3]) for part, n in (("valid", n_valid), ("test", n_test))}

    def strong(c: np.ndarray) -> np.ndarray:
        return _softmax(1.5 * np.eye(3)[c] + rng.normal(size=(len(c), 3)))

    def noise(c: np.ndarray) -> np.ndarray:
        return _softmax(rng.normal(scale=2.0, size=(len(c), 3)))

    return {
        "y_valid": np.array(WEATHER, dtype=object)[codes["valid"]],
        "y_test": np.array(WEATHER, dtype=object)[codes["test"]],
        "valid": [strong(codes["valid"])] + [noise(codes["valid"]) for _ in range(n_noise)],
        "test": [strong(codes["test"])] + [noise(codes["test"]) for _ in range(n_noise)],
    }


def complementary_pair(seed: int, n_valid: int = 200, n_test: int = 4000, n_noise: int = 4) -> dict[str, Any]:
    """Members 0 and 1 are each sure and right on their half of the rows and unsure on the other half:
    each alone is about 75% accurate, their average nearly 100%. Members 2.. are noise."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"valid": [], "test": []}
    for part, n in (("valid", n_valid), ("test", n_test)):
        y = rng.integers(0, 2, size=n)
        half = rng.integers(0, 2, size=n)
        members = []
        for expert in (0, 1):
            sure = np.where(y == 1, 0.95, 0.05)
            unsure = np.clip(0.5 + rng.normal(scale=0.1, size=n), 0.01, 0.99)
            members.append(np.where(half == expert, sure, unsure))
        members += [rng.uniform(0.05, 0.95, size=n) for _ in range(n_noise)]
        out[part] = [np.column_stack([1 - p, p]) for p in members]
        out[f"y_{part}"] = np.array(BINARY, dtype=object)[y]
    return out


# the proxy per metric ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "problem_type", "proxy"),
    [
        ("accuracy", "multiclass", "log_loss"),
        ("balanced_accuracy", "multiclass", "balanced_log_loss"),
        ("accuracy", "binary", "log_loss"),
        ("f1", "binary", "log_loss"),
        ("roc_auc", "binary", "roc_auc"),
        ("log_loss", "multiclass", "log_loss"),
        ("rmse", "regression", "rmse"),
        ("mae", "regression", "mae"),
        ("r2", "regression", "r2"),
    ],
)
def test_the_proxy_is_log_loss_for_thresholded_metrics_only(metric: str, problem_type: str, proxy: str) -> None:
    assert selection_proxy(metric, problem_type) == proxy
    assert get_metric(metric, problem_type).thresholded == (proxy != metric)


def test_every_label_metric_is_thresholded() -> None:
    assert {n for n, m in METRICS.items() if m.thresholded} == {"accuracy", "balanced_accuracy", "f1"}


def test_balanced_log_loss_weighs_every_class_the_same() -> None:
    from sklearn.metrics import log_loss
    from sklearn.utils.class_weight import compute_sample_weight

    rng = np.random.default_rng(5)
    y = np.array(WEATHER, dtype=object)[rng.choice(3, size=90, p=[0.7, 0.05, 0.25])]
    p = _softmax(rng.normal(size=(90, 3)))
    balanced = selection_scorer("balanced_log_loss", "multiclass", y, WEATHER)(p)
    expected = log_loss(y, p, labels=list(WEATHER), sample_weight=compute_sample_weight("balanced", y))
    assert balanced == pytest.approx(expected, abs=1e-12)
    assert balanced != pytest.approx(selection_scorer("log_loss", "multiclass", y, WEATHER)(p))


@pytest.mark.parametrize(
    ("metric", "problem_type"),
    [
        ("log_loss", "multiclass"),
        ("roc_auc", "binary"),
        ("rmse", "regression"),
        ("mae", "regression"),
        ("r2", "regression"),
        ("balanced_accuracy", "multiclass"),
    ],
)
def test_the_fast_scorers_agree_with_score_predictions(metric: str, problem_type: str) -> None:
    rng = np.random.default_rng(3)
    if problem_type == "regression":
        y: np.ndarray = rng.normal(size=80)
        predictions = [y + rng.normal(size=80), np.round(y), np.full(80, y.mean())]
        classes: tuple[str, ...] | None = None
    else:
        classes = BINARY if problem_type == "binary" else WEATHER
        y = np.array(classes, dtype=object)[rng.integers(0, len(classes), size=80)]
        raw = _softmax(rng.normal(size=(80, len(classes))))
        # rounded: many ties for roc_auc; one zero column: log loss clipping
        predictions = [
            raw,
            np.round(raw, 1) / np.round(raw, 1).sum(axis=1, keepdims=True),
            np.eye(len(classes))[[0] * 80],
        ]
    fast = selection_scorer(metric, problem_type, y, classes)
    for p in predictions:
        assert fast(p) == pytest.approx(score_predictions(metric, problem_type, y, p, classes), abs=1e-12)


def test_folds_are_seeded_stratified_and_balanced() -> None:
    y = np.array(["rain"] * 180 + ["sun"] * 107 + ["snow"] * 5, dtype=object)
    folds = assign_folds(y, 5, seed=0, stratify=True)
    np.testing.assert_array_equal(folds, assign_folds(y, 5, seed=0, stratify=True))
    assert not np.array_equal(folds, assign_folds(y, 5, seed=1, stratify=True))
    assert sorted(folds[y == "snow"].tolist()) == [0, 1, 2, 3, 4]  # the rare class spread over every fold
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1
    assert np.bincount(assign_folds(np.zeros(11), 4, seed=0, stratify=False)).tolist() in ([3, 3, 3, 2], [3, 3, 2, 3])


# cross-validated acceptance ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_plain_greedy_on_a_thresholded_metric_overfits_and_honest_selection_does_not(metric: str) -> None:
    proxy = "balanced_log_loss" if metric == "balanced_accuracy" else "log_loss"
    refused = 0
    for seed in range(6):
        case = noisy_members(seed)
        y_valid, y_test, valid, test = case["y_valid"], case["y_test"], case["valid"], case["test"]

        def on_test(p: np.ndarray, y_test: np.ndarray = y_test) -> float:
            return score_predictions(metric, "multiclass", y_test, p, WEATHER)

        plain = greedy_selection(valid, scorer(metric, "multiclass", y_valid, WEATHER), True, n_iterations=20)
        names = [f"m{i}" for i in range(len(valid))]
        honest = honest_greedy(valid, y_valid, metric, "multiclass", WEATHER, names=names)
        report = honest.report
        assert report.proxy == proxy and report.folds == 5 and report.rows == 60
        # Plain greedy on 60 valid rows blends in noise members that flipped valid rows by chance; the honest
        # selection refuses the ensemble or keeps one that is as good as the real model out of sample.
        assert on_test(_blend(honest.weights, test)) >= on_test(test[0]) - 0.005
        if np.count_nonzero(plain.weights) > 1:
            assert on_test(_blend(plain.weights, test)) < on_test(_blend(honest.weights, test)) - 0.005
        if not report.kept:
            refused += 1
            np.testing.assert_array_equal(honest.weights, np.eye(len(valid))[0])
            assert report.reason.startswith(f"Not kept: greedy selection on {proxy} scored ")
            assert report.reason.endswith("the best single candidate, m0, is used instead.")
    assert refused >= 4


def test_cross_validation_refuses_blends_that_only_win_on_their_own_rows() -> None:
    # rmse selects on itself: the proxy does not help here, only the out-of-fold check does. The members are
    # a real model and 30 badly perturbed copies of it; 24 valid rows.
    refused, plain_test, honest_test = 0, [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        y_valid, y_test = rng.normal(scale=3, size=24), rng.normal(scale=3, size=4000)
        strong_valid, strong_test = y_valid + rng.normal(size=24), y_test + rng.normal(size=4000)
        valid = [strong_valid] + [strong_valid + rng.normal(scale=2, size=24) for _ in range(30)]
        test = [strong_test] + [strong_test + rng.normal(scale=2, size=4000) for _ in range(30)]
        plain = greedy_selection(valid, scorer("rmse", "regression", y_valid, None), greater_is_better=False)
        honest = honest_greedy(valid, y_valid, "rmse", "regression", None, seed=seed)
        assert honest.report.proxy == "rmse"
        refused += not honest.report.kept
        plain_test.append(score_predictions("rmse", "regression", y_test, _blend(plain.weights, test)))
        honest_test.append(score_predictions("rmse", "regression", y_test, _blend(honest.weights, test)))
    assert refused >= 6
    assert np.mean(honest_test) < np.mean(plain_test) - 0.1


def test_a_complementary_pair_is_kept() -> None:
    case = complementary_pair(0)
    honest = honest_greedy(case["valid"], case["y_valid"], "accuracy", "binary", BINARY)
    report = honest.report
    assert report.kept and report.oof_score is not None and report.member_oof_score is not None
    assert report.oof_score > report.member_oof_score + 0.1
    assert report.reason.startswith("Kept: greedy selection on log_loss scored ")
    assert honest.weights[0] > 0.2 and honest.weights[1] > 0.2
    np.testing.assert_array_equal(honest.weights, honest.ensemble_weights)

    def on_test(p: np.ndarray) -> float:
        return score_predictions("accuracy", "binary", case["y_test"], p, BINARY)

    assert on_test(_blend(honest.weights, case["test"])) > max(on_test(p) for p in case["test"]) + 0.1


def test_a_tie_on_a_thresholded_metric_is_decided_out_of_fold_by_the_proxy() -> None:
    # Both members are right on every valid row, each sure on a different half: accuracy cannot tell a blend
    # from a member, log loss can (the blend is as sure everywhere as each member on average, and log loss
    # punishes the unsure rows more).
    rng = np.random.default_rng(0)
    y = rng.choice(np.array(BINARY, dtype=object), size=120)
    first_half = np.arange(120) < 60
    rng.shuffle(first_half)

    def member(sure: np.ndarray) -> np.ndarray:
        right = np.where(sure, 0.95, 0.6)
        p_yes = np.where(y == "yes", right, 1 - right)
        return np.column_stack([1 - p_yes, p_yes])

    pair = [member(first_half), member(~first_half)]
    honest = honest_greedy(pair, y, "accuracy", "binary", BINARY, names=["a", "b"])
    report = honest.report
    assert report.oof_score == report.member_oof_score == 1.0
    assert report.kept and report.oof_proxy is not None and report.member_oof_proxy is not None
    assert report.oof_proxy < report.member_oof_proxy - 0.03
    assert np.count_nonzero(honest.weights) == 2
    assert "level with 1.0000 for the best single member" in report.reason
    assert "and better on log_loss" in report.reason and report.to_dict()["oof_proxy"] == report.oof_proxy
    # Tied on the proxy too (the same member twice): a blend is not worth its latency.
    same = honest_greedy([pair[0], pair[0].copy()], y, "accuracy", "binary", BINARY, names=["a", "a2"])
    assert not same.report.kept and "and no better on log_loss" in same.report.reason
    _, stacked = honest_stacking(pair, y, pair, "accuracy", "binary", BINARY)
    assert stacked.oof_score == stacked.member_oof_score and stacked.oof_proxy is not None
    assert stacked.kept == (stacked.oof_proxy < stacked.member_oof_proxy)  # type: ignore[operator]
    # A metric that is its own proxy has no tie-break to make.
    by_loss = honest_greedy(pair, y, "log_loss", "binary", BINARY)
    assert by_loss.report.oof_proxy is None and by_loss.report.kept


def test_stacking_is_kept_only_when_it_beats_its_best_member() -> None:
    pair = complementary_pair(1)
    result, report = honest_stacking(pair["valid"], pair["y_valid"], pair["test"], "accuracy", "binary", BINARY)
    assert report.kept and report.proxy == "log_loss" and report.folds == 5
    assert report.oof_score == score_predictions("accuracy", "binary", pair["y_valid"], result.valid_pred, BINARY)
    noise = noisy_members(1)
    valid, test = noise["valid"][:8], noise["test"][:8]
    _, refused = honest_stacking(valid, noise["y_valid"], test, "balanced_accuracy", "multiclass", WEATHER)
    assert not refused.kept and "stacking is not used" in refused.reason
    assert refused.proxy == "balanced_log_loss"  # the meta-model weighs classes as balanced_accuracy does


def test_the_selection_is_deterministic_for_a_seed() -> None:
    case = noisy_members(4)
    runs = [honest_greedy(case["valid"], case["y_valid"], "accuracy", "multiclass", WEATHER, seed=7) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)
    assert runs[0].report == runs[1].report
    stacked = [
        honest_stacking(case["valid"][:4], case["y_valid"], case["test"][:4], "accuracy", "multiclass", WEATHER, seed=7)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(stacked[0][0].valid_pred, stacked[1][0].valid_pred)
    assert stacked[0][1] == stacked[1][1]


def test_constraints_hold_on_every_fold_and_in_the_fallback() -> None:
    case = complementary_pair(2)
    capped = honest_greedy(case["valid"], case["y_valid"], "accuracy", "binary", BINARY, max_members=1)
    assert np.count_nonzero(capped.weights) == 1 and np.count_nonzero(capped.ensemble_weights) == 1
    calls: list[set[int]] = []

    def without_first(members: set[int]) -> bool:
        calls.append(set(members))
        return 0 not in members

    vetoed = honest_greedy(case["valid"], case["y_valid"], "accuracy", "binary", BINARY, admissible=without_first)
    assert vetoed.weights[0] == 0 and vetoed.ensemble_weights[0] == 0 and vetoed.best_member != 0
    assert not vetoed.report.kept  # without its partner, member 1 gains nothing from the noise members
    assert len(calls) > 5 * len(case["valid"])  # consulted on the folds too, not only on all valid rows
    with pytest.raises(ValueError, match="constraints"):
        honest_greedy(case["valid"], case["y_valid"], "accuracy", "binary", BINARY, admissible=lambda m: False)


def test_too_few_valid_rows_keep_no_ensemble() -> None:
    y = np.array([0.0, 1.0, 2.0])
    result = honest_greedy([y + 0.5, y - 0.5, y + 1.0], y, "rmse", "regression", None)
    assert result.report.folds == 0 and result.report.oof_score is None and not result.report.kept
    assert result.report.reason.startswith("Not kept: 3 valid rows are too few to check greedy selection on rmse")
    assert np.count_nonzero(result.weights) == 1


# build_ensemble's choice and record, with the model measurement replaced ------------------------------


def _comparison(case: dict[str, Any], metric: str, problem_type: str, classes: tuple[str, ...]) -> ComparisonData:
    models = [
        ModelPredictions(
            id=i + 1,
            kind="candidate",
            name=f"model-{i + 1}",
            engine="optuna" if i % 2 else "autogluon",
            model_type="lightgbm",
            valid=valid,
            test=test,
            valid_score=score_predictions(metric, problem_type, case["y_valid"], valid, classes),
            test_score=score_predictions(metric, problem_type, case["y_test"], test, classes),
            predict_row_ms=0.5,
            predict_batch_ms=1.0,
            size_bytes=1000 * (i + 1),
            fit_time_s=1.0,
        )
        for i, (valid, test) in enumerate(zip(case["valid"], case["test"], strict=True))
    ]
    return ComparisonData(
        experiment=SimpleNamespace(id=1),  # type: ignore[arg-type]
        problem_type=problem_type,
        metric=metric,
        greater_is_better=True,
        classes=classes,
        y_valid=case["y_valid"],
        y_test=case["y_test"],
        models=tuple(models),
        trials=(),
    )


@pytest.fixture
def unmeasured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip loading member models and timing them: scores come from the predictions as in the real code."""

    def measured(workspace: Any, data: ComparisonData, method: str, members: list[ModelPredictions], weights: Any,
                 valid_pred: Any, test_pred: Any, meta: Any, sizes: Any) -> BuiltEnsemble:  # fmt: skip
        return BuiltEnsemble(
            method=method,  # type: ignore[arg-type]
            member_ids=[m.id for m in members],
            member_names=[m.name for m in members],
            weights=list(weights),
            valid_pred=np.asarray(valid_pred),
            test_pred=np.asarray(test_pred),
            valid_score=score_predictions(data.metric, data.problem_type, data.y_valid, valid_pred, data.classes),
            test_score=score_predictions(data.metric, data.problem_type, data.y_test, test_pred, data.classes),
            predict_row_ms=sum(m.predict_row_ms or 0 for m in members),
            predict_batch_ms=1.0,
            size_bytes=sum(m.size_bytes or 0 for m in members),
            model=None,  # type: ignore[arg-type]
            meta=meta,
        )

    monkeypatch.setattr(ensembles, "_assembled", measured)
    monkeypatch.setattr(ensembles, "_materialize", lambda workspace, data, built: None)


@pytest.mark.usefixtures("unmeasured")
def test_build_ensemble_falls_back_to_the_best_single_candidate() -> None:
    data = _comparison(noisy_members(2), "balanced_accuracy", "multiclass", WEATHER)
    built = build_ensemble(None, data.experiment, comparison=data)  # type: ignore[arg-type]
    best = max(data.candidates(), key=lambda m: m.valid_score or 0)
    assert built.method == "greedy" and built.member_ids == [best.id] and built.weights == [1.0]
    assert built.valid_score == best.valid_score and built.test_score == best.test_score
    record = built.to_dict()["selection"]
    assert record["proxy"] == "balanced_log_loss" and record["kept"] is False and record["folds"] == 5
    assert record["oof_score"] <= record["best_member_oof_score"]
    assert record["reason"].endswith(f"the best single candidate, {best.name}, is used instead.")
    assert any(line.startswith("stacking: Not kept: stacking") for line in built.rejected)


@pytest.mark.usefixtures("unmeasured")
def test_build_ensemble_keeps_a_complementary_pair_under_constraints() -> None:
    data = _comparison(complementary_pair(3), "accuracy", "binary", BINARY)
    built = build_ensemble(None, data.experiment, EnsembleConstraints(max_members=2), comparison=data)  # type: ignore[arg-type]
    assert set(built.member_ids) == {1, 2}
    assert built.selection is not None and built.selection.kept
    assert built.test_score > max(m.test_score or 0 for m in data.candidates()) + 0.1
    assert built.to_dict()["selection"]["reason"].startswith("Kept: ")
    small = build_ensemble(None, data.experiment, EnsembleConstraints(max_size_bytes=2500), comparison=data)  # type: ignore[arg-type]
    assert small.size_bytes <= 2500


@pytest.mark.usefixtures("unmeasured")
def test_stacking_alone_is_built_anyway_and_says_so() -> None:
    data = _comparison(noisy_members(2), "balanced_accuracy", "multiclass", WEATHER)
    built = build_ensemble(None, data.experiment, methods=("stacking",), comparison=data)  # type: ignore[arg-type]
    assert built.method == "stacking" and built.meta is not None
    assert built.selection is not None and not built.selection.kept
    assert built.selection.reason.endswith("it is built anyway, as only stacking was asked for.")
