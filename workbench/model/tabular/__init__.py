"""The fitted models of the Optuna engine's families and the preprocessing they predict with.

Importing these imports no model library (LightGBM, XGBoost, CatBoost and torch are imported when a model
first fits or predicts) and nothing of `workbench.search`: a server unpickles them with the model layer
alone. Their fit code's helpers (search spaces, reporting, device settings) stay in
`workbench.search.families` and are imported inside `fit`, which only workers call.
"""

from workbench.model.tabular._base import SklearnModel, TabularModel, expand_proba, label_codes, thread_count
from workbench.model.tabular._catboost import CatBoostModel
from workbench.model.tabular._forest import ForestModel
from workbench.model.tabular._lightgbm import LightGBMModel
from workbench.model.tabular._linear import LinearModel
from workbench.model.tabular._mlp import MLPModel
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
    "expand_proba",
    "is_datetime_like",
    "label_codes",
    "thread_count",
]
