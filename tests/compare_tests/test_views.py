"""Comparison views on synthetic predictions: the data functions' values, every plot, and label escaping."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from workbench.compare import ComparisonData, ModelPredictions
from workbench.compare import views as v
from workbench.config import Settings
from workbench.errors import InvalidInputError
from workbench.metrics import METRICS
from workbench.model import FittedModel, InputSchema, score_predictions
from workbench.store import ExperimentSpec, Workspace, trial_data
from workbench.store._trials import TrialRow

REPO = Path(__file__).resolve().parents[2]
XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"

# (engine, kind, name, quality, row ms, size bytes)
MODELS = (
    ("optuna", "candidate", "lightgbm-3", 3.0, 0.5, 2_000_000),
    ("optuna", "candidate", "linear-1", 1.0, 0.1, 10_000),
    ("autogluon", "candidate", "LightGBM_BAG_L1", 2.0, 1.0, 5_000_000),
    ("autogluon", "candidate", XSS, 0.5, 2.0, None),
    ("workbench", "ensemble", "ensemble-greedy-3", 4.0, 3.0, 8_000_000),
)


def _prediction(rng: np.random.Generator, y: np.ndarray, classes: Any, quality: float) -> np.ndarray:
    if classes is None:
        return y + rng.normal(scale=float(np.std(y)) / quality, size=len(y))
    onehot = np.column_stack([y == c for c in classes]).astype(float)
    logits = quality * onehot + rng.normal(size=onehot.shape)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _trials(experiment_id: int) -> tuple[TrialRow, ...]:
    spec = [  # engine, number, state, value, finished_at
        ("optuna", 0, "COMPLETE", 0.80, 10.0),
        ("optuna", 1, "COMPLETE", 0.90, 12.0),
        ("optuna", 2, "PRUNED", 0.95, 11.0),
        ("optuna", 3, "FAILED", None, 13.0),
        ("optuna", 4, "COMPLETE", 0.85, 14.0),
        ("optuna", 5, "RUNNING", None, None),
        ("autogluon", 0, "COMPLETE", 0.70, 20.0),
        ("autogluon", 1, "CANCELLED", None, 21.0),
    ]
    return tuple(
        TrialRow(
            id=i + 1,
            experiment_id=experiment_id,
            engine=engine,
            number=number,
            state=state,
            params={},
            values=[value] if value is not None else None,
            error="boom" if state == "FAILED" else None,
            worker=None,
            attempts=1,
            created_at=0.0,
            started_at=finished - 1 if finished else None,
            finished_at=finished,
        )
        for i, (engine, number, state, value, finished) in enumerate(spec)
    )


def build(ws: Workspace, dataset: str, metric: str | None = None, seed: int = 0) -> ComparisonData:
    """A ComparisonData of synthetic models (no search) on a real experiment's valid and test rows."""
    experiment = ws.create_experiment(ExperimentSpec(dataset, metric=metric))
    rows = trial_data(ws, experiment)
    rng = np.random.default_rng(seed)
    models = []
    for i, (engine, kind, name, quality, row_ms, size) in enumerate(MODELS):
        valid = _prediction(rng, rows.y_selection, rows.classes, quality)
        test = _prediction(rng, rows.y_test, rows.classes, quality)
        models.append(
            ModelPredictions(
                id=i + 1,
                kind=kind,  # type: ignore[arg-type]
                name=name,
                engine=engine,
                model_type=name.split("-")[0],
                valid=valid,
                test=test,
                valid_score=score_predictions(
                    experiment.metric, experiment.problem_type, rows.y_selection, valid, rows.classes
                ),
                test_score=score_predictions(
                    experiment.metric, experiment.problem_type, rows.y_test, test, rows.classes
                ),
                predict_row_ms=row_ms,
                predict_batch_ms=row_ms * 10,
                size_bytes=size,
                fit_time_s=None if kind == "ensemble" else 1.5 * (i + 1),
                trial_number=i,
            )
        )
    return ComparisonData.from_rows(experiment, rows.targets(), models, _trials(experiment.id))


def with_xss_class(data: ComparisonData) -> ComparisonData:
    """The same data with the first class renamed to an HTML payload (columns keep their order)."""
    assert data.classes is not None
    renamed = {data.classes[0]: XSS}
    classes = tuple(renamed.get(c, c) for c in data.classes)
    relabel = np.vectorize(lambda c: renamed.get(c, c), otypes=[object])
    return replace(data, classes=classes, y_valid=relabel(data.y_valid), y_test=relabel(data.y_test))


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ComparisonData]]:
    home = tmp_path_factory.mktemp("views")
    with Workspace(Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets")) as ws:
        yield {
            "binary": build(ws, "breast_cancer"),
            "multiclass": build(ws, "penguins"),
            "regression": build(ws, "grunfeld", metric="rmse"),
        }


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _strings(value)
    elif isinstance(obj, np.ndarray) and obj.dtype.kind in "OUS":
        for value in obj.ravel().tolist():
            yield from _strings(value)


def assert_escaped(fig: go.Figure) -> None:
    texts = list(_strings(fig.to_plotly_json()))
    assert not [t for t in texts if "<img" in t]
    assert any(XSS_ESCAPED in t for t in texts)


# ---------------------------------------------------------------- pareto_front


def test_pareto_front_on_a_hand_made_set() -> None:
    points = np.array(
        [
            [0.90, 5.0],  # on the front: best score
            [0.85, 1.0],  # on the front
            [0.80, 0.5],  # on the front: fastest
            [0.80, 2.0],  # dominated by [0.85, 1.0]
            [0.85, 1.0],  # a duplicate of a front point: stays on it
            [0.70, 0.5],  # dominated by [0.80, 0.5] (equal cost, worse score)
            [np.nan, 0.1],  # missing: never on the front, dominates nothing
        ]
    )
    front = v.pareto_front(points, maximize=[True, False])
    assert front.tolist() == [True, True, True, False, True, False, False]
    # Flipping the directions: low score and high cost are now good ([0.80, 2.0] dominates 0.85/1.0 and 0.80/0.5).
    assert v.pareto_front(points, maximize=[False, True]).tolist() == [True, False, False, True, False, True, False]
    cube = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
    assert v.pareto_front(cube, [True, True, True]).tolist() == [True, False, False, False]
    assert v.pareto_front(np.zeros((0, 2)), [True, False]).tolist() == []
    with pytest.raises(InvalidInputError):
        v.pareto_front(points, [True])


def test_pareto_front_matches_brute_force_on_random_points() -> None:
    rng = np.random.default_rng(3)
    points = rng.integers(0, 6, size=(300, 3)).astype(float)  # many ties
    maximize = [True, False, True]
    signed = points * np.where(maximize, -1, 1)
    expected = [
        not any((signed[j] <= signed[i]).all() and (signed[j] < signed[i]).any() for j in range(len(points)))
        for i in range(len(points))
    ]
    assert v.pareto_front(points, maximize).tolist() == expected


# ---------------------------------------------------------------- leaderboard


@pytest.mark.parametrize("case", ["binary", "multiclass", "regression"])
def test_leaderboard_is_best_first_in_the_metric_direction(cases: dict[str, ComparisonData], case: str) -> None:
    data = cases[case]
    info = v.get_leaderboard_info(data)
    scores = [r.valid_score for r in info.rows]
    assert len(info.rows) == len(data.models)
    expected = sorted(scores, reverse=data.greater_is_better)  # type: ignore[type-var]
    assert scores == expected
    assert [r.key for r in info.rows] == [m.key for m in data.ranked()]
    assert [r.rank for r in info.rows] == list(range(1, len(info.rows) + 1))
    assert set(info.table()) == {
        "rank",
        "name",
        "engine",
        "kind",
        "model_type",
        "valid",
        "test",
        "fit s",
        "row ms",
        "batch ms",
        "size MB",
        "trained on",
    }
    assert {r.kind for r in info.rows} == {"candidate", "ensemble"}
    assert {r.engine for r in info.rows} == {"optuna", "autogluon", "workbench"}
    if case == "regression":
        assert not info.greater_is_better  # rmse: the smallest first
        assert info.rows[0].valid_score == min(m.valid_score for m in data.models if m.valid_score is not None)


def test_leaderboard_for_log_loss_and_missing_scores(cases: dict[str, ComparisonData]) -> None:
    data = cases["binary"]
    models = tuple(
        replace(
            m,
            valid_score=score_predictions("log_loss", "binary", data.y_valid, m.valid, data.classes),
            test_score=None if i == 0 else m.test_score,
        )
        for i, m in enumerate(data.models)
    )
    models = (*models, replace(models[0], id=99, valid_score=None))
    data = replace(data, metric="log_loss", greater_is_better=False, models=models)
    info = v.get_leaderboard_info(data)
    assert [r.valid_score for r in info.rows[:-1]] == sorted(m.valid_score for m in models[:-1])  # type: ignore[type-var]
    assert info.rows[-1].key == "c99"  # no valid score: last
    by_test = info.sorted("test")
    assert by_test.rows[-1].test_score is None
    assert info.sorted("row ms").rows[0].predict_row_ms == 0.1
    assert info.sorted("size MB", descending=True).rows[0].size_mb == 8.0
    with pytest.raises(InvalidInputError):
        info.sorted("nope")


# ---------------------------------------------------------------- history


def test_history_best_so_far_and_states(cases: dict[str, ComparisonData]) -> None:
    data = cases["binary"]
    info = v.get_history_info(data)
    assert [e.engine for e in info.engines] == ["autogluon", "optuna"]
    optuna = info.engines[1]
    assert optuna.numbers.tolist() == [0, 1, 2, 3, 4]  # the running trial is left out
    assert optuna.states == ("COMPLETE", "COMPLETE", "PRUNED", "FAILED", "COMPLETE")
    np.testing.assert_array_equal(optuna.values, [0.80, 0.90, 0.95, np.nan, 0.85])
    # The pruned trial's 0.95 is an intermediate value: not a best.
    np.testing.assert_array_equal(optuna.best, [0.80, 0.90, 0.90, 0.90, 0.90])
    assert optuna.best_number == 1
    lower = v.get_history_info(replace(data, metric="log_loss", greater_is_better=False))
    np.testing.assert_array_equal(lower.engines[1].best, [0.80, 0.80, 0.80, 0.80, 0.80])
    finish = v.get_history_info(data, order="finish")
    assert finish.engines[1].numbers.tolist() == [0, 2, 1, 3, 4]
    assert finish.engines[1].x.tolist() == [1, 2, 3, 4, 5]
    ag = info.engines[0]
    assert ag.states == ("COMPLETE", "CANCELLED") and ag.best.tolist() == [0.70, 0.70]
    assert v.get_history_info(replace(data, trials=())).engines == ()


# ---------------------------------------------------------------- pareto info


@pytest.mark.parametrize("case", ["binary", "regression"])
def test_pareto_info_fronts(cases: dict[str, ComparisonData], case: str) -> None:
    data = cases[case]
    info = v.get_pareto_info(data)
    valid = np.array([m.valid_score for m in data.models], dtype=float)
    row_ms = np.array([m.predict_row_ms for m in data.models], dtype=float)
    expected = v.pareto_front(np.column_stack([valid, row_ms]), [data.greater_is_better, False])
    assert info.latency_front.tolist() == expected.tolist()
    assert info.latency_front.any()
    xss = info.names.index(XSS)
    assert not info.size_front[xss]  # no size: on no size front
    fastest = int(np.argmin(row_ms))
    assert info.latency_front[fastest]
    best = int(np.argmax(valid) if data.greater_is_better else np.argmin(valid))
    assert info.latency_front[best] and info.size_front[best]
    assert info.front_names("latency")[0] == data.models[best].name


# ---------------------------------------------------------------- weights


def test_weights_info() -> None:
    info = v.get_weights_info(["a", "b", XSS], [0.2, 0.5, 0.3], "ens")
    assert info.names == ("b", XSS, "a")
    np.testing.assert_allclose(info.weights, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(info.shares, [0.5, 0.3, 0.2])
    with pytest.raises(InvalidInputError):
        v.get_weights_info(["a"], [0.5, 0.5], "ens")
    fig = v.plot_weights(info)
    assert isinstance(fig, go.Figure)
    assert_escaped(fig)


# ---------------------------------------------------------------- ROC / PR


def test_roc_pr_binary_matches_sklearn(cases: dict[str, ComparisonData]) -> None:
    data = cases["binary"]
    assert data.classes is not None
    info = v.get_roc_pr_info(data)
    assert [c.key for c in info.curves] == [m.key for m in data.ranked()[:3]]
    positive = data.y_test == data.classes[1]
    for c in info.curves:
        p = data.model(c.key).test[:, 1]
        assert c.roc_auc == pytest.approx(skm.roc_auc_score(positive, p))
        assert c.roc_auc == pytest.approx(
            score_predictions("roc_auc", "binary", data.y_test, data.model(c.key).test, data.classes)
        )
        assert c.average_precision == pytest.approx(skm.average_precision_score(positive, p))
    assert info.prevalence == pytest.approx(positive.mean())
    with pytest.raises(InvalidInputError):
        v.get_roc_pr_info(data, rows="train")
    valid = v.get_roc_pr_info(data, ["linear-1"], rows="valid")
    m = data.model("linear-1")
    assert valid.curves[0].roc_auc == pytest.approx(skm.roc_auc_score(data.y_valid == data.classes[1], m.valid[:, 1]))


def test_roc_pr_multiclass_is_micro_averaged(cases: dict[str, ComparisonData]) -> None:
    data = cases["multiclass"]
    assert data.classes is not None
    info = v.get_roc_pr_info(data, ["lightgbm-3", "c2"])
    onehot = label_binarize(data.y_test, classes=list(data.classes))
    for c in info.curves:
        proba = data.model(c.key).test
        assert c.roc_auc == pytest.approx(skm.roc_auc_score(onehot, proba, average="micro"))
        assert c.average_precision == pytest.approx(skm.average_precision_score(onehot, proba, average="micro"))
    assert "micro" in info.averaging
    with pytest.raises(InvalidInputError):
        v.get_roc_pr_info(cases["regression"])
    with pytest.raises(InvalidInputError):
        v.get_roc_pr_info(data, ["no such model"])


# ---------------------------------------------------------------- confusion, calibration


@pytest.mark.parametrize("case", ["binary", "multiclass"])
def test_confusion_matrix(cases: dict[str, ComparisonData], case: str) -> None:
    data = cases[case]
    assert data.classes is not None
    info = v.get_confusion_info(data)
    best = data.ranked()[0]
    assert info.key == best.key
    k = len(data.classes)
    assert info.counts.shape == (k, k)
    assert info.counts.sum() == len(data.y_test)
    predicted = np.asarray(data.classes, dtype=object)[best.test.argmax(axis=1)]
    for i, true in enumerate(data.classes):
        assert info.counts[i].sum() == (data.y_test == true).sum()
        for j, pred in enumerate(data.classes):
            assert info.counts[i, j] == ((data.y_test == true) & (predicted == pred)).sum()
    np.testing.assert_allclose(info.normalized.sum(axis=1), 1.0)
    assert info.accuracy == pytest.approx(
        score_predictions("accuracy", data.problem_type, data.y_test, best.test, data.classes)
    )


def test_calibration_binary_and_multiclass(cases: dict[str, ComparisonData]) -> None:
    binary = cases["binary"]
    assert binary.classes is not None
    info = v.get_calibration_info(binary, ["lightgbm-3", "linear-1"])
    for c in info.curves:
        p = binary.model(c.key).test[:, 1]
        positive = binary.y_test == binary.classes[1]
        assert c.brier == pytest.approx(skm.brier_score_loss(positive, p))
        assert c.counts.sum() == len(binary.y_test)
        assert ((c.mean_predicted >= 0) & (c.mean_predicted <= 1)).all()
    multi = cases["multiclass"]
    assert multi.classes is not None
    info = v.get_calibration_info(multi)
    best = multi.ranked()[0]
    c = info.curves[0]
    expected = skm.brier_score_loss(multi.y_test, best.test, labels=list(multi.classes), scale_by_half=False)
    assert c.brier == pytest.approx(expected)
    # Top-class confidence vs accuracy: the weighted mean of `observed` is the accuracy.
    accuracy = score_predictions("accuracy", "multiclass", multi.y_test, best.test, multi.classes)
    assert np.average(c.observed, weights=c.counts) == pytest.approx(accuracy)
    assert info.mode == "top-class confidence"


# ---------------------------------------------------------------- regression


def test_regression_info(cases: dict[str, ComparisonData]) -> None:
    data = cases["regression"]
    info = v.get_regression_info(data)
    assert len(info.series) == 3
    for s in info.series:
        pred = data.model(s.key).test
        np.testing.assert_allclose(s.residuals, data.y_test - pred)
        assert s.rmse == pytest.approx(np.sqrt(skm.mean_squared_error(data.y_test, pred)))
        assert s.r2 == pytest.approx(skm.r2_score(data.y_test, pred))
    assert v.get_regression_info(data, rows="valid").actual.tolist() == data.y_valid.tolist()
    with pytest.raises(InvalidInputError):
        v.get_regression_info(cases["binary"])


# ---------------------------------------------------------------- permutation importance


class OnlyA(FittedModel):
    """Predicts from column "a" only."""

    def __init__(self, problem_type: str, classes: tuple[Any, ...] | None) -> None:
        self.problem_type = problem_type
        self.classes_ = classes
        self.input_schema_ = InputSchema(())

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return 2.0 * X["a"].to_numpy(dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-4 * X["a"].to_numpy(dtype=float)))
        return np.column_stack([1 - p, p])


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            XSS: rng.normal(size=n),
            "cat": pd.Categorical(rng.choice(["x", "y"], size=n)),
        }
    )


@pytest.mark.parametrize(
    ("problem_type", "metric"),
    [("regression", "rmse"), ("regression", "r2"), ("binary", "roc_auc"), ("binary", "log_loss")],
)
def test_permutation_importance_finds_the_used_column(problem_type: str, metric: str) -> None:
    X = _frame(400)
    if problem_type == "regression":
        classes = None
        y = 2.0 * X["a"].to_numpy() + np.random.default_rng(1).normal(scale=0.1, size=len(X))
    else:
        classes = ("no", "yes")
        y = np.where(X["a"].to_numpy() > 0, "yes", "no").astype(object)
    model = OnlyA(problem_type, classes)
    info = v.get_permutation_importance_info(
        model, X, y, metric, problem_type, classes, n_repeats=3, seed=0, name="only a"
    )
    assert info.features[0] == "a"
    assert info.importance("a") > 0.1
    for other in ("b", XSS, "cat"):
        assert info.importance(other) == pytest.approx(0.0, abs=1e-12)
    assert info.std.shape == (4,) and info.n_rows == 400
    assert info.baseline == pytest.approx(score_predictions(metric, problem_type, y, model.prediction(X), classes))
    fig = v.plot_permutation_importance(info)
    assert isinstance(fig, go.Figure)
    assert_escaped(fig)


def test_permutation_importance_subsamples_and_is_seeded() -> None:
    X = _frame(300)
    y = 2.0 * X["a"].to_numpy()
    model = OnlyA("regression", None)
    one = v.get_permutation_importance_info(model, X, y, "mae", "regression", None, n_repeats=2, seed=7, max_rows=100)
    two = v.get_permutation_importance_info(model, X, y, "mae", "regression", None, n_repeats=2, seed=7, max_rows=100)
    assert one.n_rows == 100
    np.testing.assert_array_equal(one.mean, two.mean)
    with pytest.raises(InvalidInputError):
        v.get_permutation_importance_info(model, X, y[:10], "mae", "regression", None)


# ---------------------------------------------------------------- diff


@pytest.mark.parametrize("case", ["binary", "multiclass"])
def test_diff_classification(cases: dict[str, ComparisonData], case: str) -> None:
    data = cases[case]
    assert data.classes is not None
    a, b = data.model("lightgbm-3"), data.model("linear-1")
    info = v.get_diff_info(data, "lightgbm-3", "c2")
    assert info.b_name == "linear-1"
    assert [m.metric for m in info.metrics] == [n for n, m in METRICS.items() if data.problem_type in m.problem_types]
    for m in info.metrics:
        assert m.a == pytest.approx(score_predictions(m.metric, data.problem_type, data.y_test, a.test, data.classes))
    labels_a, labels_b = a.test.argmax(axis=1), b.test.argmax(axis=1)
    hand = sum(1 for i in range(len(data.y_test)) if labels_a[i] != labels_b[i])
    assert info.n_disagree == hand > 0
    assert info.share_disagree == pytest.approx(hand / len(data.y_test))
    assert len(info.disagreements) == min(hand, 20)
    classes = np.asarray(data.classes, dtype=object)
    for row in info.disagreements:
        assert row.pred_a != row.pred_b
        assert row.pred_a == classes[labels_a[row.row]] and row.true == data.y_test[row.row]
        assert row.conf_a == pytest.approx(a.test[row.row].max())
    sums = [r.conf_a + r.conf_b for r in info.disagreements]  # type: ignore[operator]
    assert sums == sorted(sums, reverse=True)
    assert info.class_scores_a is not None
    assert info.class_scores_a.support.sum() == len(data.y_test)
    f1 = skm.f1_score(data.y_test.astype(object), classes[labels_a], labels=list(classes), average=None)
    np.testing.assert_allclose(info.class_scores_a.f1, f1)
    with pytest.raises(InvalidInputError):
        v.get_diff_info(data, "c1", "lightgbm-3")


def test_diff_regression(cases: dict[str, ComparisonData]) -> None:
    data = cases["regression"]
    a, b = data.model("c1"), data.model("c2")
    info = v.get_diff_info(data, "c1", "c2", tolerance=10.0)
    gap = np.abs(a.test - b.test)
    assert info.n_disagree == int((gap > 10.0).sum())
    assert [r.row for r in info.disagreements] == np.argsort(-gap, kind="stable")[: min(20, info.n_disagree)].tolist()
    assert info.quantiles is not None and info.error_quantiles_a is not None
    assert info.error_quantiles_a[-1] == pytest.approx(np.abs(data.y_test - a.test).max())
    assert [m.metric for m in info.metrics] == ["rmse", "mae", "r2"]
    assert info.metrics[0].winner == "a"  # quality 3 beats quality 1 on rmse


# ---------------------------------------------------------------- every plot, and escaping


def _figures(data: ComparisonData) -> list[go.Figure]:
    figs = [
        v.plot_leaderboard(v.get_leaderboard_info(data)),
        v.plot_pareto(v.get_pareto_info(data)),
        v.plot_diff(v.get_diff_info(data, XSS, "c1")),
    ]
    if data.problem_type == "regression":
        figs.append(v.plot_regression(v.get_regression_info(data, [XSS, "c1"])))
    else:
        figs.append(v.plot_roc_pr(v.get_roc_pr_info(data, [XSS, "c1"])))
        figs.append(v.plot_confusion(v.get_confusion_info(data, XSS)))
        figs.append(v.plot_calibration(v.get_calibration_info(data, [XSS, "c1"])))
    return figs


@pytest.mark.parametrize("case", ["binary", "multiclass", "regression"])
def test_every_plot_draws_and_escapes_model_names(cases: dict[str, ComparisonData], case: str) -> None:
    for fig in _figures(cases[case]):
        assert_escaped(fig)
        assert "<img" not in fig.to_json()
    info = v.get_history_info(cases[case])
    history = v.plot_history(info)
    # One series of points per engine, at its trials' numbers (escaping is checked with engine names below).
    plotted = {tuple(trace.x) for trace in history.data if trace.x is not None and len(trace.x)}
    for engine in info.engines:
        assert tuple(engine.x.tolist()) in plotted


@pytest.mark.parametrize("case", ["binary", "multiclass"])
def test_class_names_are_escaped(cases: dict[str, ComparisonData], case: str) -> None:
    data = with_xss_class(cases[case])
    for fig in (
        v.plot_confusion(v.get_confusion_info(data)),
        v.plot_diff(v.get_diff_info(data, "c1", "c2")),
    ):
        assert_escaped(fig)


def test_engine_names_are_escaped(cases: dict[str, ComparisonData]) -> None:
    data = cases["binary"]
    trials = tuple(replace(t, engine=XSS) for t in data.trials)
    assert_escaped(v.plot_history(v.get_history_info(replace(data, trials=trials))))


def test_plots_draw_empty_inputs(cases: dict[str, ComparisonData]) -> None:
    empty = replace(cases["binary"], models=(), trials=())
    board = v.plot_leaderboard(v.get_leaderboard_info(empty))
    assert [list(column) for column in board.data[0].cells.values] == [[]] * len(v.Leaderboard.COLUMNS)
    for fig in (
        v.plot_history(v.get_history_info(empty)),
        v.plot_pareto(v.get_pareto_info(empty)),
        v.plot_weights(v.get_weights_info([], [], "none")),
    ):
        assert sum(len(t.x) for t in fig.data if getattr(t, "x", None) is not None) == 0  # no points drawn
        assert fig.layout.title.text  # still titled, so an empty view says what it is


def test_data_functions_do_not_import_plotly() -> None:
    import subprocess
    import sys

    code = (
        "import sys, workbench.compare.views as v, workbench.compare._report\n"
        "assert not [m for m in sys.modules if m.startswith('plotly')], 'plotly imported'\n"
        "v.pareto_front([[1.0, 2.0]], [True, False])\n"
        "assert 'plotly' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("case", ["binary", "multiclass", "regression"])
def test_every_view_info_is_plain_json(cases: dict[str, ComparisonData], case: str) -> None:
    """What a REST route returns: `to_dict()` of each view's data, numpy arrays as lists, NaN as null."""
    import json

    data = cases[case]
    infos: list[Any] = [
        v.get_leaderboard_info(data),
        v.get_history_info(data),
        v.get_pareto_info(data),
        v.get_diff_info(data, "c1", "c2"),
        v.get_weights_info(["a", "b"], [0.25, 0.75], "ens"),
    ]
    if case == "regression":
        infos.append(v.get_regression_info(data, ["c1"]))
    else:
        infos += [
            v.get_roc_pr_info(data, ["c1"]),
            v.get_confusion_info(data, "c1"),
            v.get_calibration_info(data, ["c1"]),
        ]
    for info in infos:
        plain = info.to_dict()
        text = json.dumps(plain, allow_nan=False)  # raises on NaN, numpy types or arrays
        assert json.loads(text) == plain
    pareto = v.get_pareto_info(data).to_dict()
    assert pareto["keys"] == [m.key for m in data.models] and isinstance(pareto["latency_front"], list)
