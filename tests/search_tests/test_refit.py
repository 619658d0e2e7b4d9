"""Families under a deadline (training stops, the best iteration is kept) and the fixed-size refit."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from workbench.config import Settings
from workbench.model import loads_model
from workbench.search._protocol import WorkerResources
from workbench.search.families import FAMILIES, LocalReporter, fit_candidate, get_family, refit_model, refit_size
from workbench.search.families._base import fit_resources
from workbench.search.families._mlp import best_epoch
from workbench.search.families._sklearn import TREES_PER_CHUNK
from workbench.store import ExperimentSpec, TrialData, Workspace, trial_data

REPO = Path(__file__).resolve().parents[2]
CPU = WorkerResources(cpus=1)
BOOSTING = ("lightgbm", "xgboost", "catboost")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TrialData]]:
    home = tmp_path_factory.mktemp("refit")
    with Workspace(Settings(home=home / "home", data_roots=(home,), datasets_dir=REPO / "datasets")) as ws:
        yield {name: trial_data(ws, ws.create_experiment(ExperimentSpec(name))) for name in ("penguins", "grunfeld")}


def _fit(family: str, data: TrialData, resources: WorkerResources = CPU) -> tuple[dict, object]:
    candidate, blob = fit_candidate(family, {}, data, resources, LocalReporter(), seed=0)
    return candidate.params, loads_model(blob)


def _fit_until(family: str, data: TrialData, deadline: float) -> object:
    """The family's own fit with a deadline (fit_candidate would keep a moment to fit whatever is left)."""
    spec = get_family(family)
    return spec.fit(spec.resolve({}), data, replace(CPU, deadline=deadline), LocalReporter(), 0)


def _all_rows(data: TrialData) -> TrialData:
    """The train and valid rows as train rows, as finalizing passes them."""
    import pandas as pd

    return replace(
        data,
        X_train=pd.concat([data.X_train, data.X_valid], ignore_index=True),
        y_train=np.concatenate([data.y_train, data.y_valid]),
    )


def _garbage_valid(data: TrialData, seed: int = 7) -> TrialData:
    """The same rows with the valid target shuffled and its features scrambled: a refit that looked at the
    valid rows (early stopping, reports) would change."""
    rng = np.random.default_rng(seed)
    X_valid = data.X_valid.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return replace(data, X_valid=X_valid, y_valid=rng.permutation(data.y_valid))


def _trees(model: object) -> int:
    if hasattr(model, "booster_"):
        booster = model.booster_
        return int(
            booster.current_iteration() if hasattr(booster, "current_iteration") else booster.num_boosted_rounds()
        )
    return int(model.model_.tree_count_)


@pytest.mark.parametrize("family", BOOSTING)
@pytest.mark.parametrize("dataset", ["penguins", "grunfeld"])
def test_a_boosting_fit_stops_at_its_deadline_with_its_best_round(
    datasets: dict[str, TrialData], family: str, dataset: str
) -> None:
    data = datasets[dataset]
    _, full = _fit(family, data)
    cut = _fit_until(family, data, time.monotonic() - 1.0)  # already past: one round, then stop
    assert 1 <= cut.best_iteration_ <= _trees(cut) <= 10
    assert cut.best_iteration_ < full.best_iteration_
    assert cut.prediction(data.X_valid).shape == full.prediction(data.X_valid).shape


def test_the_mlp_and_the_forest_stop_at_their_deadline(datasets: dict[str, TrialData]) -> None:
    data = datasets["penguins"]
    mlp = _fit_until("mlp", data, time.monotonic() - 1.0)
    assert mlp.epochs_ == 1 and mlp.best_epoch_ == 1
    forest = _fit_until("forest", data, time.monotonic() - 1.0)
    assert len(forest.estimator_.estimators_) == TREES_PER_CHUNK
    assert forest.estimator_.get_params()["n_estimators"] == TREES_PER_CHUNK
    whole = _fit_until("forest", data, time.monotonic() + 600)
    _, plain = _fit("forest", data)
    # Grown in chunks or at once: the same forest.
    np.testing.assert_array_equal(whole.prediction(data.X_valid), plain.prediction(data.X_valid))


def test_a_fit_keeps_time_for_scoring_after_it() -> None:
    assert fit_resources(CPU) is CPU
    start = time.monotonic()
    left = fit_resources(replace(CPU, deadline=start + 10.0)).time_left()
    assert left is not None and 8.0 < left <= 8.5  # 85% of what is left
    short = fit_resources(replace(CPU, deadline=start + 1.0)).time_left()
    assert short is not None and 0.0 < short <= 0.5  # a second kept for scoring, half a second to fit


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("dataset", ["penguins", "grunfeld"])
def test_refit_trains_the_same_model_on_other_rows_with_a_scaled_size(
    datasets: dict[str, TrialData], family: str, dataset: str
) -> None:
    data = datasets[dataset]
    params, model = _fit(family, data)
    rows = _all_rows(data)
    scale = len(rows.X_train) / len(data.X_train)
    refitted = refit_model(family, model, params, rows, CPU, 3, scale)

    assert type(refitted) is type(model)
    assert refitted.problem_type == model.problem_type
    assert refitted.classes_ == model.classes_
    assert refitted.input_schema_.names == model.input_schema_.names
    assert refitted.params == model.params
    prediction = refitted.prediction(data.X_test)
    assert prediction.shape == model.prediction(data.X_test).shape
    assert np.isfinite(prediction).all()
    size = refit_size(family, model, scale)
    if family in BOOSTING:
        assert size == max(1, round(model.best_iteration_ * scale))
        assert refitted.best_iteration_ == _trees(refitted) == size
    elif family == "mlp":
        assert size == max(1, round(model.best_epoch_ * scale))
        assert refitted.epochs_ == refitted.best_epoch_ == size
    else:
        assert size == 0
    pickle.loads(pickle.dumps(refitted))  # it pickles like any model

    # Its valid rows are never looked at: garbage there changes nothing.
    again = refit_model(family, model, params, _garbage_valid(rows), CPU, 3, scale)
    np.testing.assert_allclose(again.prediction(data.X_test), prediction, rtol=1e-6, atol=1e-9)


def test_refit_takes_prefixed_unprefixed_or_no_params(datasets: dict[str, TrialData]) -> None:
    data = datasets["penguins"]
    fitted = fit_candidate("lightgbm", {"lightgbm.num_leaves": 5}, data, CPU, LocalReporter(), seed=0)
    params, blob = fitted[0].params, fitted[1]
    model = loads_model(blob)
    expected = refit_model("lightgbm", model, params, data, CPU, 0, 2.0)
    for given in (model.params, {}, {**params, "family": "lightgbm", "_optuna_number": 4}):
        again = refit_model("lightgbm", model, given, data, CPU, 0, 2.0)
        assert again.params["num_leaves"] == 5
        np.testing.assert_allclose(again.prediction(data.X_valid), expected.prediction(data.X_valid))
    assert expected.best_iteration_ == 2 * model.best_iteration_


def test_refit_refuses_what_it_cannot_refit(datasets: dict[str, TrialData]) -> None:
    data = datasets["penguins"]
    params, model = _fit("linear", data)
    with pytest.raises(ValueError, match="scale"):
        refit_model("linear", model, params, data, CPU, 0, 0.0)
    with pytest.raises(ValueError, match="Unknown model family"):
        refit_model("svm", model, params, data, CPU, 0, 1.0)
    with pytest.raises(ValueError, match="classes"):
        refit_model("linear", model, params, replace(data, classes=("a", "b")), CPU, 0, 1.0)
    with pytest.raises(TypeError, match="MLPModel"):
        refit_size("mlp", model, 1.0)
    assert get_family("mlp").refit is not None


def test_an_mlp_pickled_before_best_epochs_were_recorded_still_refits(datasets: dict[str, TrialData]) -> None:
    data = datasets["grunfeld"]
    params, model = _fit("mlp", data)
    old = pickle.loads(pickle.dumps(model))
    del old.__dict__["best_epoch_"]  # what a model pickled by an earlier version holds
    assert best_epoch(old) >= 1
    refitted = refit_model("mlp", old, params, data, CPU, 0, 1.0)
    assert refitted.epochs_ == best_epoch(old)
