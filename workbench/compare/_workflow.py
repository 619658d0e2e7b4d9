"""What `workbench compare` does beyond ensembles: the HTML report."""

from __future__ import annotations

from pathlib import Path

from workbench.compare._data import ComparisonData, load_comparison
from workbench.compare._models import load_model
from workbench.errors import InvalidInputError
from workbench.store import Experiment, Workspace
from workbench.store import ensembles as ensemble_rows

__all__ = ["saved_ensembles", "write_comparison_report"]


def saved_ensembles(workspace: Workspace, experiment: Experiment) -> list[tuple[str, list[str], list[float]]]:
    """(name, member names, weights) of every saved ensemble of the experiment."""
    return [
        (e.name, [m["name"] for m in e.members], [m["weight"] for m in e.members])
        for e in ensemble_rows.list_ensembles(workspace.store, experiment.id)
    ]


def write_comparison_report(
    workspace: Workspace,
    experiment: Experiment,
    path: Path,
    importance: bool = True,
    data: ComparisonData | None = None,
) -> Path:
    """One self-contained HTML report: leaderboard, history, Pareto fronts, ensembles, per-model views,
    permutation importance of the best model and a diff of the best two."""
    from workbench.compare._report import write_report
    from workbench.compare.views import get_permutation_importance_info

    if not path.parent.is_dir():
        raise InvalidInputError(f"The folder {str(path.parent)!r} does not exist; create it or choose another path.")
    data = data or load_comparison(workspace, experiment)
    if not data.models:
        raise InvalidInputError(f"Experiment {experiment.id} has no candidates yet; run a search first.")
    info = None
    if importance:
        best = data.ranked()[0]
        rows = workspace.rows(experiment)
        info = get_permutation_importance_info(
            load_model(workspace, experiment.id, best.key),
            rows.X_valid,
            rows.y_valid,
            experiment.metric,
            experiment.problem_type,
            rows.classes,
            n_repeats=3,
            name=best.name,
        )
    return write_report(path, data, ensembles=saved_ensembles(workspace, experiment), importance=info)
