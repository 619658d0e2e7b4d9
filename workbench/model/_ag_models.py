"""AutoGluon's models run on compiled features, natively where that gives AutoGluon's numbers exactly.

LightGBM through its single-row C API, XGBoost through `inplace_predict`, CatBoost on plain rows,
random forests and extra trees by a vectorised tree walk, the tabular network without frames or its
DataLoader, weighted ensembles by AutoGluon's weights. Every output is rounded to float32, as AutoGluon's
models hand theirs back. Other models get the compiled features as a small frame and run their own
`predict_proba`, which still skips the learner and the feature pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._ag_features import Codes, Features, feature_matrix
from workbench.model._columns import UnsupportedFastPath
from workbench.model._forest import FOREST_ROWS, ForestArrays
from workbench.model._lightgbm_fast import LightGBMRows

__all__ = ["ModelPredict", "compile_model"]

ModelPredict = Callable[[Features, int], np.ndarray]  # AutoGluon's internal form (binary: P(class 1))


def _pandas(value: Any) -> Any:
    if isinstance(value, Codes):
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
    # Per categorical feature: its codes' values for the booster (NaN where the booster never saw the
    # category), with a last NaN entry that code -1 (missing) indexes. Built on the first request.
    lookups: dict[str, np.ndarray] = {}

    def lookup(name: str, value: Codes) -> np.ndarray:
        position = {v: i for i, v in enumerate(booster_categories[len(lookups)])}
        codes = [position.get(v) for v in value.categories]
        table = np.array([np.nan if c is None else float(c) for c in codes] + [np.nan], dtype=np.float64)
        lookups[name] = table
        return table

    def run(x: Features, n: int) -> np.ndarray:
        matrix = np.empty((n, len(features)), dtype=np.float64)
        for j, name in enumerate(features):
            value = x[name]
            if isinstance(value, Codes):
                table = lookups.get(name)
                if table is None:
                    if len(lookups) >= len(booster_categories):
                        raise ValueError("LightGBM has fewer categorical features than the model")
                    table = lookup(name, value)
                matrix[:, j] = table[value.codes]
            else:
                matrix[:, j] = value
        return np.asarray(model._post_process_predictions(y_pred_proba=rows.predict(matrix)))

    return run


def _forest(model: Any) -> ModelPredict:
    """AutoGluon's RF/XT preprocessing (category codes, missing -> 0, float32) and a vectorised tree walk."""
    estimator = model.model
    features = [str(f) for f in model.features]
    encoded = set(model._label_encoder.features_in) if model._label_encoder is not None else set()
    arrays = ForestArrays.from_estimator(estimator)
    regression = model.problem_type == "regression"

    def run(x: Features, n: int) -> np.ndarray:
        for name in features:
            if isinstance(x[name], Codes) != (name in encoded):
                raise ValueError(f"feature {name!r} is not encoded as the forest was fitted")
        matrix = feature_matrix(x, n, features, np.float64)
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
                if not isinstance(value, Codes):
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
            if not isinstance(value, Codes) or len(value.categories) + 1 != len(tables[name]):
                raise ValueError(f"feature {name!r} is not the categorical feature XGBoost was fitted on")
            blocks.append(tables[name][value.codes + 1])
        if others:
            numeric = feature_matrix(x, n, others, np.float64)
            numeric[numeric == 0] = np.nan
            blocks.append(numeric)
        matrix = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
        # What the scikit-learn wrapper's predict does, without its per-call checks.
        output = np.asarray(booster.inplace_predict(matrix, iteration_range=iterations, missing=np.nan))
        if regression or output.ndim == 2:
            return output
        return np.asarray(model._convert_proba_to_unified_form(output))

    return run


_NUMERIC_BLOCKS = ("continuous", "skewed")  # imputer + scaler / quantile transformer: numpy in, numpy out
_CODED_BLOCKS = ("onehot", "ordinal")  # encoders that work value by value: read from a table per code


def _impute(X: np.ndarray, statistics: np.ndarray) -> np.ndarray:
    filled: np.ndarray = np.where(np.isnan(X), statistics, X)
    return filled


def _quantiles(X: np.ndarray, transformer: Any, clip: tuple[float, float]) -> np.ndarray:
    """QuantileTransformer's forward transform (scikit-learn's `_transform_col`), with the normal
    distribution's inverse CDF as scipy computes it (`ndtri`) but without `norm.ppf`'s per-call
    argument handling, which costs about 150 µs a column."""
    from scipy.special import ndtri
    from sklearn.preprocessing._data import BOUNDS_THRESHOLD

    normal = transformer.output_distribution == "normal"
    references = transformer.references_
    out = X.copy()
    for j in range(out.shape[1]):
        column = out[:, j]
        quantiles = transformer.quantiles_[:, j]
        with np.errstate(invalid="ignore"):
            if normal:
                lower = column - BOUNDS_THRESHOLD < quantiles[0]
                upper = column + BOUNDS_THRESHOLD > quantiles[-1]
            else:
                lower = column == quantiles[0]
                upper = column == quantiles[-1]
        finite = ~np.isnan(column)
        values = column[finite]
        column[finite] = 0.5 * (
            np.interp(values, quantiles, references) - np.interp(-values, -quantiles[::-1], -references[::-1])
        )
        column[upper] = 1
        column[lower] = 0
        if normal:
            with np.errstate(invalid="ignore", divide="ignore"):
                column = ndtri(column)
            column = np.clip(column, *clip)
        out[:, j] = column
    return out


def _transform(X: np.ndarray, transformer: Any) -> np.ndarray:
    return np.asarray(transformer.transform(X))


def _numeric_pipeline(pipeline: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A fitted imputer/scaler/quantile pipeline on a float64 block, without scikit-learn's per-call input
    checks (about 0.2 ms a step): the same arithmetic, step by step. Unknown steps run as they are."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    steps: list[Callable[[np.ndarray], np.ndarray]] = []
    for _, step in pipeline.steps:
        if (
            type(step) is SimpleImputer
            and not step.add_indicator
            and isinstance(step.missing_values, float)
            and np.isnan(step.missing_values)
            and not np.isnan(step.statistics_).any()
        ):
            steps.append(partial(_impute, statistics=np.asarray(step.statistics_, dtype=np.float64)))
        elif type(step) is StandardScaler:
            mean = step.mean_ if step.with_mean else None
            scale = step.scale_ if step.with_std else None

            def scaled(X: np.ndarray, mean: Any = mean, scale: Any = scale) -> np.ndarray:
                X = X.copy()
                if mean is not None:
                    X -= mean
                if scale is not None:
                    X /= scale
                return X

            steps.append(scaled)
        elif type(step) is QuantileTransformer and step.output_distribution in ("normal", "uniform"):
            from scipy.stats import norm
            from sklearn.preprocessing._data import BOUNDS_THRESHOLD

            # The bounds scikit-learn clips the normal output to, computed as it computes them.
            clip = (
                float(norm.ppf(BOUNDS_THRESHOLD - np.spacing(1))),
                float(norm.ppf(1 - (BOUNDS_THRESHOLD - np.spacing(1)))),
            )
            steps.append(partial(_quantiles, transformer=step, clip=clip))
        else:
            steps.append(partial(_transform, transformer=step))

    def run(X: np.ndarray) -> np.ndarray:
        for step in steps:
            X = step(X)
        return X

    return run


def _torch_network(model: Any) -> ModelPredict:
    """AutoGluon's tabular network without its frames and DataLoader.

    The fitted ColumnTransformer's numeric pipelines run on a numpy block (what they do inside it); each
    categorical feature's encoded columns come from a table made once by the real processor over every
    code. The processed array then becomes the network's batches as AutoGluon's TabularTorchDataset
    slices them, and the network predicts in eval mode as AutoGluon's predict does.
    """
    import torch
    from autogluon.tabular.models.tabular_nn.torch.tabular_torch_dataset import TabularTorchDataset

    processor = model.processor
    if processor.remainder not in ("drop", None) and processor.output_indices_.get("remainder", slice(0, 0)).stop:
        raise UnsupportedFastPath("the network's processor passes columns through")
    if model.features_to_drop:
        raise UnsupportedFastPath("the network drops features at predict time")
    blocks = []
    for name, pipeline, columns in processor.transformers_:
        if name == "remainder" or not columns:
            continue
        if name not in _NUMERIC_BLOCKS + _CODED_BLOCKS:
            raise UnsupportedFastPath(f"network processor block {name!r}")
        numeric = _numeric_pipeline(pipeline) if name in _NUMERIC_BLOCKS else None
        blocks.append((name, numeric, [str(c) for c in columns], processor.output_indices_[name]))
    width = max(block[3].stop for block in blocks)
    features = [str(f) for f in model.features]
    arraycols = model.feature_arraycol_map
    tables: dict[str, np.ndarray] = {}

    def build_tables(x: Features) -> None:
        """Row r of a categorical feature's table: its processed columns for code r - 1 (row 0: missing)."""
        coded = [c for name, _, cols, _ in blocks if name in _CODED_BLOCKS for c in cols]
        rows = 1 + max(len(x[c].categories) for c in coded)
        frame: dict[str, Any] = {}
        for name in features:
            value = x[name]
            if isinstance(value, Codes):
                codes = np.full(rows, -1, dtype=np.int64)
                if name in coded:
                    codes[1 : 1 + len(value.categories)] = np.arange(len(value.categories))
                frame[name] = pd.Categorical.from_codes(codes, categories=pd.Index(value.categories))
            else:
                frame[name] = np.zeros(rows, dtype=np.asarray(value).dtype)
        processed = np.asarray(processor.transform(model.preprocess(pd.DataFrame(frame))))
        for name in coded:
            tables[name] = processed[: 1 + len(x[name].categories), arraycols[name]]

    coded_blocks = any(name in _CODED_BLOCKS for name, _, _, _ in blocks)

    def process(x: Features, n: int) -> np.ndarray:
        if coded_blocks and not tables:
            build_tables(x)
        processed = np.empty((n, width), dtype=np.float64)
        for _, numeric, columns, where in blocks:
            if numeric is not None:
                processed[:, where] = numeric(feature_matrix(x, n, columns, np.float64))
                continue
            for column in columns:
                value = x[column]
                if not isinstance(value, Codes) or len(value.categories) + 1 != len(tables[column]):
                    raise ValueError(f"feature {column!r} is not the categorical feature the network was fitted on")
                processed[:, arraycols[column]] = tables[column][value.codes + 1]
        return processed

    def run(x: Features, n: int) -> np.ndarray:
        dataset = TabularTorchDataset(process(x, n), arraycols, model.feature_type_map, model.problem_type)
        dataset.batch_size, dataset.shuffle, dataset.drop_last = model.max_batch_size, False, False
        outputs = []
        for batch in dataset:  # what the DataLoader yields, numpy arrays turned into tensors
            tensors = tuple(
                [torch.as_tensor(part) for part in item] if isinstance(item, list) else torch.as_tensor(item)
                for item in batch
            )
            outputs.append(model.model.predict(tensors))
        return np.concatenate(outputs, 0)

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


def compile_model(trainer: Any, name: str) -> ModelPredict:
    return _compile_loaded(trainer, trainer.load_model(name), name)


def _compile_loaded(trainer: Any, model: Any, name: str) -> ModelPredict:
    from autogluon.core.models import BaggedEnsembleModel, StackerEnsembleModel, WeightedEnsembleModel
    from autogluon.tabular.models import CatBoostModel, LGBModel, RFModel, TabularNeuralNetTorchModel, XGBoostModel

    if isinstance(model, WeightedEnsembleModel):
        if not _plain_model(model):
            raise UnsupportedFastPath(f"{name} calibrates its output")
        # Weights stay numpy float64 scalars, as AutoGluon multiplies them: float32 * float64 -> float64.
        weights = [(base, np.float64(w)) for base, w in model._get_model_weights().items() if w != 0]
        members = [(compile_model(trainer, base), w) for base, w in weights]

        def ensemble(x: Features, n: int) -> np.ndarray:
            total: np.ndarray = np.sum([run(x, n) * w for run, w in members], axis=0)
            return total

        return _float32(ensemble)
    if isinstance(model, StackerEnsembleModel) and model.base_model_names:
        raise UnsupportedFastPath(f"{name} stacks on other models' predictions")
    if isinstance(model, BaggedEnsembleModel):
        # A first-layer bag (AutoGluon makes it a stacker with no inputs): its children's mean, summed
        # in their order and divided once, as AutoGluon does.
        children = [_compile_loaded(trainer, model.load_child(child), f"{name}/{child}") for child in model.models]

        def bag(x: Features, n: int) -> np.ndarray:
            total = np.asarray(children[0](x, n))
            for child in children[1:]:
                total = total + child(x, n)
            return total / len(children)

        return bag
    if _plain_model(model):
        if type(model) is LGBModel:
            return _float32(_lightgbm(model))
        if isinstance(model, RFModel) and not getattr(model, "_daal", False):
            return _float32(_forest(model))
        if type(model) is CatBoostModel:
            return _float32(_catboost(model))
        if type(model) is XGBoostModel:
            return _float32(_xgboost(model))
        if type(model) is TabularNeuralNetTorchModel and model.problem_type != "quantile":
            return _float32(_torch_network(model))
    return _frame_model(model)
