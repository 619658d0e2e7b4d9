"""Temperature scaling: the fit recovers a known temperature, the map keeps rows and labels, and the
out-of-fold decision keeps it only where it helps; every decision floors the probabilities at what its
valid rows can show; models apply it in predict_proba, the fast path, pickles and native files, and models
pickled before it existed load uncalibrated."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from workbench.config import Settings
from workbench.model import (
    Calibration,
    apply_floor,
    apply_temperature,
    apply_threshold,
    choose_calibration,
    choose_threshold,
    dumps_model,
    fit_temperature,
    loads_model,
    probe_columns,
    verified_fast_path,
)
from workbench.model._calibration import (
    MIN_GAIN,
    THRESHOLD_GRID,
    _threshold_scores,
    mean_log_loss,
    probability_floor,
    sharpest_temperature,
)
from workbench.model._native import load_native, native_files
from workbench.model.tabular._base import TabularModel
from workbench.search import WorkerResources
from workbench.search.families import LocalReporter, fit_candidate
from workbench.store import ExperimentSpec, TrialData, Workspace, trial_data

REPO = Path(__file__).resolve().parents[2]


def calibrated_rows(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities that are calibrated by construction, and labels drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = np.array([rng.choice(k, p=row) for row in proba])
    return proba, codes


@pytest.mark.parametrize(("k", "true_t"), [(3, 2.5), (3, 0.6), (2, 1.8)])
def test_the_fit_recovers_a_known_temperature(k: int, true_t: float) -> None:
    proba, codes = calibrated_rows(4000, k, seed=k)
    distorted = apply_temperature(proba, 1.0 / true_t)  # over-confident (T > 1 undoes it) or timid
    fitted = fit_temperature(distorted, codes)
    assert fitted == pytest.approx(true_t, rel=0.08)
    assert mean_log_loss(apply_temperature(distorted, fitted), codes) < mean_log_loss(distorted, codes)


def test_apply_keeps_rows_summing_to_one_and_every_argmax() -> None:
    proba, _ = calibrated_rows(500, 4, seed=1)
    proba[0] = [1.0, 0.0, 0.0, 0.0]  # certain rows and zeros stay finite
    for t in (0.2, 0.7, 1.3, 5.0):
        out = apply_temperature(proba, t)
        assert out.shape == proba.shape and np.all(np.isfinite(out)) and np.all(out >= 0)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(out.argmax(axis=1), proba.argmax(axis=1))
    assert apply_temperature(proba, 1.0) is proba
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(proba, 0.0)


def test_the_decision_rejects_calibrated_probabilities_and_keeps_over_confident_ones() -> None:
    proba, codes = calibrated_rows(2000, 3, seed=2)
    kept = choose_calibration(proba, codes, seed=0)
    # no temperature; only the floor of 2000 rows, which moves no probability by more than 1.5 / 4002
    assert kept.method == "none" and kept.floor == probability_floor(2000) == 1 / 4002
    assert kept.note() == "floor 0.00025"
    np.testing.assert_allclose(kept.apply(proba), proba, rtol=0, atol=1.5 / 4002)
    assert kept.oof_before is not None and kept.oof_after is not None
    assert not kept.oof_after < kept.oof_before * (1 - MIN_GAIN)
    assert kept.folds == 5 and kept.rows == 2000 and kept.reason.startswith("not calibrated")
    # on fewer rows the out-of-fold losses are noisier, but calibrated probabilities are mostly left alone
    decisions = [choose_calibration(*calibrated_rows(300, 3, seed=s)) for s in range(10)]
    assert sum(d.method == "none" for d in decisions) >= 8

    over = apply_temperature(proba, 0.4)
    chosen = choose_calibration(over, codes, seed=0)
    assert chosen.method == "temperature" and chosen.active
    assert chosen.temperature == pytest.approx(2.5, rel=0.15)
    assert chosen.oof_after is not None and chosen.oof_before is not None
    assert chosen.oof_after < chosen.oof_before * (1 - MIN_GAIN)
    tempered = apply_temperature(over, chosen.temperature)
    np.testing.assert_array_equal(chosen.apply(over), apply_floor(tempered, probability_floor(2000)))
    assert chosen.note() == f"calibrated T={chosen.temperature:.2f}, floor 0.00025"
    assert choose_calibration(over, codes, seed=0) == chosen  # seeded folds: the same decision


def test_valid_rows_all_classified_right_decide_nothing() -> None:
    proba, _ = calibrated_rows(300, 3, seed=4)
    codes = proba.argmax(axis=1)  # no wrong answer: sharpening would always look better, in every fold
    decision = choose_calibration(proba, codes)
    assert decision.method == "none" and "classified right" in decision.reason
    assert fit_temperature(proba, codes) < 0.06  # what an unguarded fit would do: T at its lower bound
    # ...but no row stays more certain than 300 right answers show: a wrong answer on a new row costs
    # -log(1 / 602 / 2) = 7.1 nats instead of up to 34.5
    floored = decision.apply(proba)
    assert decision.active and floored.max() <= 1 - 1 / 602 + 1e-12 and floored.min() >= 1 / 602 / 2 - 1e-12
    certain = np.array([[1.0, 0.0, 0.0]])
    assert mean_log_loss(decision.apply(certain), np.array([1])) == pytest.approx(np.log(2 * 602))


def test_the_floor_keeps_rows_and_labels() -> None:
    proba, _ = calibrated_rows(500, 4, seed=6)
    proba[0] = [1.0, 0.0, 0.0, 0.0]
    for floor in (probability_floor(0 + 1), probability_floor(69), probability_floor(20_000)):
        out = apply_floor(proba, floor)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(out.argmax(axis=1), proba.argmax(axis=1))
        assert out.max() <= 1 - floor + 1e-12 and out.min() >= floor / 3 - 1e-12
    assert apply_floor(proba, 0.0) is proba
    with pytest.raises(ValueError, match="floor"):
        apply_floor(proba, 0.5)
    with pytest.raises(ValueError, match="floor"):
        Calibration.from_dict({"method": "none", "floor": -0.1})
    # decisions saved before the floor load without one
    assert Calibration.from_dict({"method": "temperature", "temperature": 1.3}).floor == 0.0


def test_sharpening_stops_where_confidence_reaches_the_rows_accuracy() -> None:
    # Confident right answers and one wrong answer that was nearly right: every fold's log loss falls as T
    # sharpens (the wrong row costs little), as with a model of the bundled breast_cancer table whose test
    # log loss an unbounded fit took from 0.14 to 1.00.
    rng = np.random.default_rng(5)
    top = rng.uniform(0.985, 0.9999, size=120)
    proba = np.column_stack([top, 1 - top])
    codes = np.zeros(120, dtype=np.int64)
    proba[0] = [0.51, 0.49]
    codes[0] = 1
    assert fit_temperature(proba, codes) < 0.5  # what the log loss alone asks for
    assert sharpest_temperature(proba, codes) == 1.0  # mean confidence 0.99 already above 120/122
    decision = choose_calibration(proba, codes)
    assert decision.temperature >= 1.0
    # timid probabilities with the same accuracy may be sharpened, down to that accuracy
    timid = apply_temperature(proba, 4.0)
    lowest = sharpest_temperature(timid, codes)
    assert lowest < 1.0
    sharpened = apply_temperature(timid, lowest).max(axis=1).mean()
    assert sharpened == pytest.approx((119 + 1) / (120 + 2), abs=1e-6)
    chosen = choose_calibration(timid, codes)
    assert chosen.active and chosen.temperature >= lowest - 1e-9


def test_few_rows_or_rare_classes_decide_without_warnings() -> None:
    proba, codes = calibrated_rows(60, 3, seed=3)
    codes[:] = 0
    codes[0] = 1  # one row of a class: no stratified folds, plain ones (StratifiedKFold would warn)
    assert choose_calibration(apply_temperature(proba, 0.3), codes).folds == 5
    few = choose_calibration(proba[:10], codes[:10])
    assert few.method == "none" and few.oof_before is None and "too few" in few.reason
    assert few.floor == probability_floor(10)


def test_calibration_round_trips_through_dicts() -> None:
    decision = Calibration("temperature", 1.37, 0.41, 0.38, 5, 69, "temperature 1.370: ...")
    assert Calibration.from_dict(decision.to_dict()) == decision
    assert Calibration.from_dict({"method": "none"}) == Calibration()
    with pytest.raises(ValueError, match="method"):
        Calibration.from_dict({"method": "isotonic"})
    with pytest.raises(ValueError, match="positive"):
        Calibration.from_dict({"method": "temperature", "temperature": -1})


# --- decision thresholds ------------------------------------------------------------------------------


def skewed_binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A rare positive class whose probabilities sit well below 0.5: balanced accuracy and F1 want a lower
    threshold."""
    rng = np.random.default_rng(seed)
    codes = (rng.random(n) < 0.15).astype(np.int64)
    p1 = np.clip(0.1 + 0.3 * codes + rng.normal(0, 0.12, n), 0.001, 0.999)
    return np.column_stack([1 - p1, p1]), codes


@pytest.mark.parametrize("metric", ["balanced_accuracy", "f1"])
def test_threshold_scores_equal_scikit_learn_at_every_threshold(metric: str) -> None:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    proba, codes = skewed_binary(500, 1)
    score = {"balanced_accuracy": balanced_accuracy_score, "f1": f1_score}[metric]
    expected = [score(codes, (proba[:, 1] > t).astype(int)) for t in THRESHOLD_GRID]
    np.testing.assert_allclose(_threshold_scores(proba[:, 1], codes == 1, metric, THRESHOLD_GRID), expected)


@pytest.mark.parametrize("metric", ["balanced_accuracy", "f1"])
def test_a_threshold_is_kept_only_where_it_helps_held_out_rows(metric: str) -> None:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    proba, codes = skewed_binary(2000, 2)
    decision = choose_threshold(proba, codes, metric, seed=0)
    assert decision.method == "threshold" and decision.threshold < 0.45, decision.reason
    assert decision.oof_after is not None and decision.oof_before is not None
    assert decision.oof_after > decision.oof_before and decision.note() == f"threshold {decision.threshold:.2f}"
    moved = decision.apply(proba)
    np.testing.assert_array_equal(moved.argmax(axis=1), proba[:, 1] > decision.threshold)
    np.testing.assert_allclose(moved.sum(axis=1), 1.0)
    # the ranking stays: the moved probabilities order the rows as before
    np.testing.assert_array_equal(np.argsort(moved[:, 1], kind="stable"), np.argsort(proba[:, 1], kind="stable"))
    # new rows from the same source score better with it
    fresh, fresh_codes = skewed_binary(2000, 3)
    score = {"balanced_accuracy": balanced_accuracy_score, "f1": f1_score}[metric]
    assert score(fresh_codes, decision.apply(fresh).argmax(axis=1)) > score(fresh_codes, fresh.argmax(axis=1))
    # balanced, calibrated rows: 0.5 is already right, and the decision leaves it
    calibrated, calibrated_codes = calibrated_rows(3000, 2, 4)
    kept = choose_threshold(calibrated, calibrated_codes, "balanced_accuracy", seed=0)
    assert kept.method == "none" and kept.apply(calibrated) is calibrated, kept.reason
    few = choose_threshold(proba[:10], codes[:10], metric)
    assert few.method == "none" and "too few" in few.reason
    with pytest.raises(ValueError, match="balanced_accuracy, f1"):
        choose_threshold(proba, codes, "accuracy")


def test_a_threshold_round_trips_and_bad_ones_are_refused() -> None:
    decision = Calibration("threshold", oof_before=0.7, oof_after=0.8, folds=5, rows=900, reason="r", threshold=0.31)
    assert Calibration.from_dict(decision.to_dict()) == decision and decision.active
    with pytest.raises(ValueError, match="between 0 and 1"):
        Calibration.from_dict({"method": "threshold", "threshold": 1.5})
    with pytest.raises(ValueError, match="between 0 and 1"):
        apply_threshold(np.array([[0.5, 0.5]]), 0.0)


# --- on fitted models -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def penguins(tmp_path_factory: pytest.TempPathFactory) -> TrialData:
    home = tmp_path_factory.mktemp("calibration")
    settings = Settings(home=home / "home", data_roots=(home,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        return trial_data(ws, ws.create_experiment(ExperimentSpec("penguins", metric="log_loss")))


def test_a_model_applies_its_calibration_everywhere(penguins: TrialData) -> None:
    record, blob = fit_candidate("lightgbm", {}, penguins, WorkerResources(cpus=1), LocalReporter(), 0)
    model = loads_model(blob)
    assert record.calibration is not None and model.calibration_ == Calibration.from_dict(record.calibration)
    model.calibration_ = None
    raw = model.predict_proba(penguins.X_test)
    forced = Calibration("temperature", 1.7)
    model.calibration_ = forced
    np.testing.assert_allclose(model.predict_proba(penguins.X_test), apply_temperature(raw, 1.7), rtol=0, atol=0)
    np.testing.assert_array_equal(model.predict(penguins.X_test), np.asarray(model.classes_)[raw.argmax(axis=1)])
    fast = verified_fast_path(model)
    assert fast is not None
    columns, n = probe_columns(model.input_schema_)
    uncalibrated = loads_model(blob)
    uncalibrated.calibration_ = None
    raw_fast = uncalibrated.fast_path()
    assert raw_fast is not None
    np.testing.assert_allclose(fast(columns, n), apply_temperature(raw_fast(columns, n), 1.7), rtol=1e-12)
    # a pickle and the native files keep it
    assert loads_model(dumps_model(model)).calibration_ == forced
    native = native_files(model)
    assert native is not None, "the calibrated LightGBM model has no exact native form"
    spec, files = native
    rebuilt = load_native(spec, files.__getitem__)
    assert rebuilt.calibration_ == forced
    np.testing.assert_array_equal(rebuilt.predict_proba(penguins.X_test), model.predict_proba(penguins.X_test))


def test_a_binary_model_applies_its_threshold_everywhere(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        data = trial_data(ws, ws.create_experiment(ExperimentSpec("breast_cancer", metric="balanced_accuracy")))
    record, blob = fit_candidate("lightgbm", {}, data, WorkerResources(cpus=1), LocalReporter(), 0)
    model = loads_model(blob)
    assert record.calibration is not None and model.calibration_ == Calibration.from_dict(record.calibration)
    assert "out-of-fold balanced_accuracy" in record.calibration["reason"]
    model.calibration_ = None
    raw = model.predict_proba(data.X_test)
    forced = Calibration("threshold", threshold=0.8)
    model.calibration_ = forced
    np.testing.assert_array_equal(model.predict(data.X_test), np.asarray(model.classes_)[(raw[:, 1] > 0.8).astype(int)])
    fast = verified_fast_path(model)
    assert fast is not None
    columns, n = probe_columns(model.input_schema_)
    uncalibrated = loads_model(blob)
    uncalibrated.calibration_ = None
    raw_fast = uncalibrated.fast_path()
    assert raw_fast is not None
    np.testing.assert_allclose(fast(columns, n), apply_threshold(raw_fast(columns, n), 0.8), rtol=1e-12)
    native = native_files(model)
    assert native is not None
    rebuilt = load_native(native[0], native[1].__getitem__)
    assert rebuilt.calibration_ == forced
    np.testing.assert_array_equal(rebuilt.predict(data.X_test), model.predict(data.X_test))
    assert loads_model(dumps_model(model)).calibration_ == forced


def test_a_model_pickled_before_calibration_loads_uncalibrated(penguins: TrialData) -> None:
    _, blob = fit_candidate("lightgbm", {}, penguins, WorkerResources(cpus=1), LocalReporter(), 0)
    model = loads_model(blob)
    assert isinstance(model, TabularModel)
    raw = model._predict(penguins.X_test)  # the booster's own probabilities
    del model.calibration_  # as an older workbench pickled it: no such attribute
    old = pickle.loads(pickle.dumps(model))
    assert "calibration_" not in vars(old) and old.calibration_ is None
    np.testing.assert_array_equal(old.predict_proba(penguins.X_test), raw)
    native = native_files(old)
    assert native is not None
    assert "calibration" not in files_meta(native[1])


def files_meta(files: dict[str, bytes]) -> dict[str, object]:
    import json

    meta: dict[str, object] = json.loads(files["model-meta.json"])
    return meta
