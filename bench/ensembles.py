"""Test scores of the best single candidate, AutoGluon's own best ensemble and the workbench's
cross-engine ensemble, from one search per dataset at the same budget (both engines).

Choices are made on the valid rows only; the test rows only score them. The "plain greedy" column repeats,
on the same search, what build_ensemble did before selection was cross-validated (greedy selection on the
metric itself over all valid rows, or stacking, whichever scored better on valid), so the two can be
compared on the same candidates.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from _common import REPO, workspace

import workbench.api as wb
from workbench.compare import ComparisonData, ModelPredictions, build_ensemble, fit_stacking, load_comparison
from workbench.compare._selection import greedy_selection, scorer
from workbench.config import Settings
from workbench.model import score_predictions
from workbench.store import Experiment, Workspace

DATASETS = ["breast_cancer", "seattle_weather", "grunfeld"]


def _best(models: list[ModelPredictions], sign: int) -> ModelPredictions:
    """The model with the best valid score (the metric's direction is `sign`)."""
    return max(models, key=lambda m: sign * m.valid_score if m.valid_score is not None else -float("inf"))


def _plain(data: ComparisonData) -> tuple[float, str]:
    """The ensemble the previous build_ensemble returned (no constraints): test score and description."""
    sign = 1 if data.greater_is_better else -1
    pool = [m for m in data.candidates() if m.valid_score is not None]

    def score(y: np.ndarray, p: np.ndarray) -> float:
        return score_predictions(data.metric, data.problem_type, y, p, data.classes)

    greedy = greedy_selection(
        [m.valid for m in pool], scorer(data.metric, data.problem_type, data.y_valid, data.classes), sign > 0
    )
    chosen = np.flatnonzero(greedy.weights)
    valid = sum(greedy.weights[i] * pool[i].valid for i in chosen)
    test = sum(greedy.weights[i] * pool[i].test for i in chosen)
    options = [(score(data.y_valid, valid), score(data.y_test, test), f"greedy, {len(chosen)} members")]
    ranked = sorted(pool, key=lambda m: -sign * (m.valid_score or 0))[:8]
    stacking = fit_stacking(
        [m.valid for m in ranked], data.y_valid, [m.test for m in ranked], data.problem_type, data.classes
    )
    options.append(
        (score(data.y_valid, stacking.valid_pred), score(data.y_test, stacking.test_pred), f"stacking, {len(ranked)}")
    )
    best = max(options, key=lambda o: sign * o[0])
    return best[1], best[2]


def _searched(dataset: str, args: argparse.Namespace) -> tuple[Workspace, Experiment]:
    """A new search, or with --reuse the last experiment on `dataset` in that workspace (no search)."""
    if args.reuse is not None:
        home = Path(args.reuse)
        ws = Workspace(Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets"))
        done = [e for e in ws.experiments() if e.dataset == dataset]
        if not done:
            raise SystemExit(f"{home} holds no experiment on {dataset}.")
        return ws, max(done, key=lambda e: e.id)
    ws = workspace()
    config = wb.search_config(engines=("autogluon", "optuna"), n_trials=args.trials, time_limit_s=args.time_limit)
    summary = wb.run_search(wb.prepare_search(dataset, config, workspace=ws).id, config, workspace=ws)
    print(f"  (workspace {ws.settings.home}: --reuse it to repeat the ensembles without searching)")
    return ws, ws.experiment(summary.experiment_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", default=DATASETS, help=f"bundled datasets (default: {DATASETS})")
    parser.add_argument("--trials", type=int, default=int(os.environ.get("BENCH_TRIALS", "6")))
    parser.add_argument("--time-limit", type=float, default=float(os.environ.get("BENCH_TIME_LIMIT", "150")))
    parser.add_argument("--reuse", metavar="HOME", help="a workspace a previous run printed: no new search")
    args = parser.parse_args()
    print(f"budget per dataset: {args.trials} trials, {args.time_limit:g} s, engines autogluon+optuna, local cluster")
    print(
        f"{'dataset':<18}{'metric':<26}{'best single':>12}{'AutoGluon ens.':>16}{'plain greedy':>14}"
        f"{'workbench ens.':>16}  result"
    )
    for dataset in args.datasets:
        ws, experiment = _searched(dataset, args)
        data = load_comparison(ws, experiment)
        sign = 1 if data.greater_is_better else -1
        singles = [m for m in data.candidates() if m.model_type != "weighted_ensemble"]
        ag_ensembles = [m for m in data.candidates() if m.model_type == "weighted_ensemble"]
        single = _best(singles, sign)
        ag = _best(ag_ensembles, sign) if ag_ensembles else None
        plain_test, plain_text = _plain(data)
        built = build_ensemble(ws, experiment, comparison=data)
        engines = sorted({n.split("-")[0] for n in built.member_names})
        metric = f"{experiment.metric} ({'higher' if data.greater_is_better else 'lower'})"
        ag_text = f"{ag.test_score:.4f}" if ag is not None and ag.test_score is not None else "-"
        print(
            f"{dataset:<18}{metric:<26}{single.test_score:>12.4f}{ag_text:>16}{plain_test:>14.4f}"
            f"{built.test_score:>16.4f}  {built.method}, {len(built.member_ids)} members from {'+'.join(engines)}"
            f" ({len(data.candidates())} candidates; plain greedy: {plain_text})"
        )
        if built.selection is not None:
            print(f"  {built.selection.reason}")
        for line in built.rejected:
            print(f"  rejected: {line}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
