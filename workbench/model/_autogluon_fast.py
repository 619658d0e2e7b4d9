"""A pandas-free fast path for a model inside an AutoGluon predictor.

AutoGluon's single-row predict spends milliseconds in pandas: the learner checks the frame, the feature
generator pipeline transforms it, and each model preprocesses it again. Here the feature pipeline is
compiled into numpy steps (`_ag_features`) and the model runs on the compiled features (`_ag_models`).

Anything not understood raises UnsupportedFastPath; `verified_fast_path` then also compares this path with
AutoGluon's own predictions on probe rows before a server uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.model._ag_features import compile_generator
from workbench.model._ag_models import compile_model
from workbench.model._columns import Columns, FastPredict, UnsupportedFastPath

__all__ = ["compile_autogluon"]


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
    pipeline = compile_generator(learner.feature_generator)
    run = compile_model(predictor._trainer, model_name)
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
