"""The AutoGluon engine's search space, as plain data (in the spirit of AutoGluon's `presets_configs`).

A trial is one `TabularPredictor.fit` with a preset, a hyperparameter set (which models, which variants),
a time budget and a seed. The worker (`run_autogluon_trial`) always fits without bagging or stacking and
uses the experiment's valid rows as AutoGluon's tuning data, so every candidate is scored on the same rows.

Presets: only "medium_quality". "good_quality" / "high_quality" / "best_quality" are left out: they bag
and stack (8 folds of every model, far too slow on 2 cores unless the time limit is hours) and refit on
train+valid (`refit_full`), which would leak the valid rows into the models and make their valid scores
incomparable with the other engine's. The "light" entry below keeps good_quality's model list without the
bagging.

Forests (RF, XT) have their trees capped at FOREST_MAX_LEAF_NODES leaves and are fitted after the boosted
models, with at most half of the time left (FOREST_PRIORITY, FOREST_TIME_SHARE). The "FASTAI" and "KNN" models of
AutoGluon's own "default" set are left out: fastai is not installed (it
pulls torchvision, which fails beside torch 2.13) and KNN is rarely competitive.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "AUTOGLUON_SPACE",
    "DEFAULT_PRESETS",
    "FOREST_MAX_LEAF_NODES",
    "FOREST_PRIORITY",
    "FOREST_TIME_SHARE",
    "autogluon_configs",
]

DEFAULT_PRESETS = "medium_quality"

_GBM_XT: dict[str, Any] = {"extra_trees": True, "ag_args": {"name_suffix": "XT"}}
_GBM_LARGE: dict[str, Any] = {
    "learning_rate": 0.03,
    "num_leaves": 128,
    "feature_fraction": 0.9,
    "min_data_in_leaf": 3,
    "ag_args": {"name_suffix": "Large", "priority": 0},
}


# Caps each tree of AutoGluon's forests (its own default is 15,000 leaves), as the forest family does: on
# tens of thousands of rows an uncapped forest is hundreds of MB, takes most of a short budget to fit, then
# seconds to zip, load and predict one row.
FOREST_MAX_LEAF_NODES = 1024
# AutoGluon fits its models in priority order (LightGBM 90, RF 80, CatBoost 70, XT 60, XGBoost 40, torch MLP
# 25, LightGBMLarge 0). A forest's fit runs well past the time AutoGluon gives it on a busy machine (it
# times its first trees, then fits as many as it thinks fit), so forests come after the boosted models and
# the MLP, and get at most half of the time left when they start.
FOREST_PRIORITY = {"RF": 20, "XT": 15}
FOREST_TIME_SHARE = 0.5


def _forest_variants(kind: str, max_depth: int | None = None) -> list[dict[str, Any]]:
    """AutoGluon's default RF/XT variants: gini and entropy for classifiers, squared error for regressors;
    each tree capped at FOREST_MAX_LEAF_NODES leaves, fitted after the boosted models (FOREST_PRIORITY)."""
    common: dict[str, Any] = {
        "max_leaf_nodes": FOREST_MAX_LEAF_NODES,
        "ag_args_fit": {"max_time_limit_ratio": FOREST_TIME_SHARE},
    }
    if max_depth is not None:
        common["max_depth"] = max_depth
    classes = ["binary", "multiclass"]
    variants = (("gini", "Gini", classes), ("entropy", "Entr", classes), ("squared_error", "MSE", ["regression"]))
    return [
        {
            "criterion": criterion,
            **copy.deepcopy(common),
            "ag_args": {"name_suffix": suffix, "problem_types": kinds, "priority": FOREST_PRIORITY[kind]},
        }
        for criterion, suffix, kinds in variants
    ]


# Each entry: a name, the preset, the hyperparameters handed to `fit` and the time budget used when the
# search gives none. Ordered by how much a first trial should tell: AutoGluon's defaults come first.
AUTOGLUON_SPACE: tuple[dict[str, Any], ...] = (
    {
        "space": "default",  # AutoGluon's medium_quality model list (minus FASTAI and KNN)
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {
            "NN_TORCH": {},
            "GBM": [_GBM_XT, {}, _GBM_LARGE],
            "CAT": {},
            "XGB": {},
            "RF": _forest_variants("RF"),
            "XT": _forest_variants("XT"),
        },
        "time_limit_s": 300.0,
    },
    {
        "space": "boosting_only",
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {"GBM": {}, "XGB": {}, "CAT": {}},
        "time_limit_s": 180.0,
    },
    {
        "space": "gbm_variants",
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {"GBM": [{}, _GBM_XT, _GBM_LARGE]},
        "time_limit_s": 120.0,
    },
    {
        "space": "default_trees",
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {
            "GBM": [_GBM_XT, {}, _GBM_LARGE],
            "CAT": {},
            "XGB": {},
            "RF": _forest_variants("RF"),
            "XT": _forest_variants("XT"),
        },
        "time_limit_s": 240.0,
    },
    {
        "space": "with_nn",
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {"GBM": {}, "CAT": {}, "NN_TORCH": {}},
        "time_limit_s": 240.0,
    },
    {
        "space": "forests_linear",
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {"RF": _forest_variants("RF"), "XT": _forest_variants("XT"), "LR": {}},
        "time_limit_s": 90.0,
    },
    {
        "space": "light",  # good_quality's "light" model list, without its bagging
        "presets": DEFAULT_PRESETS,
        "hyperparameters": {
            "NN_TORCH": {},
            "GBM": [_GBM_XT, {}, _GBM_LARGE],
            "CAT": {},
            "XGB": {},
            "RF": _forest_variants("RF", max_depth=15),
            "XT": _forest_variants("XT", max_depth=15),
        },
        "time_limit_s": 300.0,
    },
)


def autogluon_configs(n: int, seed: int, time_limit_s: float | None) -> list[dict[str, Any]]:
    """The first `n` trial configurations, deterministic and distinct.

    Cycles through `AUTOGLUON_SPACE`; configuration `i` gets seed `seed + i`, so configurations repeat an
    entry only with another seed. Prefix-stable: `autogluon_configs(n, ...)[:m] == autogluon_configs(m, ...)`.
    `time_limit_s` (the search's per-trial budget) replaces each entry's own budget when given.
    Every configuration is JSON-serialisable: `space`, `presets`, `hyperparameters`, `time_limit_s`, `seed`.
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, not {n}")
    configs = []
    for i in range(n):
        entry = AUTOGLUON_SPACE[i % len(AUTOGLUON_SPACE)]
        configs.append(
            {
                "space": entry["space"],
                "presets": entry["presets"],
                "hyperparameters": copy.deepcopy(entry["hyperparameters"]),
                "time_limit_s": float(time_limit_s) if time_limit_s is not None else entry["time_limit_s"],
                "seed": int(seed) + i,
            }
        )
    return configs
