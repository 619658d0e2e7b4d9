"""The ensemble a search builds of its own candidates when its trials end, before it finalizes a winner.

The search layer cannot import this one; `workbench.api` and the job runner hand `ensemble_step` to
`workbench.search.run_search`, which calls it with a test of whether refitting a set of candidates still
fits the time left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from workbench.compare._data import load_comparison
from workbench.compare._ensembles import build_ensemble, save_ensemble
from workbench.compare._leaderboard import ranking_key
from workbench.store import Experiment, Workspace

__all__ = ["POOL_SIZE", "ensemble_step"]

# The ensemble is chosen among this many of the best candidates: beyond them, a candidate rarely earns a
# weight, and each one adds to the selection's time.
POOL_SIZE = 20


def ensemble_step(
    workspace: Workspace, experiment: Experiment, refit_fits: Callable[[Sequence[int]], bool]
) -> dict[str, Any]:
    """Build the best ensemble (greedy selection and stacking, both cross-validated over the selection rows)
    of the experiment's POOL_SIZE best candidates and save it when it beats its best single member out of
    fold, its valid score ranks first on the leaderboard (so that it is the winner everything else takes),
    and `refit_fits` its members (the time left can refit them all); what was done, as plain data: `kept`,
    `key`, `name`, `members`, `oof_score`, `member_oof_score` and `reason`."""
    data = load_comparison(workspace, experiment)
    scored = [m for m in data.candidates() if m.valid_score is not None and math.isfinite(m.valid_score)]
    if len(scored) < 2:
        return {"kept": False, "reason": "fewer than two candidates to ensemble"}
    pool = sorted(scored, key=lambda m: ranking_key(m.valid_score, m.kind, m.id, data.greater_is_better))
    # Its latency is not measured here (loading and timing AutoGluon members takes seconds the search
    # does not have): its row holds its members' measured latencies added up, an upper bound; promoting
    # a version made from it measures the served model.
    chosen = replace(data, models=tuple(pool[:POOL_SIZE]))
    built = build_ensemble(workspace, experiment, comparison=chosen, measure=False)
    selection = built.selection
    report: dict[str, Any] = {
        "kept": False,
        "method": built.method,
        "members": list(built.member_names),
        "oof_score": selection.oof_score if selection is not None else None,
        "member_oof_score": selection.member_oof_score if selection is not None else None,
        "reason": selection.reason if selection is not None else "",
    }
    if selection is None or not selection.kept or len(built.member_ids) < 2:
        return report
    best = pool[0]
    if ranking_key(built.valid_score, "ensemble", 0, data.greater_is_better) > ranking_key(
        best.valid_score, "candidate", best.id, data.greater_is_better
    ):
        # The search's winner is the leaderboard's first row, which registering and serving the winner take.
        return {
            **report,
            "reason": f"{report['reason']} Not saved: its valid score {built.valid_score:.4f} does not rank above "
            f"the best candidate's ({best.name}, {best.valid_score:.4f}), which stays the winner.",
        }
    if not refit_fits(built.member_ids):
        return {
            **report,
            "reason": f"{report['reason']} Not saved: refitting its {len(built.member_ids)} members would not fit "
            f"the time left (`workbench compare {experiment.id} --ensemble ''` builds it afterwards).",
        }
    saved = save_ensemble(workspace, experiment, built)
    return {**report, "kept": True, "key": f"e{saved.id}", "name": saved.name, "member_ids": list(saved.member_ids)}
