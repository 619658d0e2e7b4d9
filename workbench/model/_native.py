"""Family models as native model files: LightGBM, XGBoost and CatBoost models stored without a pickle.

A native model is three files, named under a prefix (a bundle's folder, or an ensemble member's prefix):

- the booster in its library's own format: LightGBM's model text (`model.txt`, `Booster.model_to_string`),
  XGBoost's UBJSON model (`model.ubj`, `Booster.save_raw("ubj")`) or CatBoost's binary model (`model.cbm`);
- `prep.json`: the OrdinalPrep (`workbench.model._native_prep`);
- `model-meta.json`: the model's other attributes: `params`, `problem_type`, `classes`, `input_schema`
  (`InputSchema.to_dict`) and `best_iteration`; for XGBoost the learner `config` (`Booster.save_config`,
  which a pickle holds too: threads, device); for CatBoost the `estimator` class name
  (CatBoostClassifier or CatBoostRegressor), its constructor's `init_params` and `fitted_codes`; and
  `calibration` (`Calibration.to_dict`, or null) when the model has one decided.

Its spec (in a bundle's model.json or an ensemble member's entry) is `{"format": "native", "library":
"lightgbm" | "xgboost" | "catboost", "file": ..., "prep": ..., "meta": ...}` with bundle-relative paths.

`native_files` writes these files only when they rebuild the model exactly: the rebuilt model's attributes
equal the original's with the same types all the way down (so no column name, category, label or parameter
that JSON turns into something else), and it predicts exactly what the original does on probe rows drawn
from its input schema. Anything else (another model class or a subclass, an attribute the format does not
know, a value JSON cannot hold) gives None, and the caller keeps the pickle. `load_native` builds the model
through its class's constructor from the files: nothing is unpickled. Like the model classes, this module
imports the model libraries only when a model of theirs is written or loaded.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.model._base import FittedModel
from workbench.model._calibration import Calibration
from workbench.model._columns import columns_to_frame, probe_columns
from workbench.model._native_prep import prep_from_json, prep_to_json
from workbench.model._schema import ColumnSpec, InputSchema
from workbench.model.tabular._base import TabularModel
from workbench.model.tabular._catboost import CatBoostModel
from workbench.model.tabular._lightgbm import LightGBMModel
from workbench.model.tabular._prep import OrdinalPrep, TablePrep
from workbench.model.tabular._xgboost import XGBoostModel

__all__ = ["NATIVE_FORMAT", "NATIVE_LIBRARIES", "load_native", "native_files"]

log = logging.getLogger("workbench.model")

NATIVE_FORMAT = "native"
PREP_FILE = "prep.json"
META_FILE = "model-meta.json"


@dataclass(frozen=True)
class _Codec:
    """How one library's model is written and read.

    attr: the model attribute that holds the library's object (`booster_` or `model_`).
    dump/load: the object as bytes in the library's format, and back (`load` also reads the meta).
    extras: what the meta records of the object besides its bytes; read back, it must be the same.
    """

    library: str
    model_class: type[TabularModel]
    file: str
    attr: str
    dump: Callable[[Any], bytes]
    load: Callable[[bytes, Mapping[str, Any]], Any]
    extras: Callable[[Any], dict[str, Any]]


def _lightgbm_dump(booster: Any) -> bytes:
    import lightgbm as lgb

    if type(booster) is not lgb.Booster:
        raise TypeError(f"not a lightgbm.Booster: {type(booster).__name__}")
    text: str = booster.model_to_string(num_iteration=-1)  # every tree, as a pickle keeps them
    return text.encode()


def _lightgbm_load(data: bytes, meta: Mapping[str, Any]) -> Any:
    import lightgbm as lgb

    return lgb.Booster(model_str=data.decode())


def _xgboost_dump(booster: Any) -> bytes:
    import xgboost as xgb

    if type(booster) is not xgb.Booster:
        raise TypeError(f"not an xgboost.Booster: {type(booster).__name__}")
    return bytes(booster.save_raw(raw_format="ubj"))


def _xgboost_load(data: bytes, meta: Mapping[str, Any]) -> Any:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(data))
    booster.load_config(json.dumps(meta["config"]))
    return booster


def _xgboost_extras(booster: Any) -> dict[str, Any]:
    return {"config": json.loads(booster.save_config())}


def _catboost_classes() -> dict[str, type]:
    from catboost import CatBoostClassifier, CatBoostRegressor

    return {"CatBoostClassifier": CatBoostClassifier, "CatBoostRegressor": CatBoostRegressor}


def _catboost_dump(model: Any) -> bytes:
    if not any(type(model) is estimator for estimator in _catboost_classes().values()):
        raise TypeError(f"not a CatBoostClassifier or CatBoostRegressor: {type(model).__name__}")
    with tempfile.TemporaryDirectory(prefix="workbench-cbm-") as folder:
        path = Path(folder) / "model.cbm"
        model.save_model(str(path), format="cbm")
        return path.read_bytes()


def _catboost_load(data: bytes, meta: Mapping[str, Any]) -> Any:
    estimator = _catboost_classes()[meta["estimator"]]
    return estimator(**meta["init_params"]).load_model(blob=data)


def _catboost_extras(model: Any) -> dict[str, Any]:
    return {"estimator": type(model).__name__, "init_params": model.get_params()}


_CODECS = (
    _Codec("lightgbm", LightGBMModel, "model.txt", "booster_", _lightgbm_dump, _lightgbm_load, lambda _: {}),
    _Codec("xgboost", XGBoostModel, "model.ubj", "booster_", _xgboost_dump, _xgboost_load, _xgboost_extras),
    _Codec("catboost", CatBoostModel, "model.cbm", "model_", _catboost_dump, _catboost_load, _catboost_extras),
)
_BY_LIBRARY = {codec.library: codec for codec in _CODECS}
_BY_CLASS: dict[type, _Codec] = {codec.model_class: codec for codec in _CODECS}
NATIVE_LIBRARIES = tuple(_BY_LIBRARY)
_NativeModel = LightGBMModel | XGBoostModel | CatBoostModel


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, allow_nan=False, indent=1) + "\n").encode()


def _meta(model: _NativeModel, codec: _Codec) -> dict[str, Any]:
    meta = {
        "params": model.params,
        "problem_type": model.problem_type,
        "classes": None if model.classes_ is None else list(model.classes_),
        "input_schema": model.input_schema_.to_dict(),
        "best_iteration": model.best_iteration_,
    }
    if "calibration_" in vars(model):  # decided in the search; models before it have none
        meta["calibration"] = None if model.calibration_ is None else model.calibration_.to_dict()
    if isinstance(model, CatBoostModel):
        meta["fitted_codes"] = model.fitted_codes_
    return {**meta, **codec.extras(getattr(model, codec.attr))}


def _build(codec: _Codec, meta: Mapping[str, Any], prep: OrdinalPrep, fitted: Any) -> TabularModel:
    fields: dict[str, Any] = {
        "params": meta["params"],
        "problem_type": meta["problem_type"],
        "classes": meta["classes"],
        "input_schema": InputSchema.from_dict(meta["input_schema"]),
        "prep": prep,
        "best_iteration": meta["best_iteration"],
    }
    model: TabularModel
    if codec.model_class is CatBoostModel:
        model = CatBoostModel(**fields, model=fitted, fitted_codes=meta["fitted_codes"])
    else:
        booster_model = LightGBMModel if codec.model_class is LightGBMModel else XGBoostModel
        model = booster_model(**fields, booster=fitted)
    if "calibration" in meta:
        calibration = meta["calibration"]
        model.calibration_ = None if calibration is None else Calibration.from_dict(calibration)
    return model


def load_native(spec: Mapping[str, Any], read: Callable[[str], bytes]) -> TabularModel:
    """The model a native spec describes, built by its class's constructor; `read(path)` gives a file's bytes."""
    codec = _BY_LIBRARY.get(spec["library"])
    if codec is None:
        raise ValueError(f"unknown native model library {spec['library']!r}; this workbench reads {NATIVE_LIBRARIES}")
    meta = json.loads(read(spec["meta"]))
    prep = prep_from_json(json.loads(read(spec["prep"])))
    return _build(codec, meta, prep, codec.load(read(spec["file"]), meta))


def native_files(model: FittedModel, prefix: str = "") -> tuple[dict[str, Any], dict[str, bytes]] | None:
    """The native spec and files (path -> bytes, paths under `prefix`) of `model`, or None when its class has
    no native format or the files would not rebuild it exactly (see the module docstring)."""
    codec = _BY_CLASS.get(type(model))
    if codec is None:
        return None
    assert isinstance(model, _NativeModel)
    spec = {
        "format": NATIVE_FORMAT,
        "library": codec.library,
        "file": f"{prefix}{codec.file}",
        "prep": f"{prefix}{PREP_FILE}",
        "meta": f"{prefix}{META_FILE}",
    }
    try:
        fitted = getattr(model, codec.attr)
        files = {
            spec["file"]: codec.dump(fitted),
            spec["prep"]: _json_bytes(prep_to_json(model.prep_)),
            spec["meta"]: _json_bytes(_meta(model, codec)),
        }
        rebuilt = load_native(spec, files.__getitem__)
        exact = (
            _same(_state(model, codec), _state(rebuilt, codec))
            and _same(codec.extras(fitted), codec.extras(getattr(rebuilt, codec.attr)))
            and _predicts_alike(model, rebuilt)
        )
    except Exception:  # a value JSON cannot hold, a library that cannot write its model: the pickle stays
        log.info("%s is kept as a pickle: no exact native form", type(model).__name__, exc_info=True)
        return None
    if not exact:
        log.info("%s is kept as a pickle: its native form does not rebuild it exactly", type(model).__name__)
        return None
    return spec, files


def _state(model: Any, codec: _Codec) -> dict[str, Any]:
    """The model's attributes but the library object and caches (`_rows`, LightGBM's single-row predictor)."""
    return {key: value for key, value in vars(model).items() if key != codec.attr and not key.startswith("_")}


_PLAIN = (type(None), bool, int, float, str)
_OBJECTS = (InputSchema, ColumnSpec, OrdinalPrep, TablePrep, Calibration)


def _same(a: Any, b: Any) -> bool:
    """Equal, with identical types all the way down: what reading JSON back must give for the model to be exact."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        keys_are_text = all(type(key) is str for key in (*a, *b))
        return keys_are_text and a.keys() == b.keys() and all(_same(value, b[key]) for key, value in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, _PLAIN):
        return bool(a == b)
    if isinstance(a, _OBJECTS):
        return _same(vars(a), vars(b))
    return False


def _predicts_alike(original: FittedModel, rebuilt: FittedModel) -> bool:
    """Both models give the same numbers, bit for bit, on probe rows from the input schema."""
    schema = original.input_schema_
    frame = columns_to_frame(probe_columns(schema)[0], schema)
    expected, got = np.asarray(original.prediction(frame)), np.asarray(rebuilt.prediction(frame))
    return expected.dtype == got.dtype and expected.shape == got.shape and np.array_equal(expected, got, equal_nan=True)
