"""Native model files: LightGBM, XGBoost and CatBoost family models rebuilt from their libraries' own files and
JSON, predicting exactly like their pickles; what JSON cannot hold exactly stays a pickle."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.config import Settings
from workbench.model import FittedModel, InputSchema, loads_model, probe_columns, verified_fast_path
from workbench.model._native import load_native, native_files
from workbench.model.tabular import CatBoostModel, LightGBMModel, XGBoostModel
from workbench.search import WorkerResources
from workbench.search.families import LocalReporter, fit_candidate
from workbench.serve._schema import FrameBuilder
from workbench.store import ExperimentSpec, TrialData, Workspace, trial_data

REPO = Path(__file__).resolve().parents[2]
CLASSES = {"lightgbm": LightGBMModel, "xgboost": XGBoostModel, "catboost": CatBoostModel}
PICKLE_OPCODE = b"\x80"  # the PROTO opcode every pickle of protocol 2 or later starts with


def dataset(tmp_path: Path, name: str) -> TrialData:
    """A bundled dataset's rows; "NAME:METRIC" chooses the metric (mae fits L1 objectives)."""
    name, _, metric = name.partition(":")
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        return trial_data(ws, ws.create_experiment(ExperimentSpec(name, metric=metric or None)))


def fitted(family: str, data: TrialData) -> FittedModel:
    _, blob = fit_candidate(family, {}, data, WorkerResources(cpus=1), LocalReporter(), seed=0)
    return loads_model(blob)


def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)


def served_columns(X: pd.DataFrame, schema: InputSchema) -> tuple[dict[str, object], int]:
    records = json.loads(X.to_json(orient="records", date_format="iso"))
    batch = FrameBuilder(schema, max_rows=100_000).from_records(records)
    return dict(batch.columns), batch.n


@pytest.mark.slow
@pytest.mark.parametrize("name", ["penguins", "breast_cancer", "grunfeld", "grunfeld:mae"])
def test_native_models_predict_exactly_like_their_pickles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    data = dataset(tmp_path, name)
    X = data.X_test
    for family, model_class in CLASSES.items():
        pickled = fitted(family, data)
        parts = native_files(pickled)
        assert parts is not None, family
        spec, files = parts
        assert spec == {
            "format": "native",
            "library": family,
            "file": {"lightgbm": "model.txt", "xgboost": "model.ubj", "catboost": "model.cbm"}[family],
            "prep": "prep.json",
            "meta": "model-meta.json",
        }
        assert not any(data.startswith(PICKLE_OPCODE) for data in files.values()), family
        with monkeypatch.context() as patch:
            no_unpickling(patch)
            native = load_native(spec, files.__getitem__)
        assert type(native) is model_class and native.classes_ == pickled.classes_
        np.testing.assert_array_equal(native.predict(X), pickled.predict(X))
        if data.problem_type == "regression":
            np.testing.assert_array_equal(native.predict_values(X), pickled.predict_values(X))
        else:
            np.testing.assert_array_equal(native.predict_proba(X), pickled.predict_proba(X))
        # The server's guard verifies the native model's fast path, and it answers what the pickle's does.
        fast, pickled_fast = verified_fast_path(native), verified_fast_path(pickled)
        assert fast is not None and pickled_fast is not None, family
        for columns, n in (served_columns(X, native.input_schema_), probe_columns(native.input_schema_)):
            np.testing.assert_array_equal(fast(columns, n), pickled_fast(columns, n))
        one, _ = served_columns(X.iloc[[0]], native.input_schema_)
        np.testing.assert_array_equal(fast(one, 1), native.prediction(X.iloc[[0]]))
        # Writing is deterministic: members sharing an artifact write the same files.
        again = native_files(native, "members/x-")
        assert again is not None and list(again[1].values()) == list(files.values())


def _tiny(columns: list[object], classes: tuple[object, ...]) -> TrialData:
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({c: rng.normal(size=n) for c in columns})
    y = np.asarray(classes, dtype=object)[(X[columns[0]] > 0).to_numpy().astype(int)]
    return TrialData(
        X.iloc[:80], y[:80], X.iloc[80:100], y[80:100], X.iloc[100:], y[100:],
        problem_type="binary", metric="roc_auc", classes=classes, split_hash="x",
    )  # fmt: skip


@pytest.mark.slow
def test_what_json_cannot_hold_exactly_stays_a_pickle(tmp_path: Path) -> None:
    model = fitted("lightgbm", dataset(tmp_path, "penguins"))
    assert native_files(model) is not None

    def changed(**attributes: object) -> FittedModel:
        other = copy.copy(model)
        vars(other).update(attributes)
        return other

    assert native_files(changed(params={**model.params, "rounds": (1, 2)})) is None  # a tuple reads back as a list
    assert native_files(changed(params={**model.params, "rate": np.float64(0.1)})) is None  # not a plain float
    assert native_files(changed(params={**model.params, "rate": float("nan")})) is None
    assert native_files(changed(params={1: "x"})) is None  # a key JSON turns into text
    assert native_files(changed(classes_=(np.str_("Adelie"), "Chinstrap", "Gentoo"))) is None
    assert native_files(changed(extra_=1)) is None  # an attribute the format does not know
    subclass = changed()
    subclass.__class__ = type("Custom", (LightGBMModel,), {})
    assert native_files(subclass) is None
    prep = copy.deepcopy(model.prep_)  # type: ignore[attr-defined]
    prep.codes_[0] = {1: 0}  # a category that is not text
    assert native_files(changed(prep_=prep)) is None

    # Column names that are not strings, and labels JSON cannot hold, on real fits.
    numbered = fitted("lightgbm", _tiny([0, 1], ("no", "yes")))
    assert native_files(numbered) is None
    labelled = fitted("lightgbm", _tiny(["a", "b"], (np.int64(0), np.int64(1))))
    assert native_files(labelled) is None
    plain = fitted("lightgbm", _tiny(["a", "b"], (0, 1)))
    assert native_files(plain) is not None
    # Other families have no native format here.
    linear = fitted("linear", _tiny(["a", "b"], ("no", "yes")))
    assert native_files(linear) is None


@pytest.mark.slow
def test_a_native_model_that_would_predict_otherwise_stays_a_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import lightgbm as lgb

    from workbench.model import _native

    model = fitted("lightgbm", dataset(tmp_path, "grunfeld"))
    codec = _native._BY_LIBRARY["lightgbm"]

    def first_tree_only(data: bytes, meta: Mapping[str, Any]) -> Any:
        return lgb.Booster(model_str=codec.load(data, meta).model_to_string(num_iteration=1))

    short = dataclasses.replace(codec, load=first_tree_only)
    monkeypatch.setattr(_native, "_BY_LIBRARY", {**_native._BY_LIBRARY, "lightgbm": short})
    with caplog.at_level(logging.INFO, logger="workbench.model"):
        assert native_files(model) is None
    assert "does not rebuild it exactly" in caplog.text


def test_unknown_native_library_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown native model library"):
        load_native({"library": "onnx", "file": "m", "prep": "p", "meta": "x"}, lambda path: b"{}")
