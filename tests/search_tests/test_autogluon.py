"""The AutoGluon engine's worker side, with real (small, cheap) fits.

One binary fit runs inside a real process worker of a LocalCluster (where Ray must never appear); the
multiclass, regression and pruning fits run in this process, under pytest's `-W error`.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from workbench.config import Settings
from workbench.data import SplitSpec
from workbench.metrics import get_metric
from workbench.model import score_predictions
from workbench.search import TrialData, TrialPruned, TrialResult, TrialSpec, WorkerResources
from workbench.search._finalize import final_data
from workbench.search.engines import (
    ARTIFACT_NAME,
    AUTOGLUON_SPACE,
    AutoGluonModel,
    autogluon_configs,
    run_autogluon_trial,
)
from workbench.search.engines._autogluon import (
    FIT_SHARE,
    MIN_FIT_S,
    MODEL_TYPES,
    _environment,
    _expected_models,
    _fit_kwargs,
    _fold_name,
    _keep_within,
    _label_name,
    _post_fit_s,
    _seeded,
    _time_limit,
    _training_frame,
)
from workbench.search.engines._autogluon_model import reorder_proba
from workbench.search.engines._autogluon_refit import refit_autogluon
from workbench.search.engines._autogluon_space import FOREST_MAX_LEAF_NODES
from workbench.search.families._spaces import max_rounds
from workbench.store import ExperimentSpec, Workspace, trial_data

pytestmark = pytest.mark.long(seconds=170)

# The process worker unpickles the reporter below: ship this module by value, not by (test-only) path.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

REPO = Path(__file__).resolve().parents[2]
CHEAP = {"GBM": {}, "RF": {"n_estimators": 50}}


class RecordingReporter:
    def __init__(self, prune_at: int | None = None, stop: bool = False) -> None:
        self.values: list[tuple[int, float]] = []
        self.prune_at = prune_at
        self.stop = stop

    def report(self, step: int, value: float) -> None:
        self.values.append((step, value))
        if self.prune_at is not None and step >= self.prune_at:
            raise TrialPruned(f"pruned at {step}")

    def should_prune(self) -> bool:
        return self.stop


def cheap_spec(time_limit_s: float = 30.0, hyperparameters: dict[str, Any] | None = None) -> TrialSpec:
    config = {
        "space": "test",
        "presets": "medium_quality",
        "hyperparameters": hyperparameters or CHEAP,
        "time_limit_s": time_limit_s,
        "seed": 3,
    }
    return TrialSpec(experiment_id=1, engine="autogluon", number=0, params=config, seed=3)


def dataset_trial_data(tmp_path: Path, dataset: str, cv_folds: int = 1) -> TrialData:
    """The rows of an experiment on a bundled dataset: scored on the valid rows unless `cv_folds` > 1."""
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        return trial_data(ws, ws.create_experiment(ExperimentSpec(dataset, split=SplitSpec(cv_folds=cv_folds))))


def run_in_worker(spec: TrialSpec, data: TrialData) -> tuple[TrialResult, list[tuple[int, float]]]:
    reporter = RecordingReporter()
    result = run_autogluon_trial(spec, data, WorkerResources(cpus=1), reporter)
    return result, reporter.values


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[Client]:
    with (
        LocalCluster(
            # A free port for the scheduler's HTTP server: 8787 may be taken by another cluster.
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def binary_run(
    tmp_path_factory: pytest.TempPathFactory, cluster_client: Client
) -> tuple[TrialData, TrialResult, list[tuple[int, float]]]:
    data = dataset_trial_data(tmp_path_factory.mktemp("bc"), "breast_cancer")
    result, reports = cluster_client.submit(run_in_worker, cheap_spec(), data, pure=False).result(timeout=300)
    return data, result, reports


def check_candidates(data: TrialData, result: TrialResult, cache_dir: Path) -> dict[str, AutoGluonModel]:
    """Every model of the zipped predictor is a candidate, and its stored predictions and scores are
    reproduced by an AutoGluonModel loaded from the zip."""
    assert result.status == "complete"
    assert set(result.artifacts) == {ARTIFACT_NAME}
    blob = result.artifacts[ARTIFACT_NAME]
    names = [c.name for c in result.candidates]
    assert any(n.startswith("WeightedEnsemble") for n in names)
    first = AutoGluonModel.from_zip(blob, names[0], cache_dir=cache_dir)
    assert sorted(first.predictor.model_names()) == sorted(names)
    models = {}
    for c in result.candidates:
        assert c.artifact == ARTIFACT_NAME and c.model_in_artifact == c.name
        assert c.params["model"] == c.name and c.params["space"] == "test"
        assert c.fit_time_s > 0 and c.size_bytes > 0 and c.predict_row_ms > 0 and c.predict_batch_ms > 0
        json.dumps(c.params)
        model = AutoGluonModel.from_zip(blob, c.name, cache_dir=cache_dir)
        assert model.path == first.path  # extracted once, content-addressed
        again_valid, again_test = model.prediction(data.X_valid), model.prediction(data.X_test)
        np.testing.assert_allclose(again_valid, c.valid_pred, rtol=0, atol=1e-12)
        np.testing.assert_allclose(again_test, c.test_pred, rtol=0, atol=1e-12)
        recomputed = score_predictions(data.metric, data.problem_type, data.y_valid, again_valid, data.classes)
        assert recomputed == pytest.approx(c.valid_score, abs=1e-12)
        assert score_predictions(data.metric, data.problem_type, data.y_test, again_test, data.classes) == (
            pytest.approx(c.test_score, abs=1e-12)
        )
        if data.classes is not None:
            assert c.valid_pred.shape == (len(data.y_valid), len(data.classes))
            assert c.test_pred.shape == (len(data.y_test), len(data.classes))
            np.testing.assert_allclose(c.valid_pred.sum(axis=1), 1.0, atol=1e-6)
        else:
            assert c.valid_pred.shape == (len(data.y_valid),)
        models[c.name] = model
    ensemble = next(c for c in result.candidates if c.name.startswith("WeightedEnsemble"))
    members = [c for c in result.candidates if c.name in ensemble.params["ag_ancestors"]]
    assert members and all(c.params["ag_ancestors"] == [] for c in members)
    assert ensemble.size_bytes > max(c.size_bytes for c in members)  # the ensemble counts its members
    assert ensemble.fit_time_s >= max(c.fit_time_s for c in members)
    best = max if get_metric(data.metric, data.problem_type).greater_is_better else min
    assert list(result.values) == [best(c.valid_score for c in result.candidates)]
    return models


@pytest.mark.slow
def test_binary_trial_in_a_process_worker(binary_run: Any, cluster_client: Client, tmp_path: Path) -> None:
    data, result, reports = binary_run
    models = check_candidates(data, result, tmp_path)
    assert {"LightGBM", "RandomForest", "WeightedEnsemble_L2"} <= set(models)
    assert data.classes == ("benign", "malignant")
    # Reported as models finished, then once at the end with the best recomputed valid score.
    assert reports == list(result.intermediate)
    assert [s for s, _ in reports] == list(range(1, len(reports) + 1))
    assert reports[-1][1] == result.values[0]
    assert len(reports) >= len(result.candidates)
    # No Ray in the worker that ran the trial, and no Ray process on the machine.
    assert list(cluster_client.run(lambda: "ray" in sys.modules).values()) == [False]
    assert "ray" not in sys.modules
    commands = subprocess.run(["ps", "-eo", "comm="], capture_output=True, text=True, check=True).stdout.split()
    assert not [c for c in commands if c.startswith(("ray", "gcs_server"))]


@pytest.mark.slow
def test_autogluon_model_pickles_without_its_predictor(binary_run: Any, tmp_path: Path) -> None:
    data, result, _ = binary_run
    model = AutoGluonModel.from_zip(result.artifacts[ARTIFACT_NAME], "WeightedEnsemble_L2", cache_dir=tmp_path)
    assert model.problem_type == "binary" and model.classes_ == data.classes
    assert model.input_schema_.names == list(data.X_train.columns)
    before = model.predict_proba(data.X_test)
    blob = pickle.dumps(model)
    assert len(blob) < 20_000  # path, name, classes and schema only
    clone = pickle.loads(blob)
    assert clone._predictor is None
    np.testing.assert_array_equal(clone.predict_proba(data.X_test), before)
    assert list(clone.predict(data.X_test.iloc[:5])) == list(model.predict(data.X_test.iloc[:5]))


@pytest.mark.slow
def test_multiclass_class_order_with_categoricals_and_missing_values(tmp_path: Path) -> None:
    data = dataset_trial_data(tmp_path, "penguins")
    assert data.X_train.isna().any().any() and any(not pd.api.types.is_numeric_dtype(t) for t in data.X_train.dtypes)
    reporter = RecordingReporter()
    result = run_autogluon_trial(cheap_spec(), data, WorkerResources(cpus=1), reporter)
    models = check_candidates(data, result, tmp_path / "cache")
    assert data.classes is not None and len(data.classes) == 3
    for name, model in models.items():
        labels = np.asarray(data.classes, dtype=object)[model.predict_proba(data.X_test).argmax(axis=1)]
        expected = model.predictor.predict(data.X_test, model=name).to_numpy()
        assert list(labels) == list(expected)
        assert list(model.predict(data.X_test)) == list(expected)


@pytest.mark.slow
def test_regression_trial(tmp_path: Path) -> None:
    data = dataset_trial_data(tmp_path, "grunfeld")
    assert data.problem_type == "regression"
    result = run_autogluon_trial(cheap_spec(), data, WorkerResources(cpus=1), RecordingReporter())
    models = check_candidates(data, result, tmp_path / "cache")
    for model in models.values():
        assert model.classes_ is None
        with pytest.raises(TypeError):
            model.predict_proba(data.X_valid)
        np.testing.assert_array_equal(model.predict(data.X_valid), model.predict_values(data.X_valid))


@pytest.mark.slow
def test_pruning_propagates_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = dataset_trial_data(tmp_path / "ws", "breast_cancer")
    reporter = RecordingReporter(prune_at=1)
    with pytest.raises(TrialPruned):
        run_autogluon_trial(cheap_spec(), data, WorkerResources(cpus=1), reporter)
    assert reporter.values[0][0] == 1
    assert not list(tmp_path.glob("wb-autogluon-*"))  # the fit's temp folder is gone
    # The driver's stop flag is checked before each model: here no model is fitted at all.
    stopped = RecordingReporter(stop=True)
    with pytest.raises(TrialPruned):
        run_autogluon_trial(cheap_spec(), data, WorkerResources(cpus=1), stopped)
    assert stopped.values == []
    assert not list(tmp_path.glob("wb-autogluon-*"))


def fake_data(problem_type: str = "binary", metric: str = "roc_auc") -> TrialData:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    y = np.array(["no", "yes"], dtype=object)
    classes = None if problem_type == "regression" else ("no", "yes")
    return TrialData(X, y, X, y, X, y, problem_type, metric, classes, "hash")


def test_fit_kwargs_gpu_branch() -> None:
    config = autogluon_configs(1, 7, 60.0)[0]
    plan = _fit_kwargs(config, fake_data(), WorkerResources(cpus=2, gpus=1, gpu_ids=("1",)), 60.0)
    assert plan.fit_kwargs["num_gpus"] == 1 and plan.fit_kwargs["num_cpus"] == 2
    assert plan.env == {"CUDA_VISIBLE_DEVICES": "1"}
    plan = _fit_kwargs(config, fake_data(), WorkerResources(cpus=2, gpus=2, gpu_ids=("2", "3")), 60.0)
    assert plan.env == {"CUDA_VISIBLE_DEVICES": "2,3"}


def test_fit_kwargs_cpu() -> None:
    config = autogluon_configs(2, 7, None)[1]
    plan = _fit_kwargs(config, fake_data(), WorkerResources(cpus=1), 42.0)
    kwargs = plan.fit_kwargs
    assert plan.env == {}
    assert kwargs["num_gpus"] == 0 and kwargs["num_cpus"] == 1 and kwargs["time_limit"] == 42.0
    assert kwargs["num_bag_folds"] == 0 and kwargs["num_stack_levels"] == 0 and kwargs["refit_full"] is False
    assert kwargs["ag_args_ensemble"] == {"fold_fitting_strategy": "sequential_local"}
    assert kwargs["presets"] == "medium_quality"
    assert kwargs["hyperparameters"]["GBM"]["seed"] == 8 and kwargs["hyperparameters"]["CAT"]["random_seed"] == 8
    assert plan.predictor_kwargs == {
        "problem_type": "binary",
        "eval_metric": "roc_auc",
        "verbosity": 0,
        "positive_class": "yes",
    }
    regression = _fit_kwargs(config, fake_data("regression", "rmse"), WorkerResources(cpus=1), None)
    assert "positive_class" not in regression.predictor_kwargs and regression.fit_kwargs["time_limit"] is None
    # Early stopping on a smooth score: log loss for a label metric, AutoGluon's own choice otherwise.
    assert "ag_args_fit" not in kwargs and "ag_args_fit" not in regression.fit_kwargs
    for metric in ("accuracy", "balanced_accuracy", "f1"):
        labels = _fit_kwargs(config, fake_data("binary", metric), WorkerResources(cpus=1), None)
        assert labels.fit_kwargs["ag_args_fit"] == {"stopping_metric": "log_loss"}
        # ... capped as the Optuna families' boosting is: AutoGluon's own cap is 10,000 rounds
        capped = labels.fit_kwargs["hyperparameters"]
        assert capped["GBM"]["num_boost_round"] == max_rounds(0.05) and capped["CAT"]["iterations"] == max_rounds(0.05)
        assert capped["XGB"]["n_estimators"] == max_rounds(0.1)
    assert "num_boost_round" not in kwargs["hyperparameters"]["GBM"]
    default = _fit_kwargs(
        autogluon_configs(1, 7, None)[0], fake_data("multiclass", "accuracy"), WorkerResources(cpus=1), None
    )
    large = next(v for v in default.fit_kwargs["hyperparameters"]["GBM"] if v.get("learning_rate") == 0.03)
    assert large["num_boost_round"] == max_rounds(0.03)
    hyperparameters = default.fit_kwargs["hyperparameters"]
    assert hyperparameters["NN_TORCH"]["ag_args_fit"] == {"stopping_metric": "accuracy"}  # the MLP: the metric
    assert all(v["ag_args_fit"] == {"max_time_limit_ratio": 0.5} for v in hyperparameters["RF"])  # untouched


def test_seeding_keeps_explicit_seeds_and_variants() -> None:
    seeded = _seeded({"GBM": [{}, {"seed": 1}], "RF": {"n_estimators": 5}, "KNN": {}}, 9)
    assert seeded == {"GBM": [{"seed": 9}, {"seed": 1}], "RF": {"n_estimators": 5, "random_state": 9}, "KNN": {}}


def test_time_limit_caps() -> None:
    spec = TrialSpec(1, "autogluon", 0, {}, 0, time_limit_s=100.0)
    assert _time_limit({"time_limit_s": 300.0}, spec) == pytest.approx(100.0 * FIT_SHARE)
    assert _time_limit({"time_limit_s": 30.0}, spec) == 30.0
    assert _time_limit({"time_limit_s": None}, TrialSpec(1, "autogluon", 0, {}, 0)) is None
    # The work after the fit is kept, and the trial's deadline counts rather than the spec's limit.
    assert _time_limit({}, spec, post_fit_s=40.0) == pytest.approx(60.0)
    resources = WorkerResources(cpus=1, deadline=time.monotonic() + 20.0)
    assert _time_limit({}, spec, resources, post_fit_s=8.0) == pytest.approx(12.0, abs=0.1)
    late = WorkerResources(cpus=1, deadline=time.monotonic() - 5.0)
    assert _time_limit({}, spec, late) == MIN_FIT_S  # never less: a fit with no model fails


def test_the_work_after_the_fit_is_estimated_from_the_models_and_rows() -> None:
    default = autogluon_configs(1, 0, None)[0]
    # AutoGluon's default list: 3 LightGBM, CatBoost, XGBoost, the torch MLP, one RF and one XT variant per
    # problem kind (two for classification), and the weighted ensemble.
    assert _expected_models(default, "regression") == 9
    assert _expected_models(default, "binary") == 11
    assert _expected_models({"hyperparameters": {"GBM": {}}}, "binary") == 2


def test_models_whose_work_would_run_past_the_deadline_are_dropped(tmp_path: Path) -> None:
    import pandas as pd

    board = pd.DataFrame(
        {
            "score_val": [0.9, 0.8, 0.7],
            "pred_time_val": [3.0, 0.01, 0.02],
            "ancestors": [["cheap", "slow"], [], []],
        },
        index=pd.Index(["ensemble", "cheap", "slow"], name="model"),
    )
    data = TrialData(
        pd.DataFrame({"x": [0.0] * 4}),
        np.zeros(4),
        pd.DataFrame({"x": [0.0] * 100}),
        np.zeros(100),
        pd.DataFrame({"x": [0.0] * 100}),
        np.zeros(100),
        "regression",
        "rmse",
        None,
        "h",
    )
    assert _keep_within(board, tmp_path, data, None) == ["ensemble", "cheap", "slow"]
    assert _keep_within(board, tmp_path, data, 1000.0) == ["ensemble", "cheap", "slow"]
    assert _keep_within(board, tmp_path, data, 3.0) == ["cheap", "slow"]  # the ensemble costs too much
    assert _keep_within(board, tmp_path, data, 0.0) == ["cheap"]  # none fits: the cheapest


def test_a_bagged_ensemble_and_its_bags_are_kept_within_what_flights_leaves_after_its_fit(tmp_path: Path) -> None:
    import pandas as pd

    # flights at 60 s, 4 folds: 14,400 train and 4,800 valid rows scored out of fold, 4,800 test rows to
    # predict, AutoGluon's out-of-fold prediction times, and 10 s left after the fit. Each bag costs about
    # 2.3 s (predicting the test rows with its 4 children, 0.5 s of single-row calls); the ensemble of the
    # three, 4.9 s (its calls run all 16 children): the ensemble and the two best bags fit.
    board = pd.DataFrame(
        {
            "score_val": [-12.2, -12.3, -12.4, -12.5],
            "pred_time_val": [1.6, 0.5, 0.5, 0.5],
            "ancestors": [["b1", "b2", "b3"], [], [], []],
        },
        index=pd.Index(["ensemble", "b1", "b2", "b3"], name="model"),
    )
    frame = pd.DataFrame({"x": np.zeros(4800)})
    folds = np.arange(14_400) % 3 + 1
    data = TrialData(
        pd.DataFrame({"x": np.zeros(14_400)}),
        np.zeros(14_400),
        frame,
        np.zeros(4800),
        frame,
        np.zeros(4800),
        "regression",
        "mae",
        None,
        "h",
        folds,
    )
    assert data.cv_folds == 4
    assert _keep_within(board, tmp_path, data, 10.0) == ["ensemble", "b1", "b2"]
    assert _keep_within(board, tmp_path, data, 12.0) == ["ensemble", "b1", "b2", "b3"]


def test_forests_come_after_the_boosted_models_with_capped_trees() -> None:
    default = autogluon_configs(1, 0, None)[0]["hyperparameters"]
    for kind in ("RF", "XT"):
        for variant in default[kind]:
            assert variant["max_leaf_nodes"] == FOREST_MAX_LEAF_NODES
            assert variant["ag_args"]["priority"] < 40  # after XGBoost (AutoGluon's 40)
            assert variant["ag_args_fit"]["max_time_limit_ratio"] < 1


def test_environment_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with _environment({"CUDA_VISIBLE_DEVICES": "1"}):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_configs_deterministic_distinct_and_json() -> None:
    n = 3 * len(AUTOGLUON_SPACE) + 2
    configs = autogluon_configs(n, 11, None)
    assert configs == autogluon_configs(n, 11, None)
    assert configs[:5] == autogluon_configs(5, 11, None)  # the driver asks for number+1 and takes the last
    texts = [json.dumps(c, sort_keys=True) for c in configs]
    assert len(set(texts)) == n
    assert [c["seed"] for c in configs] == list(range(11, 11 + n))
    assert {c["space"] for c in configs} == {e["space"] for e in AUTOGLUON_SPACE}
    assert all(c["presets"] == "medium_quality" for c in configs)
    assert autogluon_configs(2, 0, 25.0)[1]["time_limit_s"] == 25.0
    assert autogluon_configs(1, 0, None)[0]["time_limit_s"] == AUTOGLUON_SPACE[0]["time_limit_s"]
    assert autogluon_configs(0, 0, None) == []
    configs[0]["hyperparameters"]["GBM"].append({})  # callers get copies, never the space itself
    assert autogluon_configs(1, 11, None)[0] != configs[0]


def test_reorder_proba_maps_autogluon_columns() -> None:
    frame = pd.DataFrame([[0.2, 0.7, 0.1]], columns=["c", "a", "b"])
    np.testing.assert_array_equal(reorder_proba(frame, ("a", "b", "c")), [[0.7, 0.1, 0.2]])
    np.testing.assert_array_equal(reorder_proba(frame, ("a", "b", "c", "d")), [[0.7, 0.1, 0.2, 0.0]])
    numbers = pd.DataFrame([[0.6, 0.4]], columns=[np.int64(2), np.int64(1)])
    np.testing.assert_array_equal(reorder_proba(numbers, (1, 2)), [[0.4, 0.6]])


# Cross-validated selection: AutoGluon's own bagging over the experiment's folds (4 here). Every candidate's
# valid predictions are its bag's out-of-fold predictions of the train and valid rows, and a bagged candidate
# refits for a finalize.
FOLDS = 4


@pytest.fixture(scope="module", params=["breast_cancer", "penguins", "grunfeld"])
def cv_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[TrialData, TrialResult]:
    data = dataset_trial_data(tmp_path_factory.mktemp("cv"), request.param, cv_folds=FOLDS)
    result = run_autogluon_trial(cheap_spec(), data, WorkerResources(cpus=1), RecordingReporter())
    return data, result


def closeness(data: TrialData, predictions: np.ndarray) -> float:
    """How close predictions of the selection rows are to their targets: the mean probability of the true
    class, or minus the mean absolute error."""
    if data.classes is None:
        return -float(np.mean(np.abs(predictions - data.y_selection)))
    codes = [data.classes.index(label) for label in data.y_selection]
    return float(np.mean(predictions[np.arange(len(codes)), codes]))


def selection_rows(data: TrialData) -> pd.DataFrame:
    return pd.concat([data.X_train, data.X_valid], ignore_index=True)


@pytest.mark.slow
def test_candidates_are_scored_on_out_of_fold_predictions(
    cv_run: tuple[TrialData, TrialResult], tmp_path: Path
) -> None:
    data, result = cv_run
    assert data.cv_folds == FOLDS
    n = len(data.X_train) + len(data.X_valid)
    blob = result.artifacts[ARTIFACT_NAME]
    names = [c.name for c in result.candidates]
    assert any(n.startswith("WeightedEnsemble") for n in names)
    assert all(n.endswith("_BAG_L1") for n in names if not n.startswith("WeightedEnsemble"))
    # The out-of-fold predictions were read during the trial: the zip does not carry them.
    assert not [m for m in zipfile.ZipFile(io.BytesIO(blob)).namelist() if m.endswith("oof.pkl")]
    greater = get_metric(data.metric, data.problem_type).greater_is_better
    rows = selection_rows(data)
    for c in result.candidates:
        assert c.params["ag_cv_folds"] == FOLDS
        # A bag is named by its children's family, the weighted ensemble by its own, built on the bags.
        if c.name.startswith("WeightedEnsemble"):
            assert c.model_type == "weighted_ensemble"
            assert c.params["ag_ancestors"] and all(a.endswith("_BAG_L1") for a in c.params["ag_ancestors"])
        else:
            assert c.model_type in set(MODEL_TYPES.values()) - {"weighted_ensemble"}
            assert c.params["ag_ancestors"] == []
        assert len(c.valid_pred) == n and np.isfinite(c.valid_pred).all()
        assert c.valid_score == pytest.approx(
            score_predictions(data.metric, data.problem_type, data.y_selection, c.valid_pred, data.classes), abs=1e-12
        )
        model = AutoGluonModel.from_zip(blob, c.name, cache_dir=tmp_path)
        assert model.predictor.features() == list(data.X_train.columns)  # the fold column is no feature
        np.testing.assert_allclose(model.prediction(data.X_test), c.test_pred, rtol=0, atol=1e-12)
        if data.classes is not None:
            assert c.valid_pred.shape == (n, len(data.classes))
            np.testing.assert_allclose(c.valid_pred.sum(axis=1), 1.0, atol=1e-6)
        else:
            assert c.valid_pred.shape == (n,)
        if c.name.startswith("WeightedEnsemble") or c.calibration is not None:
            continue
        # Out of fold: the bag predicting rows its children trained on differs row by row, and fits them closer.
        in_sample = model.prediction(rows)
        assert np.abs(in_sample - c.valid_pred).max() > 1e-3
        assert closeness(data, in_sample) > closeness(data, c.valid_pred)
    best = max if greater else min
    assert list(result.values) == [best(c.valid_score for c in result.candidates)]


def children(predictor: Any, name: str) -> int:
    return int(predictor._trainer.load_model(name).n_children)


def rebag_children(predictor: Any, name: str) -> int:
    """How many children bag `name` has refitted as a bag: as many, or one for a forest (whose bag makes one
    child and reads its out-of-bag predictions when no folds are imposed, as on the new rows)."""
    bag = predictor._trainer.load_model(name)
    return 1 if bag.params.get("use_child_oof") else int(bag.n_children)


@pytest.mark.slow
@pytest.mark.parametrize("rebag", [False, True], ids=["one-child", "rebag"])
def test_a_bagged_candidate_refits_for_a_finalize(
    cv_run: tuple[TrialData, TrialResult], rebag: bool, tmp_path: Path
) -> None:
    data, result = cv_run
    blob = result.artifacts[ARTIFACT_NAME]
    final = final_data(data, "train+valid")
    for c in (result.candidates[0], next(c for c in result.candidates if c.name.endswith("_BAG_L1"))):
        zipped, name, refitted, bags = refit_autogluon(blob, c.name, final, WorkerResources(cpus=1), rebag=rebag)
        assert name == f"{c.name}_FULL"
        model = AutoGluonModel.from_zip(zipped, name, cache_dir=tmp_path)
        assert set(model.predictor.model_names()) == {name, *(f"{a}_FULL" for a in c.params["ag_ancestors"])}
        # the models it is built on were refitted with it, and each predicts from the same zip
        assert refitted == {a: f"{a}_FULL" for a in c.params["ag_ancestors"]}
        for full in refitted.values():
            member = AutoGluonModel.from_zip(zipped, full, cache_dir=tmp_path)
            assert len(member.prediction(data.X_test)) == len(data.X_test)
        bagged_children = AutoGluonModel.from_zip(blob, c.name, cache_dir=tmp_path).predictor
        for selected, full in {c.name: name, **refitted}.items():
            if c.name.startswith("WeightedEnsemble") and selected == c.name:
                assert children(model.predictor, full) == 1  # its weights are kept, on its refitted members
            elif rebag:  # a bag of as many children on the new rows
                assert children(bagged_children, selected) == FOLDS
                assert children(model.predictor, full) == rebag_children(bagged_children, selected)
            else:
                assert children(model.predictor, full) == 1  # one model on every row, no bag
            # the bags of more than one child, said with their children (the final's `bag_folds`)
            assert bags.get(full, 1) == children(model.predictor, full)
        assert model.classes_ == data.classes and model.problem_type == data.problem_type
        predicted = model.prediction(data.X_test)
        if data.classes is None:
            assert predicted.shape == (len(data.X_test),) and np.isfinite(predicted).all()
            continue
        assert predicted.shape == (len(data.X_test), len(data.classes))
        labels = list(model.predict(data.X_test))
        assert set(labels) <= set(data.classes)
        assert labels == list(model.predictor.predict(data.X_test, model=name))
        # It learned what the bag learned: the two agree on most test rows.
        bagged = AutoGluonModel.from_zip(blob, c.name, cache_dir=tmp_path).predict(data.X_test)
        assert np.mean(np.asarray(labels, dtype=object) == np.asarray(bagged, dtype=object)) > 0.8


def trained_params(blob: bytes, name: str, cache_dir: Path) -> list[dict[str, Any]]:
    """The `params_trained` of model `name` in the zipped predictor: each child's for a bag, else its own."""
    model = AutoGluonModel.from_zip(blob, name, cache_dir=cache_dir).predictor._trainer.load_model(name)
    if hasattr(model, "load_child"):
        return [model.load_child(child).params_trained for child in model.models]
    return [model.params_trained]


def check_rounds_scaled(
    result: TrialResult, data: TrialData, rows_fitted: float, cache_dir: Path, rebag: bool = False
) -> None:
    """Refitted on all rows, a LightGBM candidate trains its rounds (a bag: its children's mean) times the
    rows added over the rows each of them was fitted on; a forest keeps its trees. Refitted as a bag, each
    child early-stops on its fold within its children's mean times the rows added."""
    blob = result.artifacts[ARTIFACT_NAME]
    final = final_data(data, "all")
    factor = len(final.X_train) / rows_fitted
    assert factor > 1.2
    for prefix, key, scale in (("LightGBM", "num_boost_round", factor), ("RandomForest", "n_estimators", 1.0)):
        name = next(c.name for c in result.candidates if c.name.startswith(prefix))
        found = [params[key] for params in trained_params(blob, name, cache_dir)]
        zipped, full, _, _ = refit_autogluon(blob, name, final, WorkerResources(cpus=1), rebag=rebag)
        refits = trained_params(zipped, full, cache_dir / "refit")
        if not rebag or prefix == "RandomForest":  # a forest's bag refits to one child (`rebag_children`)
            (refit,) = refits
            assert abs(refit[key] - np.mean(found) * scale) <= 1, (name, found, refit[key])
            continue
        assert len(refits) == len(found)
        assert all(1 <= refit[key] <= round(np.mean(found) * scale) + 1 for refit in refits), (name, found, refits)


@pytest.mark.slow
def test_a_bagged_refit_scales_boosting_rounds_by_the_rows_added(
    cv_run: tuple[TrialData, TrialResult], tmp_path: Path
) -> None:
    data, result = cv_run
    children_rows = (len(data.X_train) + len(data.X_valid)) * (FOLDS - 1) / FOLDS  # each child: k-1 folds
    check_rounds_scaled(result, data, children_rows, tmp_path)
    # a bag of k children, each on k-1 folds of all rows
    check_rounds_scaled(result, data, children_rows * FOLDS / (FOLDS - 1), tmp_path / "rebag", rebag=True)


@pytest.mark.slow
def test_a_refit_scales_boosting_rounds_by_the_rows_added(
    binary_run: tuple[TrialData, TrialResult, list[tuple[int, float]]], tmp_path: Path
) -> None:
    data, result, _ = binary_run
    check_rounds_scaled(result, data, len(data.X_train), tmp_path)


def fake_cv_data(columns: tuple[str, ...] = ("a",)) -> TrialData:
    X = pd.DataFrame({c: [1.0, 2.0, 3.0, 4.0] for c in columns})
    y = np.array(["no", "yes", "no", "yes"], dtype=object)
    valid = X.iloc[:2].reset_index(drop=True)
    return TrialData(X, y, valid, y[:2], valid, y[:2], "binary", "roc_auc", ("no", "yes"), "h", np.array([1, 1, 2, 2]))


def test_fit_kwargs_bag_over_the_experiment_folds() -> None:
    config = autogluon_configs(1, 7, None)[0]
    data = fake_cv_data()
    plan = _fit_kwargs(config, data, WorkerResources(cpus=1), 30.0)
    assert plan.predictor_kwargs["groups"] == "__workbench_fold__"
    kwargs = plan.fit_kwargs
    assert kwargs["num_bag_folds"] == 3 and kwargs["num_bag_sets"] == 1 and kwargs["num_stack_levels"] == 0
    assert kwargs["auto_stack"] is False and kwargs["dynamic_stacking"] is False and kwargs["refit_full"] is False
    assert kwargs["ag_args_ensemble"] == {"fold_fitting_strategy": "sequential_local"}
    plain = _fit_kwargs(config, replace(data, train_folds=None), WorkerResources(cpus=1), 30.0)
    assert "groups" not in plain.predictor_kwargs and plain.fit_kwargs["num_bag_folds"] == 0


def test_the_training_frame_holds_the_selection_rows_and_their_folds() -> None:
    data = fake_cv_data(("a", "__workbench_fold__"))
    train, tuning = _training_frame(data)
    assert tuning is None
    fold, label = _fold_name(data.X_train), _label_name(data.X_train)
    assert fold == "__workbench_fold___"  # never a feature's name
    assert list(train.columns) == ["a", "__workbench_fold__", label, fold]
    assert list(train[fold]) == [1, 1, 2, 2, 0, 0] and list(train[label]) == list(data.y_selection)
    plain, valid = _training_frame(replace(data, train_folds=None))
    assert len(plain) == len(data.X_train) and valid is not None and len(valid) == len(data.X_valid)


def test_the_work_after_a_bagged_fit_counts_every_child() -> None:
    config = autogluon_configs(1, 0, None)[0]
    data = fake_cv_data()
    assert _post_fit_s(config, data) > _post_fit_s(config, replace(data, train_folds=None))


def test_a_fit_with_no_model_says_what_each_model_failed_on(tmp_path: Path) -> None:
    data = dataset_trial_data(tmp_path, "penguins")
    spec = cheap_spec(hyperparameters={"GBM": {"num_leaves": -5}})
    with pytest.raises(
        RuntimeError, match=r"AutoGluon fitted no model in \d+ s of its \d+ s; each model failed: "
    ) as e:
        run_autogluon_trial(spec, data, WorkerResources(cpus=1), RecordingReporter())
    assert "LightGBM: " in str(e.value) and "num_leaves" in str(e.value)
