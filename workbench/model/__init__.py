"""The fitted model unit: predict / predict_proba, input schema, scoring and measured latency.

It sits low in the house, beside data and store, so the model server imports neither search nor compare.
"""

from workbench.model._autogluon import AutoGluonModel, autogluon_cache_dir
from workbench.model._base import FittedModel, dumps_model, loads_model
from workbench.model._calibration import (
    THRESHOLD_METRICS,
    Calibration,
    apply_floor,
    apply_temperature,
    apply_threshold,
    choose_calibration,
    choose_threshold,
    fit_temperature,
    probability_floor,
)
from workbench.model._columns import (
    Columns,
    FastPredict,
    UnsupportedFastPath,
    UnverifiedFastPath,
    check_fast_path,
    columns_to_frame,
    probe_columns,
    verified_fast_path,
)
from workbench.model._ensemble import EnsembleModel, stack_features
from workbench.model._latency import Latency, measure_latency, measuring_s
from workbench.model._loaded import LoadedModel, ModelSource
from workbench.model._schema import ColumnSpec, InputSchema
from workbench.model._scoring import labels_from_proba, score_predictions

__all__ = [
    "THRESHOLD_METRICS",
    "AutoGluonModel",
    "Calibration",
    "ColumnSpec",
    "Columns",
    "EnsembleModel",
    "FastPredict",
    "FittedModel",
    "InputSchema",
    "Latency",
    "LoadedModel",
    "ModelSource",
    "UnsupportedFastPath",
    "UnverifiedFastPath",
    "apply_floor",
    "apply_temperature",
    "apply_threshold",
    "autogluon_cache_dir",
    "check_fast_path",
    "choose_calibration",
    "choose_threshold",
    "columns_to_frame",
    "dumps_model",
    "fit_temperature",
    "labels_from_proba",
    "loads_model",
    "measure_latency",
    "measuring_s",
    "probability_floor",
    "probe_columns",
    "score_predictions",
    "stack_features",
    "verified_fast_path",
]
