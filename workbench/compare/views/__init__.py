"""Comparison views, each in two layers (as optuna's visualization module):

- `get_<view>_info(...)` computes a small frozen dataclass of plain Python / numpy data. It never imports
  plotly and is what the tests check.
- `plot_<view>(info)` only draws it and returns a `plotly.graph_objects.Figure`.

Every name that comes from user data (models, classes, columns, engines) is escaped with `label` before it
reaches a plotly label, since plotly renders a subset of HTML there. Figures combine panels with
`make_subplots` (the leaderboard is one figure: a table above a bar chart).
"""

from workbench.compare._leaderboard import Leaderboard, LeaderboardRow
from workbench.compare.views._calibration import (
    CalibrationCurve,
    CalibrationInfo,
    get_calibration_info,
    plot_calibration,
)
from workbench.compare.views._common import ViewInfo
from workbench.compare.views._confusion import ConfusionInfo, get_confusion_info, plot_confusion
from workbench.compare.views._curves import ModelCurves, RocPrInfo, get_roc_pr_info, plot_roc_pr
from workbench.compare.views._diff import ClassScores, DiffInfo, DisagreementRow, MetricPair, get_diff_info, plot_diff
from workbench.compare.views._history import EngineHistory, HistoryInfo, get_history_info, plot_history
from workbench.compare.views._importance import (
    PermutationImportanceInfo,
    get_permutation_importance_info,
    plot_permutation_importance,
)
from workbench.compare.views._leaderboard import get_leaderboard_info, plot_leaderboard
from workbench.compare.views._pareto import ParetoInfo, get_pareto_info, pareto_front, plot_pareto
from workbench.compare.views._regression import (
    RegressionInfo,
    RegressionSeries,
    get_regression_info,
    plot_regression,
)
from workbench.compare.views._text import label
from workbench.compare.views._weights import WeightsInfo, get_weights_info, plot_weights

__all__ = [
    "CalibrationCurve",
    "CalibrationInfo",
    "ClassScores",
    "ConfusionInfo",
    "DiffInfo",
    "DisagreementRow",
    "EngineHistory",
    "HistoryInfo",
    "Leaderboard",
    "LeaderboardRow",
    "MetricPair",
    "ModelCurves",
    "ParetoInfo",
    "PermutationImportanceInfo",
    "RegressionInfo",
    "RegressionSeries",
    "RocPrInfo",
    "ViewInfo",
    "WeightsInfo",
    "get_calibration_info",
    "get_confusion_info",
    "get_diff_info",
    "get_history_info",
    "get_leaderboard_info",
    "get_pareto_info",
    "get_permutation_importance_info",
    "get_regression_info",
    "get_roc_pr_info",
    "get_weights_info",
    "label",
    "pareto_front",
    "plot_calibration",
    "plot_confusion",
    "plot_diff",
    "plot_history",
    "plot_leaderboard",
    "plot_pareto",
    "plot_permutation_importance",
    "plot_regression",
    "plot_roc_pr",
    "plot_weights",
]
