"""The ensemble a search builds of its own candidates when its trials end, before it finalizes a winner.

The search layer cannot import this one; `workbench.api` and the job runner hand `ensemble_step` to
`workbench.search.run_search`, which calls it with a test of whether refitting a set of candidates, started
some seconds from now, still fits the time left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from workbench.compare._data import ComparisonData, ModelPredictions, load_comparison
from workbench.compare._ensembles import build_ensemble, save_ensemble
from workbench.compare._leaderboard import ranking_key
from workbench.store import Experiment, Workspace

__all__ = ["POOL_SIZE", "ensemble_step"]

# The ensemble is chosen among this many of the best candidates: beyond them, a candidate rarely earns a
# weight, and each one adds to the selection's time.
POOL_SIZE = 20


def ensemble_step(
    workspace: Workspace, experiment: Experiment, refit_fits: Callable[[Sequence[int], float], bool]
) -> dict[str, Any]:
    """Build the best ensemble (greedy selection and stacking, both cross-validated over the selection rows)
    of the experiment's POOL_SIZE best candidates and save it when it beats its best single member out of
    fold, its valid score ranks first on the leaderboard (so that it is the winner everything else takes),
    and `refit_fits` its members (the time left can refit them all). When only the refit stands in the way,
    the ensemble is built again of the best candidates whose refits, started after another build, fit
    together (each, in rank order, if it still fits with those taken before it), and saved on the same
    terms. What was done, as plain data: `kept`, `key`, `name`, `members`, `oof_score`,
    `member_oof_score` and `reason`."""
    data = load_comparison(workspace, experiment)
    scored = [m for m in data.candidates() if m.valid_score is not None and math.isfinite(m.valid_score)]
    if len(scored) < 2:
        return {"kept": False, "reason": "fewer than two candidates to ensemble"}
    ranked = sorted(scored, key=lambda m: ranking_key(m.valid_score, m.kind, m.id, data.greater_is_better))
    pool = ranked[:POOL_SIZE]
    start = time.monotonic()
    report, slow = _attempt(workspace, experiment, data, pool, ranked[0], refit_fits)
    if not slow:
        return report
    # The best candidates are often the slowest to refit (AutoGluon bags on many rows): the ensemble is built
    # again of the best candidates whose refits fit the time left together, after a build as long as this one,
    # and held to the same terms.
    build_s = time.monotonic() - start
    fitting: list[ModelPredictions] = []
    for model in pool:
        if refit_fits([m.id for m in fitting] + [model.id], build_s):
            fitting.append(model)
    if len(fitting) < 2 or len(fitting) == len(pool):
        return report
    retry, _ = _attempt(workspace, experiment, data, fitting, ranked[0], refit_fits)
    again = f"Built again of the {len(fitting)} of the {len(pool)} best candidates whose refits fit the time left."
    return {**retry, "reason": f"{report['reason']} {again} {retry['reason']}"}


def _attempt(
    workspace: Workspace,
    experiment: Experiment,
    data: ComparisonData,
    pool: Sequence[ModelPredictions],
    best: ModelPredictions,
    refit_fits: Callable[[Sequence[int], float], bool],
) -> tuple[dict[str, Any], bool]:
    """Build the ensemble of `pool` and save it if it is kept out of fold, ranks above `best` (the
    experiment's best candidate) and `refit_fits` its members: what was done, and whether only the refit
    kept it from being saved."""
    # Its latency is not measured here (loading and timing AutoGluon members takes seconds the search
    # does not have): its row holds its members' measured latencies added up, an upper bound; promoting
    # a version made from it measures the served model.
    built = build_ensemble(workspace, experiment, comparison=replace(data, models=tuple(pool)), measure=False)
    selection = built.selection
    if selection is not None and not selection.kept:
        # nothing is saved: the search's winner is the leaderboard's first row, which may not be the member
        # the selection's own fallback would take (the best by its proxy)
        selection = selection.using(f"the best candidate, {best.name}, stays the winner")
    report: dict[str, Any] = {
        "kept": False,
        "method": built.method,
        "members": list(built.member_names),
        "oof_score": selection.oof_score if selection is not None else None,
        "member_oof_score": selection.member_oof_score if selection is not None else None,
        "reason": selection.reason if selection is not None else "",
    }
    if selection is None or not selection.kept or len(built.member_ids) < 2:
        return report, False
    if ranking_key(built.valid_score, "ensemble", 0, data.greater_is_better) > ranking_key(
        best.valid_score, "candidate", best.id, data.greater_is_better
    ):
        # The search's winner is the leaderboard's first row, which registering and serving the winner take.
        return {
            **report,
            "reason": f"Not saved: {selection.finding}, but its valid score {built.valid_score:.4f} does not rank "
            f"above the best candidate's ({best.name}, {best.valid_score:.4f}), which stays the winner.",
        }, False
    if not refit_fits(built.member_ids, 0.0):
        return {
            **report,
            "reason": f"Not saved: {selection.finding}, but refitting its {len(built.member_ids)} members would "
            f"not fit the time left (`workbench compare {experiment.id} --ensemble ''` builds it afterwards).",
        }, True
    saved = save_ensemble(workspace, experiment, built)
    kept = {"kept": True, "key": f"e{saved.id}", "name": saved.name, "member_ids": list(saved.member_ids)}
    return {**report, **kept}, False
