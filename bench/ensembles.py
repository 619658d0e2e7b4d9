"""Test scores of the best single candidate, AutoGluon's own best ensemble and the workbench's
cross-engine ensemble, from one search per dataset at the same budget (both engines).

Choices are made on the valid rows only (best valid score); the test rows only score them.
"""

from __future__ import annotations

import os
import sys

from _common import workspace

import workbench.api as wb
from workbench.compare import ModelPredictions, build_ensemble, load_comparison

DATASETS = sys.argv[1:] or ["breast_cancer", "seattle_weather", "grunfeld"]
TRIALS = int(os.environ.get("BENCH_TRIALS", "6"))
TIME_LIMIT_S = float(os.environ.get("BENCH_TIME_LIMIT", "150"))


def _best(models: list[ModelPredictions], sign: int) -> ModelPredictions:
    """The model with the best valid score (the metric's direction is `sign`)."""
    return max(models, key=lambda m: sign * m.valid_score if m.valid_score is not None else -float("inf"))


def main() -> None:
    print(f"budget per dataset: {TRIALS} trials, {TIME_LIMIT_S:g} s, engines autogluon+optuna, local cluster")
    print(f"{'dataset':<18}{'metric':<20}{'best single':>14}{'AutoGluon ens.':>16}{'workbench ens.':>16}  members")
    for dataset in DATASETS:
        ws = workspace()
        config = wb.search_config(engines=("autogluon", "optuna"), n_trials=TRIALS, time_limit_s=TIME_LIMIT_S)
        summary = wb.run_search(wb.prepare_search(dataset, config, workspace=ws).id, config, workspace=ws)
        experiment = ws.experiment(summary.experiment_id)
        data = load_comparison(ws, experiment)
        sign = 1 if data.greater_is_better else -1
        singles = [m for m in data.candidates() if m.model_type != "weighted_ensemble"]
        ag_ensembles = [m for m in data.candidates() if m.model_type == "weighted_ensemble"]
        single = _best(singles, sign)
        ag = _best(ag_ensembles, sign) if ag_ensembles else None
        built = build_ensemble(ws, experiment, comparison=data)
        engines = sorted({n.split("-")[0] for n in built.member_names})
        metric = f"{experiment.metric} ({'higher' if data.greater_is_better else 'lower'})"
        ag_text = f"{ag.test_score:.4f}" if ag is not None and ag.test_score is not None else "-"
        print(
            f"{dataset:<18}{metric:<20}{single.test_score:>14.4f}{ag_text:>16}{built.test_score:>16.4f}"
            f"  {built.method}, {len(built.member_ids)} members from {'+'.join(engines)}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
