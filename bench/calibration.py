"""Probability calibration, measured: test log loss of the same search's candidates with and without it.

For each dataset (bundled multiclass ones by default), one search with metric log_loss (Optuna engine by
default) in a fresh workspace. Each candidate is scored on the experiment's test rows twice: with the
calibration its search decided (on the valid rows, out of fold) and with its model's own probabilities.
Printed: how many candidates were calibrated, their mean test log loss both ways, and the winner chosen on
valid scores both ways (calibrated valid scores, or the uncalibrated ones) with its test log loss. The
candidates are the same in both columns (the search ran once, with calibration), so only the calibration
and the choice it changes differ.

    .venv/bin/python bench/calibration.py --trials 12                        # penguins wine seattle_weather
    .venv/bin/python bench/calibration.py --trials 6 --engines optuna,autogluon --seconds 120 breast_cancer
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def run(
    dataset: str, trials: int, engines: tuple[str, ...], seconds: float | None, cluster: str, cv_folds: int
) -> dict[str, float]:
    import workbench.api as wb
    from workbench.compare import load_candidate_model
    from workbench.model import Calibration, score_predictions
    from workbench.store import trials as records

    ws = wb.open_workspace()
    config = wb.search_config(
        engines=engines, n_trials=trials, time_limit_s=seconds, cluster=cluster, finalize="none", seed=0
    )
    experiment = wb.prepare_search(dataset, config, metric="log_loss", split=wb.SplitSpec(cv_folds=cv_folds))
    start = time.perf_counter()
    wb.run_search(experiment.id, config)
    wall = time.perf_counter() - start
    exp = ws.experiment(experiment.id)
    rows = ws.rows(exp)
    out = []
    for row in records.list_candidates(ws.store, experiment.id):
        if row.valid_score is None or row.test_score is None:
            continue
        model = load_candidate_model(ws, row)
        decision = Calibration.from_dict(row.calibration or {})
        model.calibration_ = None
        classes = list(model.classes_ or ())
        problem = exp.problem_type
        raw_valid = score_predictions("log_loss", problem, rows.y_valid, model.predict_proba(rows.X_valid), classes)
        raw_test = score_predictions("log_loss", problem, rows.y_test, model.predict_proba(rows.X_test), classes)
        out.append((row.name, decision, row.valid_score, row.test_score, raw_valid, raw_test))
    calibrated = [o for o in out if o[1].active]
    best_cal = min(out, key=lambda o: o[2])
    best_raw = min(out, key=lambda o: o[4])
    return {
        "wall_s": wall,
        "candidates": len(out),
        "calibrated": len(calibrated),
        "mean_test_raw": float(np.mean([o[5] for o in calibrated])) if calibrated else float("nan"),
        "mean_test_cal": float(np.mean([o[3] for o in calibrated])) if calibrated else float("nan"),
        "winner_test_raw": best_raw[5],
        "winner_test_cal": best_cal[3],
        "winner_raw": best_raw[0],
        "winner_cal": f"{best_cal[0]} ({best_cal[1].note() or 'not calibrated'})",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", default=["penguins", "wine", "seattle_weather"])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--engines", default="optuna")
    parser.add_argument("--cluster", default="local:1")
    # The raw column rescores each model on the valid rows, so the search scores on them too by default.
    parser.add_argument("--cv-folds", type=int, default=1, help="the experiments' cv_folds (default 1: valid rows)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="wb-calibration-"))
    os.environ.update(
        {"WORKBENCH_HOME": str(home), "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"), "WORKBENCH_GPUS": "none"}
    )
    print(
        f"{'dataset':<16} {'cands':>5} {'calib':>5} {'mean test raw':>13} {'mean test cal':>13} "
        f"{'winner raw':>10} {'winner cal':>10} {'wall s':>7}  winner (calibrated search)"
    )
    for name in args.datasets:
        r = run(name, args.trials, tuple(args.engines.split(",")), args.seconds, args.cluster, args.cv_folds)
        print(
            f"{name:<16} {r['candidates']:>5} {r['calibrated']:>5} {r['mean_test_raw']:>13.4f} "
            f"{r['mean_test_cal']:>13.4f} {r['winner_test_raw']:>10.4f} {r['winner_test_cal']:>10.4f} "
            f"{r['wall_s']:>7.1f}  {r['winner_cal']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
