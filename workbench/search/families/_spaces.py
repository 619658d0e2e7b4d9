"""Each family's search space and default parameters, sized for a few CPU cores and small tables.

Parameter names carry the family as a prefix ("lightgbm.num_leaves") so that one Optuna study can hold
every family. Round and epoch limits are not searched: boosting runs up to `max_rounds` (learning rate)
rounds and the MLP up to `MAX_EPOCHS` epochs (and about `MAX_STEPS` optimizer steps), both stopped early
on the valid rows.
"""

from __future__ import annotations

import math
from typing import Any

import optuna

__all__ = [
    "DEFAULTS",
    "EARLY_STOPPING_ROUNDS",
    "FIRST_TRIALS",
    "MAX_EPOCHS",
    "MAX_ROUNDS",
    "MAX_STEPS",
    "MIN_EPOCHS",
    "PATIENCE_EPOCHS",
    "SUGGESTERS",
    "max_rounds",
]

# Boosting stops early (EARLY_STOPPING_ROUNDS without a better valid score) or at the trial's deadline, and
# at the latest after `max_rounds(learning_rate)`: about ROUNDS_TIMES_LEARNING_RATE / learning_rate rounds,
# from MIN_ROUND_CAP to MAX_ROUNDS. A fixed cap of 500 left slow learning rates underfit on larger tables:
# on flights' 14,400 train rows it stopped XGBoost at learning rate 0.019 at 12.68 valid mae, where it stops
# by itself after 1,642 rounds at 12.36 (2.4 s), and CatBoost at 0.035 at 12.48 instead of 12.29 (1,307
# rounds); the defaults (0.1) stop by themselves after 410-426. No cap at all let a small table's valid log
# loss creep down for thousands of rounds (wine: CatBoost at 0.035 ran 2,230 rounds, 10 s a fold).
MAX_ROUNDS = 5000
MIN_ROUND_CAP = 500
ROUNDS_TIMES_LEARNING_RATE = 50.0


def max_rounds(learning_rate: float) -> int:
    """The most rounds a boosting fit at `learning_rate` trains (see ROUNDS_TIMES_LEARNING_RATE)."""
    rounds = math.ceil(ROUNDS_TIMES_LEARNING_RATE / max(float(learning_rate), 1e-6))
    return int(min(MAX_ROUNDS, max(MIN_ROUND_CAP, rounds)))


EARLY_STOPPING_ROUNDS = 30
MAX_EPOCHS = 100
PATIENCE_EPOCHS = 10
# The MLP takes at most this many optimizer steps (fewer epochs on larger tables), but at least MIN_EPOCHS epochs.
MAX_STEPS = 2000
MIN_EPOCHS = 5


def suggest_lightgbm(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "lightgbm.learning_rate": trial.suggest_float("lightgbm.learning_rate", 0.01, 0.3, log=True),
        "lightgbm.num_leaves": trial.suggest_int("lightgbm.num_leaves", 4, 64, log=True),
        "lightgbm.min_child_samples": trial.suggest_int("lightgbm.min_child_samples", 2, 50, log=True),
        "lightgbm.feature_fraction": trial.suggest_float("lightgbm.feature_fraction", 0.5, 1.0),
        "lightgbm.bagging_fraction": trial.suggest_float("lightgbm.bagging_fraction", 0.5, 1.0),
        "lightgbm.lambda_l2": trial.suggest_float("lightgbm.lambda_l2", 1e-3, 10.0, log=True),
    }


def suggest_xgboost(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "xgboost.learning_rate": trial.suggest_float("xgboost.learning_rate", 0.01, 0.3, log=True),
        "xgboost.max_depth": trial.suggest_int("xgboost.max_depth", 2, 8),
        "xgboost.min_child_weight": trial.suggest_float("xgboost.min_child_weight", 0.5, 10.0, log=True),
        "xgboost.subsample": trial.suggest_float("xgboost.subsample", 0.5, 1.0),
        "xgboost.colsample_bytree": trial.suggest_float("xgboost.colsample_bytree", 0.5, 1.0),
        "xgboost.reg_lambda": trial.suggest_float("xgboost.reg_lambda", 1e-3, 10.0, log=True),
    }


def suggest_catboost(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "catboost.learning_rate": trial.suggest_float("catboost.learning_rate", 0.02, 0.3, log=True),
        "catboost.depth": trial.suggest_int("catboost.depth", 3, 8),
        "catboost.l2_leaf_reg": trial.suggest_float("catboost.l2_leaf_reg", 1.0, 10.0, log=True),
        "catboost.random_strength": trial.suggest_float("catboost.random_strength", 0.1, 5.0, log=True),
    }


def suggest_forest(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "forest.kind": trial.suggest_categorical("forest.kind", ["random_forest", "extra_trees"]),
        "forest.n_estimators": trial.suggest_int("forest.n_estimators", 50, 300, step=50),
        "forest.max_features": trial.suggest_float("forest.max_features", 0.2, 1.0),
        "forest.min_samples_leaf": trial.suggest_int("forest.min_samples_leaf", 1, 16, log=True),
    }


def suggest_linear(trial: optuna.Trial) -> dict[str, Any]:
    # One strength for both problem kinds: Ridge alpha = strength, LogisticRegression C = 1 / strength.
    return {"linear.strength": trial.suggest_float("linear.strength", 1e-4, 1e2, log=True)}


def suggest_mlp(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "mlp.hidden": trial.suggest_int("mlp.hidden", 16, 256, log=True),
        "mlp.layers": trial.suggest_int("mlp.layers", 1, 3),
        "mlp.dropout": trial.suggest_float("mlp.dropout", 0.0, 0.3),
        "mlp.learning_rate": trial.suggest_float("mlp.learning_rate", 3e-4, 1e-2, log=True),
        "mlp.weight_decay": trial.suggest_float("mlp.weight_decay", 1e-6, 1e-2, log=True),
        "mlp.batch_size": trial.suggest_categorical("mlp.batch_size", [32, 64, 128, 256]),
    }


SUGGESTERS = {
    "lightgbm": suggest_lightgbm,
    "xgboost": suggest_xgboost,
    "catboost": suggest_catboost,
    "forest": suggest_forest,
    "linear": suggest_linear,
    "mlp": suggest_mlp,
}

# A study's first trials, one per family in this order, cheapest first: each family's DEFAULTS, before any
# drawn at random (`OptunaEngine.ask`). A short search on a large table runs a handful of Optuna trials,
# and random draws there were often far from a family's best: on flights, XGBoost's and CatBoost's defaults
# scored 12.36 and 12.30 valid mae in 1-3 s, where three random XGBoost draws scored 12.67-12.98.
FIRST_TRIALS = ("linear", "xgboost", "lightgbm", "catboost", "forest", "mlp")
# What a fit uses for parameters it is not given: reasonable settings, also each family's first trial.
DEFAULTS: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "lightgbm.learning_rate": 0.1,
        "lightgbm.num_leaves": 15,
        "lightgbm.min_child_samples": 10,
        "lightgbm.feature_fraction": 0.9,
        "lightgbm.bagging_fraction": 0.9,
        "lightgbm.lambda_l2": 0.01,
    },
    "xgboost": {
        "xgboost.learning_rate": 0.1,
        "xgboost.max_depth": 4,
        "xgboost.min_child_weight": 1.0,
        "xgboost.subsample": 0.9,
        "xgboost.colsample_bytree": 0.9,
        "xgboost.reg_lambda": 1.0,
    },
    "catboost": {
        "catboost.learning_rate": 0.1,
        "catboost.depth": 6,
        "catboost.l2_leaf_reg": 3.0,
        "catboost.random_strength": 1.0,
    },
    "forest": {
        "forest.kind": "random_forest",
        "forest.n_estimators": 100,
        "forest.max_features": 0.5,
        "forest.min_samples_leaf": 1,
    },
    "linear": {"linear.strength": 1.0},
    "mlp": {
        "mlp.hidden": 64,
        "mlp.layers": 2,
        "mlp.dropout": 0.1,
        "mlp.learning_rate": 3e-3,
        "mlp.weight_decay": 1e-4,
        "mlp.batch_size": 64,
    },
}
