"""The user's question, measured: the best model for this table in this much time, against AutoGluon.

For each dataset (the bundled ones by default, or any CSV given with --csv PATH:TARGET), the rows are split
80/20 (seed 0, stratified for classification). On the same 80%:
- plain AutoGluon: `TabularPredictor(...).fit(train, time_limit=S)` (its default preset), and
- AutoGluon `presets="best_quality"` with the same limit, and
- `workbench search NAME --time-limit S` through the CLI in a fresh workspace, its winner finalized (the
  default; or the model the search finalized instead when the winner's refit did not fit), then
  registered;
all three scored on the 20% by the same function (`workbench.model.score_predictions`, the dataset's
metric, probabilities for classifiers). Printed per dataset: the three scores, the wall times, and whether
the workbench wins, ties (within 0.5% of the metric's scale: relative to the best score, or 0.005 for
scores in [0, 1]) or loses against each anchor; then a summary line of wins / ties / losses.

    .venv/bin/python bench/quality.py --seconds 60                     # every bundled dataset
    .venv/bin/python bench/quality.py --seconds 300 penguins wine
    .venv/bin/python bench/quality.py --seconds 60 --csv my.csv:label  # any CSV too
    .venv/bin/python bench/quality.py --seconds 60 --metric log_loss penguins wine seattle_weather

The anchors do not depend on the workbench's code, so `--anchor-cache FILE` keeps their scores, keyed by the
dataset, the metric, its training rows' hash, S, the preset and the AutoGluon version, and reuses them;
`--anchors-only` fills that cache without running the workbench. `--search-args "..."` adds options to the
workbench's search (for example `--cv-folds 1`), to measure a setting against the default on the same split.
`--metric NAME` scores every dataset by NAME instead of its own metric.

On a table of a few hundred rows the 20% held out is a few dozen rows, and one search's score there moves
with the search's seed by more than the tie margin. `--repeat N` runs the workbench's search N times per
dataset with `--seed 0` ... `--seed N-1` (0 is the default; the seed also draws the search's own
train/valid/test split), and each AutoGluon anchor N times with `random_state` 0 ... N-1 (its holdout
split and bagging folds; the same code and seed also moves by more than the margin on the small tables);
it prints each run and judges the workbench's mean against each anchor's mean:

    .venv/bin/python bench/quality.py --seconds 60 --repeat 3 penguins grunfeld

`--split-seed K` holds out other rows (the split's seed; 0 by default): on a few dozen test rows, one split
decides a tie or a loss by a row, and several splits show which way a table leans.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
TIE = 0.005  # within 0.5% of the metric


def bundled() -> dict[str, dict[str, Any]]:
    manifest = tomllib.loads((REPO / "datasets" / "manifest.toml").read_text())
    return {d["name"]: d for d in manifest["dataset"]}


def split(frame: pd.DataFrame, target: str, classification: bool, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    frame = frame[frame[target].notna()].reset_index(drop=True)
    stratify = frame[target] if classification and frame[target].value_counts().min() >= 2 else None
    train, test = train_test_split(frame, test_size=0.2, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def score(metric: str, problem_type: str, y: np.ndarray, prediction: np.ndarray, classes: list[Any] | None) -> float:
    from workbench.model import score_predictions

    return float(score_predictions(metric, problem_type, y, prediction, classes))


def autogluon(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    problem_type: str,
    metric: str,
    seconds: float,
    seed: int = 0,
    **kwargs: Any,
) -> tuple[float, float]:
    from autogluon.tabular import TabularPredictor

    from workbench.model._autogluon import reorder_proba

    folder = tempfile.mkdtemp(prefix="wb-quality-ag-")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = TabularPredictor(
            label=target,
            problem_type=problem_type,
            eval_metric=metric,
            path=folder,
            verbosity=0,
            # its holdout split and bagging folds (0 is AutoGluon's default)
            learner_kwargs={"random_state": seed},
        )
        predictor.fit(train, time_limit=seconds, **kwargs)
        wall = time.perf_counter() - start
        X, y = test.drop(columns=[target]), test[target].to_numpy()
        if problem_type == "regression":
            return score(metric, problem_type, y, predictor.predict(X).to_numpy(dtype=float), None), wall
        classes = sorted(pd.unique(train[target].dropna()).tolist())
        proba = reorder_proba(predictor.predict_proba(X), classes)
    return score(metric, problem_type, y, proba, classes), wall


class AnchorCache:
    """Anchor scores kept in a JSON file, so that a change to the workbench is measured against the same runs."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.rows: dict[str, list[float]] = (
            json.loads(self.path.read_text()) if self.path is not None and self.path.exists() else {}
        )

    @staticmethod
    def key(name: str, metric: str, train: pd.DataFrame, seconds: float, preset: str, seed: int = 0) -> str:
        import autogluon.tabular

        rows = hashlib.sha256(pd.util.hash_pandas_object(train, index=False).to_numpy().tobytes()).hexdigest()[:16]
        key = f"{name}|{metric}|{rows}|{seconds:g}|{preset}|{autogluon.tabular.__version__}"
        return key if seed == 0 else f"{key}|seed {seed}"

    def get(self, key: str) -> tuple[float, float] | None:
        found = self.rows.get(key)
        return (found[0], found[1]) if found else None

    def put(self, key: str, value: tuple[float, float]) -> None:
        self.rows[key] = list(value)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.rows, indent=2))
            temporary.replace(self.path)


def anchor(
    cache: AnchorCache,
    name: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    problem_type: str,
    metric: str,
    seconds: float,
    preset: str,
    seed: int = 0,
) -> tuple[float, float]:
    key = cache.key(name, metric, train, seconds, preset, seed)
    found = cache.get(key)
    if found is not None:
        return found
    kwargs = {} if preset == "default" else {"presets": preset}
    value = autogluon(train, test, target, problem_type, metric, seconds, seed, **kwargs)
    cache.put(key, value)
    return value


def workbench(
    name: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    problem_type: str,
    metric: str,
    seconds: float,
    search_args: Sequence[str] = (),
) -> tuple[float, float, dict[str, Any]]:
    home = Path(tempfile.mkdtemp(prefix="wb-quality-"))
    name = f"{name}_80"  # not a bundled dataset's name
    train.to_csv(home / f"{name}.csv", index=False)
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(home / "home"),
        "WORKBENCH_DATA_ROOTS": str(home),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
    }
    cli = [sys.executable, "-m", "workbench"]
    subprocess.run(
        [*cli, "datasets", "add", name, str(home / f"{name}.csv"), "--target", target],
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
    )
    command = [*cli, "search", name, "--time-limit", f"{seconds:g}", "--metric", metric, "--problem-type"]
    command += [problem_type, "--json", *search_args]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=seconds * 10 + 600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name}: workbench search exited {done.returncode}\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout)
    os.environ.update({k: v for k, v in env.items() if k.startswith("WORKBENCH_")})
    import workbench.api as wb

    # Only a refit the search made inside its time limit counts: the model it finalized (its winner, or
    # the best model whose refit fitted the time left), else its winner scored as selected, not refitted
    # here after the clock stopped.
    final = summary.get("finalized") or {}
    if final.get("finalized"):
        version = wb.register_model(final["key"], name, finalize="all")
    else:
        version = wb.register_winner(summary["experiment_id"], name, finalize="none")
    from workbench.registry import Registry

    loaded = Registry(wb.open_workspace()).load(version.ref).model
    X, y = test.drop(columns=[target]), test[target].to_numpy()
    if problem_type == "regression":
        prediction = loaded.predict_values(X)
        value = score(metric, problem_type, y, prediction, None)
    else:
        value = score(metric, problem_type, y, loaded.predict_proba(X), list(loaded.classes_ or ()))
    details = {
        "winner": (summary.get("finalized") or {}).get("name") or (summary.get("best") or {}).get("name"),
        "finalized": summary.get("finalized"),
        "ensemble": summary.get("ensemble"),
        "trained_on": version.metrics.get("trained_on"),
        "selection": summary.get("selection"),
        "complete": summary.get("complete"),
        "cancelled": summary.get("cancelled"),
    }
    return value, wall, details


def verdict(ours: float, theirs: float, greater_is_better: bool) -> str:
    scale = 1.0 if min(ours, theirs) >= 0.0 and max(ours, theirs) <= 1.0 else max(abs(ours), abs(theirs), 1e-12)
    gain = (ours - theirs) if greater_is_better else (theirs - ours)
    if abs(gain) <= TIE * scale:
        return "tie"
    return "win" if gain > 0 else "loss"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", help="bundled dataset names (default: all)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--csv", action="append", default=[], metavar="PATH:TARGET")
    parser.add_argument(
        "--metric",
        metavar="NAME",
        help="score every dataset by NAME instead of its own metric (for example log_loss on classification tables)",
    )
    parser.add_argument("--no-best-quality", action="store_true", help="skip the best_quality anchor")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument(
        "--anchor-cache", metavar="FILE", help="reuse AutoGluon's scores kept in FILE, and keep new ones"
    )
    parser.add_argument("--anchors-only", action="store_true", help="run the AutoGluon anchors only (fills the cache)")
    parser.add_argument(
        "--search-args",
        default="",
        metavar="ARGS",
        help='more options for `workbench search`, as one string (for example "--cv-folds 1")',
    )
    parser.add_argument(
        "--split-seed",
        type=int,
        default=0,
        metavar="K",
        help="seed of the 80/20 split (0 by default, as in the README's tables); another seed holds out other rows",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the workbench N times per dataset (search seeds 0..N-1) and judge the mean",
    )
    args = parser.parse_args()
    search_args = shlex.split(args.search_args)
    if args.repeat < 1:
        parser.error("--repeat takes a count of runs, 1 or more")
    if args.repeat > 1 and "--seed" in search_args:
        parser.error("--repeat sets each run's --seed; leave --seed out of --search-args")

    from workbench.data import infer_problem_type
    from workbench.metrics import DEFAULT_METRIC, get_metric

    catalog = bundled()
    jobs: list[tuple[str, pd.DataFrame, str, str | None]] = []
    for name in args.datasets or ([] if args.csv else list(catalog)):
        entry = catalog[name]
        jobs.append((name, pd.read_csv(REPO / "datasets" / entry["file"]), entry["target"], entry.get("metric")))
    for item in args.csv:
        path, _, target = item.rpartition(":")
        jobs.append((Path(path).stem.replace(".", "_"), pd.read_csv(path), target, None))

    # Every dataset's metric is checked before the first (minutes long) run.
    checked: list[tuple[str, pd.DataFrame, str, str, str]] = []
    for name, frame, target, own_metric in jobs:
        problem_type = infer_problem_type(frame[target])
        metric = args.metric or own_metric or DEFAULT_METRIC[problem_type]
        try:
            get_metric(metric, problem_type)
        except ValueError as exc:
            parser.error(f"{name}: {exc}")
        checked.append((name, frame, target, problem_type, metric))

    cache = AnchorCache(args.anchor_cache)
    rows, tally = [], {"default": [0, 0, 0], "best_quality": [0, 0, 0]}
    S = args.seconds
    print(f"S = {S:g} s; scores on the 20% held out; wall times in seconds")
    header = f"{'dataset':<20} {'metric':<18} {'AG default':>10} {'AG best_q':>10} {'workbench':>10} "
    print(header + f"{'wall AG':>8} {'wall AGbq':>9} {'wall wb':>8} {'vs default':>10} {'vs best_q':>9}  winner")
    for name, frame, target, problem_type, metric in checked:
        greater = get_metric(metric, problem_type).greater_is_better
        train, test = split(frame, target, problem_type != "regression", args.split_seed)
        anchors: list[dict[str, float]] = []
        runs = []
        for k in range(args.repeat):
            ag_k, ag_wall_k = anchor(cache, name, train, test, target, problem_type, metric, S, "default", k)
            bq_k, bq_wall_k = (
                (float("nan"), float("nan"))
                if args.no_best_quality
                else anchor(cache, name, train, test, target, problem_type, metric, S, "best_quality", k)
            )
            anchors.append({"default": ag_k, "default_s": ag_wall_k, "best_quality": bq_k, "best_quality_s": bq_wall_k})
            label = name if args.repeat == 1 else f"{name} seed {k}" if args.anchors_only else f"  seed {k}"
            if args.anchors_only:
                print(
                    f"{label:<20} {metric:<18} {ag_k:>10.4f} {bq_k:>10.4f} {'-':>10} {ag_wall_k:>8.1f} {bq_wall_k:>9.1f}",
                    flush=True,
                )
                continue
            seed = ["--seed", str(k)] if args.repeat > 1 else []
            ours, wall, details = workbench(name, train, test, target, problem_type, metric, S, [*search_args, *seed])
            runs.append({"seed": k, "workbench": ours, "wall_workbench_s": wall, **details})
            if args.repeat > 1:
                against_best = verdict(ours, bq_k, greater) if not args.no_best_quality else "-"
                verdicts = f"{verdict(ours, ag_k, greater):>10} {against_best:>9}"
                print(
                    f"{label:<20} {'':<18} {ag_k:>10.4f} {bq_k:>10.4f} {ours:>10.4f} {ag_wall_k:>8.1f} "
                    f"{bq_wall_k:>9.1f} {wall:>8.1f} {verdicts}  {details['winner']}",
                    flush=True,
                )
        if args.anchors_only:
            continue
        # Each anchor is run as often as the workbench (AutoGluon seeded 0..N-1): both sides' scores move
        # from run to run, so the verdict is on the means.
        ag = float(np.mean([a["default"] for a in anchors]))
        bq = float(np.mean([a["best_quality"] for a in anchors]))
        ag_wall = max(a["default_s"] for a in anchors)
        bq_wall = max(a["best_quality_s"] for a in anchors)
        ours = float(np.mean([run["workbench"] for run in runs]))
        wall = max(run["wall_workbench_s"] for run in runs)
        if args.repeat > 1:  # one run's details stay as they are
            details = {"winner": "", "trained_on": "", "selection": "", "runs": runs, "anchor_runs": anchors}
        v_default = verdict(ours, ag, greater)
        v_best = verdict(ours, bq, greater) if not args.no_best_quality else "-"
        tally["default"][("win", "tie", "loss").index(v_default)] += 1
        if v_best != "-":
            tally["best_quality"][("win", "tie", "loss").index(v_best)] += 1
        if args.repeat == 1:
            described = f"{details['winner']} {details['trained_on']} [{details['selection']}]"
        else:
            scores = [run["workbench"] for run in runs]
            described = f"means of {len(runs)} runs (ours {min(scores):.4f}-{max(scores):.4f}; walls: the longest)"
        print(
            f"{name:<20} {metric:<18} {ag:>10.4f} {bq:>10.4f} {ours:>10.4f} {ag_wall:>8.1f} {bq_wall:>9.1f} "
            f"{wall:>8.1f} {v_default:>10} {v_best:>9}  {described}",
            flush=True,
        )
        rows.append(
            {
                "dataset": name,
                "metric": metric,
                "split_seed": args.split_seed,
                "autogluon": ag,
                "autogluon_best_quality": bq,
                "workbench": ours,
                "wall_autogluon_s": ag_wall,
                "wall_best_quality_s": bq_wall,
                "wall_workbench_s": wall,
                "limit_s": S,
                "vs_default": v_default,
                "vs_best_quality": v_best,
                **details,
            }
        )
    if args.anchors_only:
        return
    for preset, (win, tie, loss) in tally.items():
        print(f"workbench vs AutoGluon {preset}: {win} wins / {tie} ties / {loss} losses")
    budget_ok = sum(r["wall_workbench_s"] <= S * 1.05 + 3 for r in rows)
    print(f"workbench wall within S x 1.05 + 3 s: {budget_ok} of {len(rows)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
