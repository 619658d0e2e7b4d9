"""The fitted models of the Optuna engine's families and the preprocessing they predict with.

Importing these imports no model library (LightGBM, XGBoost, CatBoost and torch are imported when a model
first predicts) and nothing of the search layer: a server unpickles them with the model layer alone.
Registry bundles hold LightGBM, XGBoost and CatBoost models as their libraries' own model files plus JSON
instead (`workbench.model._native`), rebuilt through these constructors without unpickling.
The models hold only what prediction needs and are built from fitted parts by their constructors. The
training (search spaces, reporting, early stopping, pruning, device and thread settings) lives in the
search layer's `families` package, which calls the public helpers here (`label_codes`,
`booster_prediction`, `catboost_frame`, `mlp_network`, `mlp_prediction`) so that fit-time and
predict-time outputs agree.
"""

from workbench.model.tabular._base import (
    SklearnModel,
    TabularModel,
    booster_prediction,
    expand_proba,
    label_codes,
)
from workbench.model.tabular._catboost import CatBoostModel, catboost_frame
from workbench.model.tabular._forest import ForestModel
from workbench.model.tabular._lightgbm import LightGBMModel
from workbench.model.tabular._linear import LinearModel
from workbench.model.tabular._mlp import MLPModel, mlp_network, mlp_prediction
from workbench.model.tabular._prep import DensePrep, OrdinalPrep, TablePrep, is_datetime_like
from workbench.model.tabular._xgboost import XGBoostModel

__all__ = [
    "CatBoostModel",
    "DensePrep",
    "ForestModel",
    "LightGBMModel",
    "LinearModel",
    "MLPModel",
    "OrdinalPrep",
    "SklearnModel",
    "TablePrep",
    "TabularModel",
    "XGBoostModel",
    "booster_prediction",
    "catboost_frame",
    "expand_proba",
    "is_datetime_like",
    "label_codes",
    "mlp_network",
    "mlp_prediction",
]
