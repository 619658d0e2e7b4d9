"""Model families: real fits on bundled datasets, pickling, robustness at predict time, pruning, spaces, devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from workbench.config import Settings
from workbench.data import SplitSpec
from workbench.metrics import get_metric
from workbench.model import loads_model, score_predictions
from workbench.search._protocol import TrialPruned, WorkerResources
from workbench.search.families import (
    FAMILIES,
    REPORT_EVERY,
    DensePrep,
    LocalReporter,
    OrdinalPrep,
    PruneAfter,
    device_params,
    fit_candidate,
    max_rounds,
)
from workbench.store import ExperimentSpec, TrialData, Workspace, trial_data

REPO = Path(__file__).resolve().parents[2]
DATASETS = ("breast_cancer", "penguins", "grunfeld")
CPU = WorkerResources(cpus=2)
BOOSTING = ("lightgbm", "xgboost", "catboost")
REPORTING = (*BOOSTING, "mlp")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = tmp_path_factory.mktemp("families")
    data = home / "data"
    data.mkdir()
    with Workspace(Settings(home=home / "home", data_roots=(data,), datasets_dir=REPO / "datasets")) as ws:
        yield ws


@pytest.fixture(scope="module")
def datasets(workspace: Workspace) -> dict[str, TrialData]:
    # The valid rows only: these tests are about each family's fit (cross-validation: test_crossval.py).
    single = SplitSpec(cv_folds=1)
    return {
        name: trial_data(workspace, workspace.create_experiment(ExperimentSpec(name, split=single)))
        for name in DATASETS
    }


def _baseline(data: TrialData) -> float:
    """The valid score of predicting the train class frequencies (classification) or the train mean."""
    n = len(data.y_valid)
    if data.problem_type == "regression":
        prediction = np.full(n, float(np.mean(data.y_train)))
    else:
        assert data.classes is not None
        frequencies = np.array([np.mean(data.y_train == c) for c in data.classes])
        prediction = np.tile(frequencies, (n, 1))
    return score_predictions(data.metric, data.problem_type, data.y_valid, prediction, data.classes)


def _better(data: TrialData, score: float, than: float) -> bool:
    return score > than if get_metric(data.metric, data.problem_type).greater_is_better else score < than


def _damaged(X: pd.DataFrame) -> pd.DataFrame:
    """A few rows with unseen categories and missing values in every column."""
    rows = X.iloc[:6].copy().reset_index(drop=True)
    for name in rows.columns:
        if pd.api.types.is_numeric_dtype(rows[name]):
            rows[name] = rows[name].astype(float)
            rows.loc[[0, 2], name] = np.nan
        else:
            rows[name] = rows[name].astype(object)
            rows.loc[[0, 1], name] = "never-seen-before"
            rows.loc[[3], name] = None
    return rows


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_fits_scores_and_pickles(datasets: dict[str, TrialData], family: str, dataset: str) -> None:
    data = datasets[dataset]
    reporter = LocalReporter()
    candidate, blob = fit_candidate(family, {}, data, CPU, reporter, seed=0)

    assert _better(data, candidate.valid_score, _baseline(data)), (candidate.valid_score, _baseline(data))
    assert candidate.artifact == "model.pkl" and candidate.size_bytes == len(blob) > 0
    assert candidate.fit_time_s > 0 and candidate.predict_row_ms > 0 and candidate.predict_batch_ms > 0
    assert candidate.params and all(key.startswith(f"{family}.") for key in candidate.params)
    if data.problem_type == "regression":
        assert candidate.valid_pred.shape == (len(data.y_valid),)
        assert candidate.test_pred.shape == (len(data.y_test),)
    else:
        assert data.classes is not None
        assert candidate.valid_pred.shape == (len(data.y_valid), len(data.classes))
        assert candidate.test_pred.shape == (len(data.y_test), len(data.classes))
        np.testing.assert_allclose(candidate.valid_pred.sum(axis=1), 1.0, rtol=1e-9)
        assert (candidate.valid_pred >= 0).all()

    model = loads_model(blob)
    assert model.problem_type == data.problem_type
    assert model.input_schema_.names == [str(c) for c in data.X_train.columns]
    np.testing.assert_array_equal(model.prediction(data.X_valid), candidate.valid_pred)
    if data.classes is not None:
        assert model.classes_ == data.classes
        assert set(model.predict(data.X_valid)) <= set(data.classes)

    damaged = model.prediction(_damaged(data.X_valid))
    assert len(damaged) == 6 and np.isfinite(damaged).all()

    if family in REPORTING:
        steps = [step for step, _ in reporter.values]
        assert steps and steps == sorted(set(steps))
        assert steps[0] == (1 if family == "mlp" else REPORT_EVERY)
        assert all(np.isfinite(value) for _, value in reporter.values)
    else:
        assert reporter.values == []


@pytest.mark.parametrize("family", REPORTING)
def test_prune_after_stops_training(datasets: dict[str, TrialData], family: str) -> None:
    stop = 3 if family == "mlp" else 2 * REPORT_EVERY
    reporter = PruneAfter(stop)
    with pytest.raises(TrialPruned):
        fit_candidate(family, {}, datasets["breast_cancer"], CPU, reporter, seed=0)
    assert reporter.should_prune()
    assert [step for step, _ in reporter.values][-1] == stop


@pytest.mark.parametrize("family", BOOSTING)
def test_the_round_cap_follows_the_learning_rate(datasets: dict[str, TrialData], family: str) -> None:
    assert [max_rounds(rate) for rate in (0.3, 0.1, 0.05, 0.0188, 0.01, 0.001)] == [500, 500, 1000, 2660, 5000, 5000]
    data = datasets["penguins"]
    # At 0.02 every boosted model of penguins still improves its valid log loss after 500 rounds (664-2,235).
    slow = FAMILIES[family].fit({f"{family}.learning_rate": 0.02}, data, CPU, LocalReporter(), 0)
    assert 500 < slow.best_iteration_ <= max_rounds(0.02)
    fast = FAMILIES[family].fit({f"{family}.learning_rate": 0.3}, data, CPU, LocalReporter(), 0)
    assert fast.best_iteration_ < 500


def test_catboost_reports_the_experiment_metric(datasets: dict[str, TrialData]) -> None:
    """CatBoost's reports come from CatBoost's own metric: they must agree with score_predictions."""
    data = datasets["penguins"]
    reporter = LocalReporter()
    candidate, _ = fit_candidate("catboost", {"catboost.learning_rate": 0.3}, data, CPU, reporter, seed=1)
    best = max(value for _, value in reporter.values)
    assert best >= candidate.valid_score - 1e-9
    assert all(0.0 <= value <= 1.0 for _, value in reporter.values)


def test_suggest_inside_a_real_study_and_fit_the_sample(datasets: dict[str, TrialData]) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for name, family in FAMILIES.items():
        trial = study.ask()
        params = family.suggest(trial)
        assert params == trial.params
        assert all(key.startswith(f"{name}.") for key in params)
        assert family.resolve(params) == params
        candidate, _ = fit_candidate(name, params, datasets["grunfeld"], CPU, LocalReporter(), seed=0)
        assert np.isfinite(candidate.valid_score)
        study.tell(trial, candidate.valid_score)
    # One study holds every family: the family is a parameter and the others' parameters stay apart.
    trial = study.ask()
    family = trial.suggest_categorical("family", list(FAMILIES))
    assert set(FAMILIES[family].suggest(trial)) | {"family"} == set(trial.params)


def test_parameters_are_checked_and_other_families_ignored(datasets: dict[str, TrialData]) -> None:
    linear = FAMILIES["linear"]
    assert linear.resolve({"lightgbm.num_leaves": 3, "family": "linear"}) == {"linear.strength": 1.0}
    with pytest.raises(ValueError, match="no parameter"):
        linear.resolve({"linear.alpha": 1.0})
    with pytest.raises(ValueError, match="Unknown model family"):
        fit_candidate("svm", {}, datasets["grunfeld"], CPU, LocalReporter(), seed=0)


def test_device_parameters_for_a_gpu_worker() -> None:
    gpu = WorkerResources(cpus=2, gpus=1, gpu_ids=("0",))
    assert device_params("xgboost", gpu)["device"] == "cuda"
    catboost = device_params("catboost", gpu)
    assert catboost["task_type"] == "GPU" and catboost["devices"] == "0" and catboost["thread_count"] == 2
    assert device_params("mlp", gpu)["device"] == "cuda"
    assert device_params("lightgbm", gpu)["device_type"] == "cpu"
    # A worker's own GPUs are the first ones visible to it, whatever their physical ids.
    assert device_params("catboost", WorkerResources(cpus=4, gpus=2, gpu_ids=("3", "1")))["devices"] == "0:1"
    assert device_params("xgboost", CPU) == {"device": "cpu", "tree_method": "hist", "nthread": 2}
    assert device_params("catboost", CPU)["task_type"] == "CPU"
    assert device_params("mlp", CPU)["device"] == "cpu"
    assert [n for n, f in FAMILIES.items() if f.uses_gpu] == ["xgboost", "catboost", "mlp"]


def _mixed_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = rng.choice(["north", "south", "east", "west"], size=n)
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.1, np.nan, x),
            "count": pd.array(rng.integers(0, 5, size=n), dtype="Int64"),
            "flag": rng.random(n) < 0.5,
            "city": pd.Series(city, dtype=object).where(rng.random(n) > 0.1, None),
            "when": pd.Series(pd.date_range("2020-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M")),
            "empty": np.full(n, np.nan),
            "id": [f"row{i}" for i in range(n)],
        }
    )
    y = np.where(x + (city == "north") * 1.5 > 0.3, "yes", "no").astype(object)
    return frame, y


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_column_kind_and_surprises_at_predict_time(family: str) -> None:
    frame, y = _mixed_frame(300, seed=0)
    data = TrialData(
        frame[:180],
        y[:180],
        frame[180:240].reset_index(drop=True),
        y[180:240],
        frame[240:].reset_index(drop=True),
        y[240:],
        "binary",
        "roc_auc",
        ("no", "yes"),
        "h",
    )
    candidate, blob = fit_candidate(family, {}, data, WorkerResources(cpus=1), LocalReporter(), seed=0)
    assert candidate.valid_score > 0.7
    model = loads_model(blob)
    surprise = frame.iloc[:4].copy()
    surprise["city"] = ["atlantis", None, "north", "north"]
    surprise["when"] = ["not a date", None, "2031-05-05 10:00", "2020-01-01"]
    surprise["flag"] = pd.array([True, None, False, True], dtype="boolean")
    surprise["empty"] = [1.0, np.nan, np.nan, np.nan]
    proba = model.predict_proba(surprise.drop(columns=["id"]))  # a column missing altogether, too
    assert proba.shape == (4, 2) and np.isfinite(proba).all()


def test_preprocessing_fits_on_train_and_handles_unknowns() -> None:
    frame, _ = _mixed_frame(200, seed=1)
    ordinal = OrdinalPrep().fit(frame)
    assert ordinal.feature_names_[:4] == ["x", "count", "flag", "empty"]
    assert "when.days" in ordinal.feature_names_ and "when.hour" in ordinal.feature_names_
    assert [ordinal.feature_names_[i] for i in ordinal.categorical_indices_] == ["city", "id"]
    unseen = pd.DataFrame({"city": ["atlantis", None, "north"], "id": ["new", "row1", None]})
    codes = ordinal.transform(unseen)[:, ordinal.categorical_indices_]
    assert np.isnan(codes[0, 0]) and np.isnan(codes[1, 0]) and codes[2, 0] >= 0
    assert np.isnan(codes[0, 1]) and codes[1, 1] >= 0
    dense = DensePrep().fit(frame)
    out = dense.transform(unseen)
    assert out.shape == (3, dense.n_features_) and np.isfinite(out).all()
    train = dense.transform(frame)
    numeric = train[:, : len(dense.table_.numeric_names_)]
    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-9)


def test_trial_data_drops_rows_without_target(workspace: Workspace) -> None:
    frame, y = _mixed_frame(120, seed=2)
    frame = frame.assign(label=pd.Series(y, dtype=object).where(np.arange(120) % 10 != 0, None))
    path = workspace.settings.data_roots[0] / "mixed.csv"
    frame.to_csv(path, index=False)
    workspace.add_dataset("mixed", str(path), target="label")
    experiment = workspace.create_experiment(ExperimentSpec("mixed"))
    data = trial_data(workspace, experiment)
    assert data.classes == ("no", "yes")
    assert list(data.X_train.columns) == [c for c in frame.columns if c != "label"]
    total = len(data.y_train) + len(data.y_valid) + len(data.y_test)
    assert total == 108 == sum(experiment.split_sizes.values())
    for part in (data.y_train, data.y_valid, data.y_test):
        assert isinstance(part, np.ndarray) and not pd.isna(part).any()
    assert len(data.X_valid) == len(data.y_valid) and data.split_hash == experiment.split_hash


def test_small_tables_fit_on_one_thread(datasets: dict[str, TrialData]) -> None:
    four = WorkerResources(cpus=4)
    small = datasets["penguins"].X_train
    assert device_params("lightgbm", four, small)["num_threads"] == 1
    large = pd.DataFrame(np.zeros((20_000, 20)))
    assert device_params("xgboost", four, large)["nthread"] == 4
    assert device_params("forest", four, large) == {"n_jobs": 4}


def _skewed_regression(metric: str) -> TrialData:
    """y = 10 x plus noise whose mean is far from its median (one row in five is 200 higher): the median
    fit that mean absolute error wants is not the mean fit that squared error gives."""
    rng = np.random.default_rng(3)

    def rows(n: int) -> tuple[pd.DataFrame, np.ndarray]:
        x = rng.uniform(0, 10, n)
        noise = rng.normal(0, 1, n) + np.where(rng.uniform(size=n) < 0.2, 200.0, 0.0)
        return pd.DataFrame({"x": x, "z": rng.normal(size=n)}), 10 * x + noise

    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = rows(600), rows(200), rows(200)
    return TrialData(X_train, y_train, X_valid, y_valid, X_test, y_test, "regression", metric, None, "skewed")


@pytest.mark.parametrize("family", ["lightgbm", "catboost", "mlp"])
def test_mean_absolute_error_is_fitted_with_an_absolute_loss(family: str) -> None:
    """With metric mae, LightGBM, CatBoost and the MLP fit the median (an L1 loss), not the mean. (XGBoost
    keeps squared error: its L1 and pseudo-Huber objectives scored worse out of fold on flights.)"""
    fitted = {}
    for metric in ("mae", "rmse"):
        data = _skewed_regression(metric)
        _, blob = fit_candidate(family, {}, data, CPU, LocalReporter(), seed=0)
        prediction = loads_model(blob).prediction(data.X_test)
        fitted[metric] = score_predictions("mae", "regression", data.y_test, prediction, None)
    # The median fit sits near 10 x: its absolute error is far below the mean fit's (about 40 higher).
    assert fitted["mae"] < fitted["rmse"] - 10, fitted
