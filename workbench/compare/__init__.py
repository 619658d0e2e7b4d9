"""Compare: the leaderboard, cross-engine ensembles, Pareto fronts and comparison views."""

from workbench.compare._data import ComparisonData, ModelPredictions, load_comparison, read_predictions
from workbench.compare._ensembles import (
    BuiltEnsemble,
    EnsembleConstraints,
    EnsemblePreview,
    Weights,
    build_ensemble,
    build_weighted_ensemble,
    delete_ensemble,
    preview_ensemble,
    save_ensemble,
)
from workbench.compare._honest import HonestGreedy, SelectionReport, honest_greedy, honest_stacking
from workbench.compare._leaderboard import Leaderboard, LeaderboardRow, leaderboard, ranking_key
from workbench.compare._models import load_candidate_model, load_ensemble_model, load_model
from workbench.compare._search_step import ensemble_step
from workbench.compare._selection import (
    GreedyResult,
    StackingResult,
    fit_stacking,
    greedy_selection,
    selection_proxy,
)
from workbench.compare._workflow import saved_ensembles, write_comparison_report
from workbench.model import EnsembleModel

__all__ = [
    "BuiltEnsemble",
    "ComparisonData",
    "EnsembleConstraints",
    "EnsembleModel",
    "EnsemblePreview",
    "GreedyResult",
    "HonestGreedy",
    "Leaderboard",
    "LeaderboardRow",
    "ModelPredictions",
    "SelectionReport",
    "StackingResult",
    "Weights",
    "build_ensemble",
    "build_weighted_ensemble",
    "delete_ensemble",
    "ensemble_step",
    "fit_stacking",
    "greedy_selection",
    "honest_greedy",
    "honest_stacking",
    "leaderboard",
    "load_candidate_model",
    "load_comparison",
    "load_ensemble_model",
    "load_model",
    "preview_ensemble",
    "ranking_key",
    "read_predictions",
    "save_ensemble",
    "saved_ensembles",
    "selection_proxy",
    "write_comparison_report",
]
