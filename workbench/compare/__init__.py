"""Compare: cross-engine ensembles, leaderboards, Pareto fronts and comparison views."""

from workbench.compare._data import ComparisonData, ModelPredictions, load_comparison, read_predictions
from workbench.compare._ensembles import BuiltEnsemble, EnsembleConstraints, build_ensemble, save_ensemble
from workbench.compare._models import load_candidate_model, load_ensemble_model
from workbench.compare._selection import GreedyResult, StackingResult, fit_stacking, greedy_selection
from workbench.compare._workflow import saved_ensembles, write_comparison_report
from workbench.model import EnsembleModel

__all__ = [
    "BuiltEnsemble",
    "ComparisonData",
    "EnsembleConstraints",
    "EnsembleModel",
    "GreedyResult",
    "ModelPredictions",
    "StackingResult",
    "build_ensemble",
    "fit_stacking",
    "greedy_selection",
    "load_candidate_model",
    "load_comparison",
    "load_ensemble_model",
    "read_predictions",
    "save_ensemble",
    "saved_ensembles",
    "write_comparison_report",
]
