"""Comparing an experiment's models: the leaderboard, the comparison views, ensembles and the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.api._workspace import WorkspaceLike, resolve_workspace

if TYPE_CHECKING:
    from workbench.compare import (
        BuiltEnsemble,
        ComparisonData,
        EnsembleConstraints,
        EnsemblePreview,
        Leaderboard,
        Weights,
    )
    from workbench.compare import views as v
    from workbench.store import EnsembleRow, Workspace

__all__ = [
    "Comparison",
    "build_ensemble",
    "compare",
    "delete_ensemble",
    "leaderboard",
    "list_ensembles",
    "measure_ensemble",
    "plot",
    "preview_ensemble",
    "save_ensemble",
    "write_report",
]


def leaderboard(experiment_id: int, *, workspace: WorkspaceLike = None) -> Leaderboard:
    """Every candidate (both engines) and saved ensemble of the experiment, best valid score first: the one
    ranking that the CLI, the report, the widgets and REST all show."""
    from workbench.compare import leaderboard as ranked

    ws = resolve_workspace(workspace)
    return ranked(ws, ws.experiment(experiment_id))


class Comparison:
    """The comparison views of one experiment, computed from stored predictions (nothing is refitted).

    Models are named by leaderboard key ("c12", "e3") or name. Every method returns a view's data (a frozen
    dataclass with `to_dict()`); `plot(info)` draws it.
    """

    def __init__(self, workspace: Workspace, data: ComparisonData) -> None:
        self.workspace = workspace
        self.data = data

    @property
    def experiment_id(self) -> int:
        return self.data.experiment.id

    def leaderboard(self, sort_by: str = "valid") -> Leaderboard:
        from workbench.compare.views import get_leaderboard_info

        return get_leaderboard_info(self.data, sort_by)

    def history(self, order: str = "number") -> v.HistoryInfo:
        from workbench.compare.views import get_history_info

        return get_history_info(self.data, "finish" if order == "finish" else "number")

    def pareto(self, score: str = "valid") -> v.ParetoInfo:
        from workbench.compare.views import get_pareto_info

        return get_pareto_info(self.data, score)

    def roc_pr(self, models: Sequence[str] | None = None, rows: str = "test") -> v.RocPrInfo:
        from workbench.compare.views import get_roc_pr_info

        return get_roc_pr_info(self.data, models, rows=rows)

    def confusion(self, model: str | None = None, rows: str = "test") -> v.ConfusionInfo:
        from workbench.compare.views import get_confusion_info

        return get_confusion_info(self.data, model, rows=rows)

    def calibration(
        self, models: Sequence[str] | None = None, rows: str = "test", n_bins: int = 10
    ) -> v.CalibrationInfo:
        from workbench.compare.views import get_calibration_info

        return get_calibration_info(self.data, models, rows=rows, n_bins=n_bins)

    def regression(self, models: Sequence[str] | None = None, rows: str = "test") -> v.RegressionInfo:
        from workbench.compare.views import get_regression_info

        return get_regression_info(self.data, models, rows=rows)

    def diff(self, a: str, b: str, rows: str = "test") -> v.DiffInfo:
        from workbench.compare.views import get_diff_info

        return get_diff_info(self.data, a, b, rows=rows)

    def weights(self, ensemble: str) -> v.WeightsInfo:
        """The member weights of a saved ensemble (by key, "e3", or name)."""
        from workbench.compare.views import get_weights_info
        from workbench.errors import InvalidInputError

        for row in _ensembles(self.workspace, self.experiment_id):
            if ensemble in (row.key, row.name):
                return get_weights_info([m["name"] for m in row.members], [m["weight"] for m in row.members], row.name)
        raise InvalidInputError(f"{ensemble!r} is not a saved ensemble of experiment {self.experiment_id}.")

    def importance(
        self, model: str | None = None, n_repeats: int = 5, max_rows: int = 2000
    ) -> v.PermutationImportanceInfo:
        """Permutation importance of a model (default: the best) on the valid rows; loads the model and rows."""
        from workbench.compare import load_model
        from workbench.compare.views import get_permutation_importance_info
        from workbench.compare.views._common import pick_models

        chosen = pick_models(self.data, [model] if model else None, top=1)[0]
        experiment = self.data.experiment
        rows = self.workspace.rows(experiment)
        return get_permutation_importance_info(
            load_model(self.workspace, experiment.id, chosen.key),
            rows.X_valid,
            rows.y_valid,
            experiment.metric,
            experiment.problem_type,
            rows.classes,
            n_repeats=n_repeats,
            max_rows=max_rows,
            name=chosen.name,
        )


def compare(experiment_id: int, *, workspace: WorkspaceLike = None) -> Comparison:
    """The experiment's comparison: its models' stored predictions, read once for every view."""
    from workbench.compare import load_comparison

    ws = resolve_workspace(workspace)
    return Comparison(ws, load_comparison(ws, ws.experiment(experiment_id)))


def plot(info: Any) -> Any:
    """Draw a view's data (any `Comparison` method's result, or a Leaderboard) as a plotly figure."""
    from workbench.compare import Leaderboard
    from workbench.compare import views as v
    from workbench.errors import InvalidInputError

    drawers: dict[type, Any] = {
        Leaderboard: v.plot_leaderboard,
        v.HistoryInfo: v.plot_history,
        v.ParetoInfo: v.plot_pareto,
        v.RocPrInfo: v.plot_roc_pr,
        v.ConfusionInfo: v.plot_confusion,
        v.CalibrationInfo: v.plot_calibration,
        v.RegressionInfo: v.plot_regression,
        v.DiffInfo: v.plot_diff,
        v.WeightsInfo: v.plot_weights,
        v.PermutationImportanceInfo: v.plot_permutation_importance,
    }
    drawer = drawers.get(type(info))
    if drawer is None:
        raise InvalidInputError(f"There is no plot for {type(info).__name__}; pass a comparison view's result.")
    return drawer(info)


def _ensembles(workspace: Workspace, experiment_id: int) -> list[EnsembleRow]:
    from workbench.store import ensembles as ensemble_rows

    return ensemble_rows.list_ensembles(workspace.store, experiment_id)


def build_ensemble(
    experiment_id: int,
    constraints: EnsembleConstraints | None = None,
    *,
    methods: Sequence[str] = ("greedy", "stacking"),
    save: bool = True,
    workspace: WorkspaceLike = None,
) -> BuiltEnsemble:
    """The best ensemble of all the experiment's candidates (both engines) under `constraints` (members,
    single-row latency measured on the built model, size), greedy selection or stacking; saved unless
    `save=False`. An ensemble is kept only when its out-of-fold score over the valid rows beats its best
    single member's; otherwise the result is that best candidate alone. `selection.reason` says which."""
    from workbench.compare import build_ensemble as build
    from workbench.compare import save_ensemble as keep

    ws = resolve_workspace(workspace)
    experiment = ws.experiment(experiment_id)
    built = build(ws, experiment, constraints, tuple(methods))  # type: ignore[arg-type]
    return keep(ws, experiment, built) if save else built


def preview_ensemble(
    experiment_id: int,
    weights: Weights,
    *,
    comparison: Comparison | None = None,
    workspace: WorkspaceLike = None,
) -> EnsemblePreview:
    """Score an ensemble of the given candidates ("c12": weight) from their stored predictions alone: no
    model is loaded and the dataset is not read. Pass `comparison` (from `compare`) to reuse its predictions
    across calls, as an interactive editor does."""
    from workbench.compare import preview_ensemble as preview

    data = comparison.data if comparison is not None else compare(experiment_id, workspace=workspace).data
    return preview(data, weights)


def save_ensemble(experiment_id: int, weights: Weights, *, workspace: WorkspaceLike = None) -> BuiltEnsemble:
    """Build the ensemble of the given candidates and weights as a model, measure its single-row latency and
    size, and save it: a model like any other (on the leaderboard, registrable)."""
    from workbench.compare import build_weighted_ensemble, load_comparison
    from workbench.compare import save_ensemble as keep

    ws = resolve_workspace(workspace)
    experiment = ws.experiment(experiment_id)
    built = build_weighted_ensemble(ws, load_comparison(ws, experiment), weights)
    return keep(ws, experiment, built)


def measure_ensemble(
    experiment_id: int,
    weights: Weights,
    *,
    comparison: Comparison | None = None,
    workspace: WorkspaceLike = None,
) -> BuiltEnsemble:
    """Build the ensemble of the given candidates and weights as a model and measure its single-row latency
    and size, without saving it (what an editor shows once known, after the instant `preview_ensemble`)."""
    from workbench.compare import build_weighted_ensemble, load_comparison

    ws = resolve_workspace(workspace)
    data = comparison.data if comparison is not None else load_comparison(ws, ws.experiment(experiment_id))
    return build_weighted_ensemble(ws, data, weights)


def list_ensembles(experiment_id: int, *, workspace: WorkspaceLike = None) -> list[EnsembleRow]:
    """The experiment's saved ensembles: members, weights, scores, measured latency and size."""
    ws = resolve_workspace(workspace)
    return _ensembles(ws, ws.experiment(experiment_id).id)


def delete_ensemble(experiment_id: int, ensemble_id: int, *, workspace: WorkspaceLike = None) -> None:
    """Remove a saved ensemble and its artifacts (registered versions made from it keep their own copy)."""
    from workbench.compare import delete_ensemble as delete

    ws = resolve_workspace(workspace)
    delete(ws, ws.experiment(experiment_id), ensemble_id)


def write_report(
    experiment_id: int, path: str | Path, *, importance: bool = True, workspace: WorkspaceLike = None
) -> Path:
    """One self-contained HTML report of the experiment (plotly.js inlined, opens offline)."""
    from workbench.compare import write_comparison_report

    ws = resolve_workspace(workspace)
    return write_comparison_report(ws, ws.experiment(experiment_id), Path(path).expanduser().absolute(), importance)
