"""A pandas-free fast path for a model inside an AutoGluon predictor.

AutoGluon's single-row predict spends milliseconds in pandas: the learner checks the frame, the feature
generator pipeline transforms it, and each model preprocesses it again. Here the common generators
(type enforcement, missing-value fill, categories and their memory-minimised codes, column drops) are
compiled once into numpy steps (dates keep AutoGluon's own pandas parsing), and the models are run natively where that is exact: LightGBM through its
booster, weighted ensembles by their weights. Other models get the compiled features as a small frame
and run their own `predict_proba`, which still skips the learner and the feature pipeline.

Anything not understood raises UnsupportedFastPath; `verified_fast_path` then also compares this path with
AutoGluon's own predictions on probe rows before a server uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._columns import Columns, FastPredict, UnsupportedFastPath
from workbench.model._forest import FOREST_ROWS, ForestArrays
from workbench.model._lightgbm_fast import LightGBMRows

__all__ = ["compile_autogluon"]


@dataclass(frozen=True)
class _Codes:
    """A categorical feature after AutoGluon's CategoryFeatureGenerator: codes into `categories`, -1 missing."""

    codes: np.ndarray
    categories: Sequence[Any]


Features = dict[str, Any]  # feature name → ndarray or _Codes
Step = Callable[[Features, int], Features]
ModelPredict = Callable[[Features, int], np.ndarray]  # AutoGluon's internal form (binary: P(class 1))


def _objects(values: Any, n: int) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    array = np.empty(n, dtype=object)
    array[:] = list(values.tolist() if hasattr(values, "tolist") else values)
    return array


def _floats(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == object:
        return np.array([np.nan if v is None else v for v in array.tolist()], dtype=np.float64)
    floats: np.ndarray = array.astype(np.float64, copy=False)
    return floats


def _is_missing(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:
        return np.array([v is None or (isinstance(v, float) and v != v) for v in array.tolist()], dtype=bool)
    if array.dtype.kind == "f":
        missing: np.ndarray = np.isnan(array)
        return missing
    return np.zeros(len(array), dtype=bool)


def _as_type(generator: Any) -> Step:
    bools: dict[str, Any] = dict(generator._bool_features or {})
    ints = {str(f) for f in np.asarray(generator._int_features).tolist()}
    types = {name: np.dtype(t) for name, t in (generator._type_map_real_opt or {}).items()}
    for name, dtype in types.items():
        if name not in bools and dtype.kind not in "Oiuf":
            raise UnsupportedFastPath(f"feature {name!r} has dtype {dtype}")

    def step(x: Features, n: int) -> Features:
        out: Features = {}
        for name, values in x.items():
            if name in bools:
                out[name] = (_objects(values, n) == bools[name]).astype(np.int8)
                continue
            dtype = types[name]
            if dtype.kind == "O":
                out[name] = _objects(values, n)
            elif dtype.kind == "f":
                out[name] = _floats(values).astype(dtype, copy=False)
            else:
                numbers = _floats(values)
                if name in ints:  # AutoGluon imputes 0 for an int feature that is missing at predict time
                    numbers = np.where(np.isnan(numbers), 0.0, numbers)
                if np.isnan(numbers).any():
                    raise ValueError(f"missing value in integer feature {name!r}")
                with np.errstate(invalid="ignore"):  # out-of-range numbers: the same wrap-around as pandas' astype
                    out[name] = numbers.astype(dtype)
        return out

    return step


def _fill_na(generator: Any) -> Step:
    fill: dict[str, Any] = dict(generator._fillna_feature_map or {})

    def step(x: Features, n: int) -> Features:
        out = dict(x)
        for name, value in fill.items():
            if name in out:
                column = out[name]
                missing = _is_missing(column)
                if missing.any():
                    column = column.copy()
                    column[missing] = value
                    out[name] = column
        return out

    return step


def _category(generator: Any) -> Step:
    if getattr(generator, "_fillna_map", None) is not None:
        raise UnsupportedFastPath("CategoryFeatureGenerator with a fill map")
    maps = {name: list(categories) for name, categories in (generator.category_map or {}).items()}
    lookups = {name: {value: i for i, value in enumerate(categories)} for name, categories in maps.items()}

    def step(x: Features, n: int) -> Features:
        out: Features = {}
        for name, lookup in lookups.items():
            values = _objects(x[name], n).tolist()
            codes = np.fromiter((lookup.get(v, -1) if v == v else -1 for v in values), dtype=np.int64, count=n)
            out[name] = _Codes(codes, maps[name])
        return out

    return step


def _category_memory_minimize(generator: Any) -> Step:
    maps = {name: list(categories) for name, categories in generator._category_maps.items()}

    def step(x: Features, n: int) -> Features:
        out = dict(x)
        for name, categories in maps.items():
            column = x[name]
            if not isinstance(column, _Codes) or len(column.categories) != len(categories):
                raise ValueError(f"feature {name!r} is not the categorical feature the generator was fitted on")
            out[name] = _Codes(column.codes, categories)
        return out

    return step


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?")
_DATE_PARTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "year": lambda t: t.astype("datetime64[Y]").astype(np.int64) + 1970,
    "month": lambda t: t.astype("datetime64[M]").astype(np.int64) % 12 + 1,
    "day": lambda t: (t.astype("datetime64[D]") - t.astype("datetime64[M]")).astype(np.int64) + 1,
    "dayofweek": lambda t: (t.astype("datetime64[D]").astype(np.int64) + 3) % 7,  # 1970-01-01 was a Thursday
}


def _iso_instants(values: Any, n: int, fill: int) -> np.ndarray | None:
    """Naive ISO dates (as AutoGluon reads them: UTC) as datetime64[ns], missing ones at `fill`; None when
    any value needs pandas' general parser."""
    out = np.empty(n, dtype="datetime64[ns]")
    for i, value in enumerate(_objects(values, n).tolist()):
        if value is None or (isinstance(value, float) and value != value):
            out[i] = np.datetime64(fill, "ns")
        elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
            out[i] = np.datetime64(value.replace(" ", "T"), "ns")
        else:
            return None
    return out


def _datetime(generator: Any) -> Step:
    """Dates as AutoGluon reads them: missing or unparsable dates become the training mean, then the date as
    int64 nanoseconds and its parts. Plain ISO dates are parsed with numpy; anything else goes through
    AutoGluon's own pandas call."""
    fill: dict[str, Any] = dict(generator._fillna_map or {})
    parts = list(generator.features)

    def with_pandas(name: str, values: Any, n: int) -> Features:
        series = pd.to_datetime(
            values if isinstance(values, pd.Series) else pd.Series(_objects(values, n)),
            utc=True,
            errors="coerce",
            format="mixed",
        )
        missing = series.isna()
        if missing.any():
            series = series.copy()
            series[missing] = fill[name]
        out = {f"{name}.{part}": getattr(series.dt, part).astype(np.int64).to_numpy() for part in parts}
        out[name] = pd.to_numeric(series).to_numpy()
        return out

    def step(x: Features, n: int) -> Features:
        out: Features = {}
        for name in x:
            values = x[name]
            instants = None
            if not isinstance(values, pd.Series) and all(part in _DATE_PARTS for part in parts):
                instants = _iso_instants(values, n, int(pd.Timestamp(fill[name]).value))
            if instants is None:
                out.update(with_pandas(name, values, n))
                continue
            for part in parts:
                out[f"{name}.{part}"] = _DATE_PARTS[part](instants)
            out[name] = instants.astype(np.int64)
        return out

    return step


def _identity(generator: Any) -> Step:
    return lambda x, n: x


def _stages(generator: Any) -> Step:
    stages = [[_compile_generator(g) for g in stage] for stage in generator.generators]

    def step(x: Features, n: int) -> Features:
        for stage in stages:
            merged: Features = {}
            for run in stage:
                merged.update(run(x, n))
            x = merged
        return x

    return step


def _compile_generator(generator: Any) -> Step:
    """A numpy step doing what `generator.transform` does, for the generators AutoGluon uses by default."""
    from autogluon.features.generators import (
        AsTypeFeatureGenerator,
        BulkFeatureGenerator,
        CategoryFeatureGenerator,
        CategoryMemoryMinimizeFeatureGenerator,
        DatetimeFeatureGenerator,
        DropDuplicatesFeatureGenerator,
        DropUniqueFeatureGenerator,
        FillNaFeatureGenerator,
        IdentityFeatureGenerator,
    )

    if getattr(generator, "_pre_astype_generator", None) is not None:
        raise UnsupportedFastPath("a generator enforces input types first")
    if getattr(generator, "passthrough", False) and getattr(generator, "passthrough_features", None):
        raise UnsupportedFastPath("a generator passes features through")
    inner: Step
    if isinstance(generator, BulkFeatureGenerator):
        inner = _stages(generator)
    elif type(generator) is AsTypeFeatureGenerator:
        inner = _as_type(generator)
    elif type(generator) is FillNaFeatureGenerator:
        inner = _fill_na(generator)
    elif type(generator) is CategoryFeatureGenerator:
        inner = _category(generator)
    elif type(generator) is CategoryMemoryMinimizeFeatureGenerator:
        inner = _category_memory_minimize(generator)
    elif type(generator) is DatetimeFeatureGenerator:
        inner = _datetime(generator)
    elif type(generator) in (IdentityFeatureGenerator, DropUniqueFeatureGenerator, DropDuplicatesFeatureGenerator):
        inner = _identity(generator)
    else:
        raise UnsupportedFastPath(f"feature generator {type(generator).__name__}")
    post = [_compile_generator(g) for g in generator._post_generators]
    features_in = [str(f) for f in generator.features_in]
    features_out = [str(f) for f in generator.features_out]

    def step(x: Features, n: int) -> Features:
        out = inner({name: x[name] for name in features_in}, n)
        for run in post:
            out = run(out, n)
        return {name: out[name] for name in features_out}

    return step


def _pandas(value: Any) -> Any:
    if isinstance(value, _Codes):
        return pd.Categorical.from_codes(value.codes, categories=pd.Index(value.categories))
    return value


def _frame_model(model: Any) -> ModelPredict:
    """The model's own predict_proba on the compiled features: skips the learner and the feature pipeline."""
    features = [str(f) for f in model.features]

    def run(x: Features, n: int) -> np.ndarray:
        frame = pd.DataFrame({name: _pandas(x[name]) for name in features}, copy=False)
        return np.asarray(model.predict_proba(frame))

    return run


def _lightgbm(model: Any) -> ModelPredict:
    """The booster on a float matrix; categorical codes are remapped to the booster's own categories."""
    booster = model.model
    features = [str(f) for f in model.features]
    if booster.num_feature() != len(features):
        raise UnsupportedFastPath("LightGBM feature count differs from the model's features")
    booster_categories = list(booster.pandas_categorical or [])
    rows = LightGBMRows(booster)
    remaps: dict[str, np.ndarray] = {}

    def run(x: Features, n: int) -> np.ndarray:
        matrix = np.empty((n, len(features)), dtype=np.float64)
        category = 0
        for j, name in enumerate(features):
            value = x[name]
            if isinstance(value, _Codes):
                if name not in remaps:
                    if category >= len(booster_categories):
                        raise ValueError("LightGBM has fewer categorical features than the model")
                    position = {v: i for i, v in enumerate(booster_categories[category])}
                    remaps[name] = np.array([position.get(v, -1) for v in value.categories], dtype=np.float64)
                category += 1
                codes = value.codes
                mapped = np.where(codes >= 0, remaps[name][np.maximum(codes, 0)], -1.0)
                matrix[:, j] = np.where(mapped >= 0, mapped, np.nan)
            else:
                matrix[:, j] = value
        return np.asarray(model._post_process_predictions(y_pred_proba=rows.predict(matrix)))

    return run


def _matrix(x: Features, n: int, features: Sequence[str], dtype: Any) -> np.ndarray:
    matrix = np.empty((n, len(features)), dtype=dtype)
    for j, name in enumerate(features):
        value = x[name]
        matrix[:, j] = value.codes if isinstance(value, _Codes) else value
    return matrix


def _forest(model: Any) -> ModelPredict:
    """AutoGluon's RF/XT preprocessing (category codes, missing -> 0, float32) and a vectorised tree walk."""
    estimator = model.model
    features = [str(f) for f in model.features]
    encoded = set(model._label_encoder.features_in) if model._label_encoder is not None else set()
    arrays = ForestArrays.from_estimator(estimator)
    regression = model.problem_type == "regression"

    def run(x: Features, n: int) -> np.ndarray:
        for name in features:
            if isinstance(x[name], _Codes) != (name in encoded):
                raise ValueError(f"feature {name!r} is not encoded as the forest was fitted")
        matrix = _matrix(x, n, features, np.float64)
        matrix = np.where(np.isnan(matrix), 0.0, matrix).astype(np.float32)
        if n > FOREST_ROWS:
            output = estimator.predict(matrix) if regression else estimator.predict_proba(matrix)
        else:
            output = arrays.predict(matrix)
            output = output[:, 0] if regression else output
        return np.asarray(model._convert_proba_to_unified_form(output))

    return run


def _catboost(model: Any) -> ModelPredict:
    """AutoGluon's CatBoost preprocessing (its own category codes, missing as a code) on a plain list."""
    features = [str(f) for f in model.features]
    mappings: dict[str, dict[Any, int]] = dict(model._category_mapping or {})
    categorical = set(model._category_features or [])
    if set(mappings) != categorical:
        raise UnsupportedFastPath("CatBoost categories are not mapped")
    regression = model.problem_type == "regression"
    remaps: dict[str, np.ndarray] = {}

    def run(x: Features, n: int) -> np.ndarray:
        columns: list[Any] = []
        for name in features:
            value = x[name]
            if name in categorical:
                if not isinstance(value, _Codes):
                    raise ValueError(f"feature {name!r} is not categorical")
                mapping = mappings[name]
                if name not in remaps:
                    unseen = len(mapping)
                    remaps[name] = np.array(
                        [mapping.get(c, unseen) for c in value.categories] + [mapping.get("__NaN__", unseen)]
                    )
                codes = np.where(value.codes >= 0, value.codes, len(value.categories))
                columns.append(remaps[name][codes].tolist())
            else:
                columns.append(np.asarray(value, dtype=np.float64).tolist())
        rows = [list(row) for row in zip(*columns, strict=True)]
        if regression:
            return np.asarray(model.model.predict(rows))
        return np.asarray(model._convert_proba_to_unified_form(model.model.predict_proba(rows)))

    return run


def _xgboost(model: Any) -> ModelPredict:
    """AutoGluon's XGBoost input without pandas or scipy.

    AutoGluon one-hot encodes the categorical features and hands XGBoost a sparse matrix, whose absent
    entries (every zero) XGBoost reads as missing. Here the same matrix is dense with NaN for those zeros,
    and each feature's one-hot block is read from a table of the fitted encoder's output for every code of
    that feature (exact, since the encoder works value by value).
    """
    if not model._ohe:
        raise UnsupportedFastPath("XGBoost with native categorical features")
    generator = model._ohe_generator
    categorical = [str(c) for c in generator.cat_cols]
    others = [str(c) for c in generator.other_cols]
    widths = [len(c) for c in generator.ohe_encs.categories_] if categorical else []
    booster = model.model.get_booster()
    iterations = model.model._get_iteration_range(None)
    regression = model.problem_type == "regression"
    tables: dict[str, np.ndarray] = {}

    def build_tables(x: Features) -> None:
        """Row r of feature j's table: its one-hot block for code r - 1 (row 0: missing)."""
        rows = 1 + max(len(x[name].categories) for name in categorical)
        frame = {}
        for name in categorical:
            categories = x[name].categories
            codes = np.full(rows, -1, dtype=np.int64)
            codes[1 : 1 + len(categories)] = np.arange(len(categories))
            frame[name] = pd.Categorical.from_codes(codes, categories=pd.Index(categories))
        encoded = generator.ohe_encs.transform(pd.DataFrame(frame))
        dense = np.asarray(encoded.toarray() if hasattr(encoded, "toarray") else encoded, dtype=np.float64)
        dense[dense == 0] = np.nan
        start = 0
        for name, width in zip(categorical, widths, strict=True):
            tables[name] = dense[: 1 + len(x[name].categories), start : start + width]
            start += width

    def run(x: Features, n: int) -> np.ndarray:
        if categorical and not tables:
            build_tables(x)
        blocks = []
        for name in categorical:
            value = x[name]
            if not isinstance(value, _Codes) or len(value.categories) + 1 != len(tables[name]):
                raise ValueError(f"feature {name!r} is not the categorical feature XGBoost was fitted on")
            blocks.append(tables[name][value.codes + 1])
        if others:
            numeric = _matrix(x, n, others, np.float64)
            numeric[numeric == 0] = np.nan
            blocks.append(numeric)
        matrix = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
        # What the scikit-learn wrapper's predict does, without its per-call checks.
        output = np.asarray(booster.inplace_predict(matrix, iteration_range=iterations, missing=np.nan))
        if regression or output.ndim == 2:
            return output
        return np.asarray(model._convert_proba_to_unified_form(output))

    return run


def _plain_model(model: Any) -> bool:
    return (
        getattr(model, "temperature_scalar", None) is None
        and getattr(model, "conformalize", None) is None
        and not getattr(model, "normalize_pred_probas", False)
        and model.problem_type in ("binary", "multiclass", "regression")
    )


def _float32(run: ModelPredict) -> ModelPredict:
    """AutoGluon's models hand back float32 predictions (AbstractModel._predict_proba_internal)."""

    def cast(x: Features, n: int) -> np.ndarray:
        return np.asarray(run(x, n)).astype(np.float32)

    return cast


def _compile_model(trainer: Any, name: str) -> ModelPredict:
    from autogluon.core.models import BaggedEnsembleModel, StackerEnsembleModel, WeightedEnsembleModel
    from autogluon.tabular.models import CatBoostModel, LGBModel, RFModel, XGBoostModel

    model = trainer.load_model(name)
    if isinstance(model, WeightedEnsembleModel):
        if not _plain_model(model):
            raise UnsupportedFastPath(f"{name} calibrates its output")
        # Weights stay numpy float64 scalars, as AutoGluon multiplies them: float32 * float64 -> float64.
        weights = [(base, np.float64(w)) for base, w in model._get_model_weights().items() if w != 0]
        members = [(_compile_model(trainer, base), w) for base, w in weights]

        def ensemble(x: Features, n: int) -> np.ndarray:
            total: np.ndarray = np.sum([run(x, n) * w for run, w in members], axis=0)
            return total

        return _float32(ensemble)
    if isinstance(model, StackerEnsembleModel):
        raise UnsupportedFastPath(f"{name} stacks on other models' predictions")
    if isinstance(model, BaggedEnsembleModel):
        return _frame_model(model)
    if _plain_model(model):
        if type(model) is LGBModel:
            return _float32(_lightgbm(model))
        if isinstance(model, RFModel) and not getattr(model, "_daal", False):
            return _float32(_forest(model))
        if type(model) is CatBoostModel:
            return _float32(_catboost(model))
        if type(model) is XGBoostModel:
            return _float32(_xgboost(model))
    return _frame_model(model)


def _class_order(label_cleaner: Any, problem_type: str, classes: Sequence[Any]) -> np.ndarray:
    """For each of our classes, its column in AutoGluon's internal probabilities (-1: never seen by it)."""
    internal = label_cleaner.cat_mappings_dependent_var
    labels = [internal[i] for i in range(len(internal))]
    by_value = {label: i for i, label in enumerate(labels)}
    by_text = {str(label): i for i, label in enumerate(labels)}
    return np.array([by_value.get(c, by_text.get(str(c), -1)) for c in classes], dtype=np.int64)


def compile_autogluon(predictor: Any, model_name: str, problem_type: str, classes: Sequence[Any] | None) -> FastPredict:
    """The fast path of `predictor`'s model `model_name`, returning what AutoGluonModel.prediction returns."""
    learner = predictor._learner
    pipeline = _compile_generator(learner.feature_generator)
    run = _compile_model(predictor._trainer, model_name)
    inputs = [str(f) for f in learner.feature_generator.features_in]
    if problem_type == "regression":

        def values(columns: Columns, n: int) -> np.ndarray:
            return np.asarray(run(pipeline({f: columns[f] for f in inputs}, n), n), dtype=np.float64)

        return values
    if classes is None:
        raise UnsupportedFastPath("a classifier without classes")
    order = _class_order(learner.label_cleaner, problem_type, classes)
    seen = order >= 0
    take = np.maximum(order, 0)

    def proba(columns: Columns, n: int) -> np.ndarray:
        raw = np.asarray(run(pipeline({f: columns[f] for f in inputs}, n), n))
        # AutoGluon's label cleaner: binary P(class 1) becomes [1 - p, p] in p's own precision;
        # multiclass probabilities come back as float32.
        if problem_type == "binary" and raw.ndim == 1:
            internal = np.column_stack([1 - raw, raw]).astype(np.float64)
        else:
            internal = raw.astype(np.float32).astype(np.float64)
        out = internal[:, take]
        out[:, ~seen] = 0.0
        return out

    return proba
