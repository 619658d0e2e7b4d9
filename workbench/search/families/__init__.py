"""The model families the Optuna engine searches over: LightGBM, XGBoost, CatBoost, a scikit-learn forest,
a linear model and a small torch MLP, each with its search space, preprocessing, fit and fixed-size refit.

Time: a fit given a deadline (`WorkerResources.deadline`) stops training then and keeps its best iteration
so far, so a trial cut short by the search's budget still yields a model. `refit_model` trains a fitted
model's family again on other rows with its best number of rounds or epochs, scaled.

Intermediate reports (see `_reporting`): the experiment metric on the valid rows, in that metric's own
direction, every `REPORT_EVERY` boosting rounds or every MLP epoch.
"""

from workbench.search.families._base import Family, TabularModel
from workbench.search.families._catboost import CatBoostModel
from workbench.search.families._lightgbm import LightGBMModel
from workbench.search.families._mlp import MLPModel
from workbench.search.families._preprocess import DensePrep, OrdinalPrep, TablePrep
from workbench.search.families._registry import (
    ARTIFACT,
    FAMILIES,
    device_params,
    fit_candidate,
    get_family,
    refit_model,
    refit_size,
)
from workbench.search.families._reporting import REPORT_EVERY, LocalReporter, PruneAfter, ValidReporter
from workbench.search.families._sklearn import ForestModel, LinearModel
from workbench.search.families._spaces import DEFAULTS, FIRST_TRIALS, MAX_EPOCHS, MAX_ROUNDS, max_rounds
from workbench.search.families._xgboost import XGBoostModel

__all__ = [
    "ARTIFACT",
    "DEFAULTS",
    "FAMILIES",
    "FIRST_TRIALS",
    "MAX_EPOCHS",
    "MAX_ROUNDS",
    "REPORT_EVERY",
    "CatBoostModel",
    "DensePrep",
    "Family",
    "ForestModel",
    "LightGBMModel",
    "LinearModel",
    "LocalReporter",
    "MLPModel",
    "OrdinalPrep",
    "PruneAfter",
    "TablePrep",
    "TabularModel",
    "ValidReporter",
    "XGBoostModel",
    "device_params",
    "fit_candidate",
    "get_family",
    "max_rounds",
    "refit_model",
    "refit_size",
]
