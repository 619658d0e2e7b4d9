"""What `workbench compare` does: build and save an ensemble, and write the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.compare._data import ComparisonData, load_comparison
from workbench.compare._models import load_candidate_model, load_ensemble_model
from workbench.errors import InvalidInputError
from workbench.model import FittedModel
from workbench.store import Experiment, Workspace
from workbench.store import trials as records

__all__ = ["saved_ensembles", "write_comparison_report"]


def saved_ensembles(workspace: Workspace, experiment: Experiment) -> list[tuple[str, list[str], list[float]]]:
    """(name, member names, weights) of every saved ensemble of the experiment."""
    rows = workspace.store.conn.execute(
        "SELECT members_json FROM ensembles WHERE experiment_id = ? ORDER BY id", (experiment.id,)
    ).fetchall()
    out = []
    for row in rows:
        spec = json.loads(row["members_json"])
        out.append((spec["name"], [m["name"] for m in spec["members"]], [m["weight"] for m in spec["members"]]))
    return out


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
    from workbench.search.families import trial_data

    if not path.parent.is_dir():
        raise InvalidInputError(f"The folder {str(path.parent)!r} does not exist; create it or choose another path.")
    data = data or load_comparison(workspace, experiment)
    if not data.models:
        raise InvalidInputError(f"Experiment {experiment.id} has no candidates yet; run a search first.")
    info = None
    if importance:
        best = data.ranked()[0]
        model: FittedModel
        if best.kind == "ensemble":
            model = load_ensemble_model(workspace, best.id)
        else:
            row = next(c for c in _candidates(workspace, experiment) if c.id == best.id)
            model = load_candidate_model(workspace, row)
        rows = trial_data(workspace, experiment)
        info = get_permutation_importance_info(
            model,
            rows.X_valid,
            rows.y_valid,
            experiment.metric,
            experiment.problem_type,
            rows.classes,
            n_repeats=3,
            name=best.name,
        )
    return write_report(path, data, ensembles=saved_ensembles(workspace, experiment), importance=info)


def _candidates(workspace: Workspace, experiment: Experiment) -> list[records.CandidateRow]:
    return records.list_candidates(workspace.store, experiment.id)
