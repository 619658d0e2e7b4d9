"""Fast paths predict exactly like the frame path: the vectorised forest, LightGBM's single-row C API, the
family models and AutoGluon's models (compiled feature pipeline and native boosters), on real fits.

Columns are built the way the server builds them: records parsed from JSON through the FrameBuilder.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

from workbench.config import Settings
from workbench.data import SplitSpec
from workbench.model import (
    AutoGluonModel,
    Columns,
    FastPredict,
    FittedModel,
    InputSchema,
    LoadedModel,
    UnsupportedFastPath,
    check_fast_path,
    loads_model,
    verified_fast_path,
)
from workbench.model._autogluon import VERIFIED_AUTOGLUON_VERSIONS, autogluon_version
from workbench.model._forest import ForestArrays
from workbench.model._lightgbm_fast import LightGBMRows
from workbench.search import TrialData, TrialSpec, WorkerResources
from workbench.search.engines import ARTIFACT_NAME, run_autogluon_trial
from workbench.search.families import LocalReporter, fit_candidate
from workbench.serve._schema import FrameBuilder
from workbench.store import ExperimentSpec, Workspace, trial_data

pytestmark = pytest.mark.long(seconds=80)

REPO = Path(__file__).resolve().parents[2]
RTOL, ATOL = 1e-9, 1e-12


def served_columns(X: pd.DataFrame, schema: InputSchema) -> tuple[Columns, int]:
    """The rows as a server receives them: JSON records, validated and converted by the FrameBuilder."""
    records = json.loads(X.to_json(orient="records", date_format="iso"))
    batch = FrameBuilder(schema, max_rows=100_000).from_records(records)
    return batch.columns, batch.n


def assert_same(fast: FastPredict, model: FittedModel, X: pd.DataFrame) -> None:
    columns, n = served_columns(X, model.input_schema_)
    expected = model.prediction(X)
    np.testing.assert_allclose(fast(columns, n), expected, rtol=RTOL, atol=ATOL)
    for i in range(3):  # single rows take the single-row paths (and torch rounds by batch size: compare alike)
        one, _ = served_columns(X.iloc[[i]], model.input_schema_)
        np.testing.assert_allclose(fast(one, 1), model.prediction(X.iloc[[i]]), rtol=RTOL, atol=ATOL)


def dataset(tmp_path: Path, name: str, cv_folds: int = 1) -> TrialData:
    """The experiment's rows; with cv_folds > 1 AutoGluon bags its models on those folds."""
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        return trial_data(ws, ws.create_experiment(ExperimentSpec(name, split=SplitSpec(cv_folds=cv_folds))))


# --- building blocks ------------------------------------------------------------------------------------


def test_forest_arrays_equal_scikit_learn_with_missing_values() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(size=600) > 0).astype(int) + (np.nan_to_num(X[:, 1]) > 1)
    classifier = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)
    regressor = ExtraTreesRegressor(n_estimators=40, random_state=0).fit(X[:, 1:], y.astype(float))
    probe = X[:50].copy()
    np.testing.assert_allclose(ForestArrays.from_estimator(classifier).predict(probe), classifier.predict_proba(probe))
    np.testing.assert_allclose(
        ForestArrays.from_estimator(regressor).predict(probe[:, 1:])[:, 0], regressor.predict(probe[:, 1:])
    )
    # Trained without missing values, predicting with them: scikit-learn's own rule for unseen NaN.
    clean = RandomForestClassifier(n_estimators=20, random_state=0).fit(np.nan_to_num(X), y)
    np.testing.assert_allclose(ForestArrays.from_estimator(clean).predict(probe), clean.predict_proba(probe))


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_lightgbm_rows_equal_booster_predict(objective: str) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = {"binary": X[:, 0] > 0, "multiclass": np.digitize(X[:, 1], [-0.5, 0.5]), "regression": X[:, 2] * 3}[objective]
    params: dict[str, Any] = {"objective": objective, "verbose": -1, "num_leaves": 7}
    if objective == "multiclass":
        params["num_class"] = 3
    booster = lgb.train(params, lgb.Dataset(np.nan_to_num(X, nan=0.0), np.nan_to_num(y.astype(float))), 30)
    rows = LightGBMRows(booster, num_iteration=20)
    expected = booster.predict(X[:40], num_iteration=20)
    np.testing.assert_array_equal(rows.predict(X[:40]), expected)
    for i in range(5):
        np.testing.assert_array_equal(rows.predict(X[i : i + 1]), expected[i : i + 1])
    again = pickle.loads(pickle.dumps(rows))  # the C-side config is rebuilt, not pickled
    np.testing.assert_array_equal(again.predict(X[:1]), expected[:1])


class _Broken(FittedModel):
    """A model whose fast path answers something else: the guard must refuse it."""

    def __init__(self, schema: InputSchema, fast: FastPredict | None, raises: bool = False) -> None:
        self.problem_type = "regression"
        self.classes_ = None
        self.input_schema_ = schema
        self._fast = fast
        self._raises = raises

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise TypeError("regressor")

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(X["x"], dtype=float) * 2

    def fast_path(self) -> FastPredict | None:
        if self._raises:
            raise UnsupportedFastPath("not this one")
        return self._fast


def test_verified_fast_path_refuses_disagreement_and_unsupported(caplog: pytest.LogCaptureFixture) -> None:
    schema = InputSchema.from_frame(pd.DataFrame({"x": [1.0, 2.0]}))
    right = _Broken(schema, lambda columns, n: np.asarray(columns["x"], dtype=float) * 2)
    assert verified_fast_path(right) is not None
    with caplog.at_level(logging.WARNING, logger="workbench.model"):
        assert (
            verified_fast_path(_Broken(schema, lambda columns, n: np.asarray(columns["x"], dtype=float) * 2.001))
            is None
        )
    assert "disagrees" in caplog.text
    assert verified_fast_path(_Broken(schema, None)) is None
    assert verified_fast_path(_Broken(schema, None, raises=True)) is None


# --- family models ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["penguins", "grunfeld"])
def test_family_models_fast_paths_equal_their_predictions(tmp_path: Path, name: str) -> None:
    data = dataset(tmp_path, name)
    assert data.X_test.isna().any().any() or name == "grunfeld"
    for family in ("lightgbm", "xgboost", "catboost", "forest"):
        _, blob = fit_candidate(family, {}, data, WorkerResources(cpus=1), LocalReporter(), seed=0)
        model = loads_model(blob)
        fast = verified_fast_path(model)
        assert fast is not None, family
        assert_same(fast, model, data.X_test)
    _, blob = fit_candidate("linear", {}, data, WorkerResources(cpus=1), LocalReporter(), seed=0)
    assert verified_fast_path(loads_model(blob)) is None  # one-hot and scaling stay in pandas


# --- AutoGluon ------------------------------------------------------------------------------------------

ALL_TREES = {
    "GBM": {},
    "XGB": {"n_estimators": 60},
    "CAT": {"iterations": 60},
    "RF": {"n_estimators": 40},
    "XT": {"n_estimators": 40},
    "NN_TORCH": {"num_epochs": 3},
}


def autogluon_models(tmp_path: Path, data: TrialData, hyperparameters: dict[str, Any]) -> dict[str, AutoGluonModel]:
    params = {
        "space": "test",
        "presets": "medium_quality",
        "hyperparameters": hyperparameters,
        "time_limit_s": 90.0,
        "seed": 0,
    }
    spec = TrialSpec(experiment_id=1, engine="autogluon", number=0, params=params, seed=0)
    result = run_autogluon_trial(spec, data, WorkerResources(cpus=1), LocalReporter())
    assert result.status == "complete"
    blob = result.artifacts[ARTIFACT_NAME]
    return {c.name: AutoGluonModel.from_zip(blob, c.name, cache_dir=tmp_path / "cache") for c in result.candidates}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["penguins", "breast_cancer", "grunfeld"])
def test_autogluon_fast_paths_equal_autogluon(tmp_path: Path, name: str) -> None:
    data = dataset(tmp_path, name)
    models = autogluon_models(tmp_path, data, ALL_TREES)
    kinds = {n.removesuffix("Gini").removesuffix("Entr").removesuffix("MSE") for n in models}
    assert {"LightGBM", "XGBoost", "CatBoost", "RandomForest", "ExtraTrees", "WeightedEnsemble_L2"} <= kinds
    verified = autogluon_version() in VERIFIED_AUTOGLUON_VERSIONS
    for model_name, model in models.items():
        fast, warning = check_fast_path(model)
        if not verified:  # another AutoGluon than the fast path was checked with: AutoGluon's own predict serves
            assert fast is None and warning is not None and "verified" in warning, model_name
            continue
        assert fast is not None and warning is None, model_name
        assert_same(fast, model, data.X_test)


@pytest.mark.slow
def test_bagged_autogluon_models_fast_paths_equal_autogluon(tmp_path: Path) -> None:
    data = dataset(tmp_path, "penguins", cv_folds=3)
    models = autogluon_models(tmp_path, data, {"GBM": {}, "RF": {"n_estimators": 40}})
    assert {"LightGBM_BAG_L1", "WeightedEnsemble_L2"} <= set(models), set(models)
    if autogluon_version() not in VERIFIED_AUTOGLUON_VERSIONS:
        pytest.skip("the fast path is checked with another AutoGluon version")
    for model_name, model in models.items():
        fast, warning = check_fast_path(model)
        assert fast is not None and warning is None, model_name
        assert_same(fast, model, data.X_test)


@dataclass(frozen=True)
class ModelSource:
    model: FittedModel

    def load(self) -> LoadedModel:
        m = self.model
        return LoadedModel("ag", 1, m, m.input_schema_, m.problem_type, m.classes_)

    def describe(self) -> str:
        return "an AutoGluon model in memory"


@pytest.mark.slow
def test_autogluon_fast_path_runs_only_on_verified_versions_and_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    from workbench.model import _autogluon
    from workbench.serve import ServeSettings, create_app

    data = dataset(tmp_path, "penguins")
    model = autogluon_models(tmp_path, data, {"GBM": {}})["LightGBM"]
    assert check_fast_path(model)[0] is not None or autogluon_version() not in VERIFIED_AUTOGLUON_VERSIONS

    def metadata(settings: ServeSettings) -> dict[str, Any]:
        with TestClient(base_url="http://127.0.0.1", app=create_app(ModelSource(model), settings)) as client:
            for _ in range(600):
                if client.get("/v2/health/ready").status_code == 200:
                    break
                time.sleep(0.05)
            meta: dict[str, Any] = client.get("/v2/models/ag").json()["parameters"]
            records = json.loads(data.X_test.head(3).to_json(orient="records"))
            answer = client.post("/predict", json=records).json()
            np.testing.assert_allclose(answer["probabilities"], model.predict_proba(data.X_test.head(3)), rtol=1e-9)
            return meta

    monkeypatch.setattr(_autogluon, "VERIFIED_AUTOGLUON_VERSIONS", ("0.0.1",))
    with caplog.at_level(logging.WARNING, logger="workbench.model"):
        fast, warning = check_fast_path(model)
    assert fast is None and warning is not None and "not a version the fast path was verified with" in warning
    assert [r for r in caplog.records if r.levelno == logging.WARNING and "verified" in r.getMessage()]
    unverified = metadata(ServeSettings())
    assert unverified["fast_path"] is False and unverified["warnings"] == [warning]

    monkeypatch.setattr(_autogluon, "VERIFIED_AUTOGLUON_VERSIONS", (autogluon_version(),))
    assert metadata(ServeSettings())["fast_path"] is True
    off = metadata(ServeSettings(fast_path=False))
    assert off["fast_path"] is False and off["warnings"] == []
    monkeypatch.setenv("WORKBENCH_FAST_PATH", "0")
    assert ServeSettings().fast_path is False


@pytest.mark.slow
def test_autogluon_date_time_columns_and_unsupported_parts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=n, freq="D"), "x": rng.normal(size=n)})
    X.loc[::17, "when"] = pd.NaT
    y = (X["x"] + rng.normal(size=n) * 0.1 > 0).map({True: "yes", False: "no"}).to_numpy()
    data = TrialData(
        X.iloc[:200], y[:200], X.iloc[200:250], y[200:250], X.iloc[250:], y[250:],
        problem_type="binary", metric="roc_auc", classes=("no", "yes"), split_hash="x",
    )  # fmt: skip
    models = autogluon_models(tmp_path, data, {"GBM": {}})
    model = models["LightGBM"]
    fast = verified_fast_path(model)
    assert fast is not None
    assert_same(fast, model, data.X_test)
    # A part the compiler does not know is refused, and the frame path serves.
    model.predictor._learner.feature_generator.generators[0][0].__class__ = type(
        "CustomGenerator", (type(model.predictor._learner.feature_generator.generators[0][0]),), {}
    )
    with pytest.raises(UnsupportedFastPath):
        model.fast_path()
    assert verified_fast_path(model) is None
