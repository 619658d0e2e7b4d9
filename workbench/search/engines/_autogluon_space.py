"""The AutoGluon engine's search space, as plain data (in the spirit of AutoGluon's `presets_configs`).

A trial is one `TabularPredictor.fit` with a preset, a hyperparameter set (which models, which variants),
a time budget and a seed. The worker (`run_autogluon_trial`) always fits without bagging or stacking and
uses the experiment's valid rows as AutoGluon's tuning data, so every candidate is scored on the same rows.

Presets: only "medium_quality". "good_quality" / "high_quality" / "best_quality" are left out: they bag
and stack (8 folds of every model, far too slow on 2 cores unless the time limit is hours) and refit on
train+valid (`refit_full`), which would leak the valid rows into the models and make their valid scores
incomparable with the other engine's. The "light" entry below keeps good_quality's model list without the
bagging.

The "FASTAI" and "KNN" models of AutoGluon's own "default" set are left out: fastai is not installed (it
pulls torchvision, which fails beside torch 2.13) and KNN is rarely competitive.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["AUTOGLUON_SPACE", "DEFAULT_PRESETS", "autogluon_configs"]

DEFAULT_PRESETS = "medium_quality"

_GBM_XT: dict[str, Any] = {"extra_trees": True, "ag_args": {"name_suffix": "XT"}}
_GBM_LARGE: dict[str, Any] = {
    "learning_rate": 0.03,
    "num_leaves": 128,
    "feature_fraction": 0.9,
    "min_data_in_leaf": 3,
    "ag_args": {"name_suffix": "Large", "priority": 0},
}


def _forest_variants(max_depth: int | None = None) -> list[dict[str, Any]]:
    """AutoGluon's default RF/XT variants: gini and entropy for classifiers, squared error for regressors."""
    depth: dict[str, Any] = {} if max_depth is None else {"max_depth": max_depth}
    return [
        {"criterion": "gini", **depth, "ag_args": {"name_suffix": "Gini", "problem_types": ["binary", "multiclass"]}},
        {
            "criterion": "entropy",
            **depth,
            "ag_args": {"name_suffix": "Entr", "problem_types": ["binary", "multiclass"]},
        },
        {"criterion": "squared_error", **depth, "ag_args": {"name_suffix": "MSE", "problem_types": ["regression"]}},
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
            "RF": _forest_variants(),
            "XT": _forest_variants(),
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
            "RF": _forest_variants(),
            "XT": _forest_variants(),
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
        "hyperparameters": {"RF": _forest_variants(), "XT": _forest_variants(), "LR": {}},
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
            "RF": _forest_variants(max_depth=15),
            "XT": _forest_variants(max_depth=15),
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
