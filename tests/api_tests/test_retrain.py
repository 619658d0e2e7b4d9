"""Retrain and promote: a version's recipe repeated on new data, promoted only when it beats production on
rows neither model saw; `notebooks/04_retrain_and_promote.ipynb` run twice through `workbench run`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import workbench.api as wb

pytestmark = pytest.mark.long(seconds=100)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "04_retrain_and_promote.ipynb"


def _run(env: dict[str, str], *parameters: str) -> dict:
    args = [a for name, value in zip(parameters[::2], parameters[1::2], strict=True) for a in ("-p", name, value)]
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "run", str(NOTEBOOK), *args, "--cluster", "local:1", "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    job: dict = json.loads(done.stdout)["job"]
    assert job["status"] == "finished"
    return job


def test_the_notebook_promotes_a_better_challenger_and_keeps_production_against_a_worse(
    api_env: dict[str, str], tmp_path: Path
) -> None:
    rows = pd.read_csv(REPO / "datasets" / "breast_cancer.csv").sample(frac=1.0, random_state=0)
    small, more, few = rows.iloc[:50], rows.iloc[50:450], rows.iloc[450:480]
    more.to_csv(tmp_path / "more.csv", index=False)
    few.to_csv(tmp_path / "few.csv", index=False)
    wb.add_dataset_from_frame("cancer-small", small, target="diagnosis")
    experiment = wb.create_experiment("cancer-small", metric="log_loss", budget=wb.Budget(n_trials=1))
    wb.run_search(experiment.id, wb.search_config(engines=["optuna"], families=["lightgbm"], cluster="local:1"))
    first = wb.register_winner(experiment.id, "cancer")
    wb.promote("cancer", first.version, "production", check=False)

    better = _run(api_env, "model_name", "cancer", "new_data", str(tmp_path / "more.csv"))["outputs"]["values"]
    assert better["production"] == "cancer@1" and better["promoted"] == "cancer@2"
    assert better["challenger_score"] < better["production_score"]  # log loss: lower is better
    assert better["reason"].startswith("promoted cancer@2 to production: the challenger is better: log_loss")
    production = wb.show_model("cancer@production")
    assert production.version == 2 and production.metrics.get("serving_latency_ms")  # its contract check ran
    recipe = wb.model_recipe("cancer@2")
    assert recipe.trials[0].params == wb.model_recipe("cancer@1").trials[0].params  # the same hyperparameters

    worse = _run(api_env, "model_name", "cancer", "new_data", str(tmp_path / "few.csv"), "combine", "false")
    values = worse["outputs"]["values"]
    assert values["production"] == "cancer@2" and values["promoted"] is None
    assert values["challenger_score"] > values["production_score"]
    assert values["reason"].startswith("not promoted: the challenger is not better (log_loss")
    assert wb.show_model("cancer@production").version == 2
    assert [v.version for v in wb.list_models("cancer")] == [1, 2]  # a losing challenger is not registered


def test_an_ensembles_recipe_is_its_members_trials_and_weights(api_env: dict[str, str]) -> None:
    experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=2))
    wb.run_search(
        experiment.id, wb.search_config(engines=["optuna"], families=["linear", "lightgbm"], cluster="local:1")
    )
    first, second = [row for row in wb.leaderboard(experiment.id).rows if row.kind == "candidate"][:2]
    saved = wb.save_ensemble(experiment.id, {first.key: 0.7, second.key: 0.3})
    version = wb.register_model(f"e{saved.id}", "mix")
    recipe = wb.model_recipe(version.ref)
    assert recipe.kind == "ensemble" and len(recipe.trials) == 2 and recipe.method == "manual"
    # each member's weight goes with its trial (one family each here), whatever order the members are in
    weights = {first.model_type: 0.7, second.model_type: 0.3}
    assert {recipe.trials[i].params["family"]: round(w, 6) for i, w in recipe.members} == weights
    retrained = wb.retrain(version.ref, "penguins", cluster="local:1", out=io.StringIO())
    assert retrained.key.startswith("e") and retrained.experiment_id != experiment.id
    rebuilt = next(e for e in wb.list_ensembles(retrained.experiment_id) if f"e{e.id}" == retrained.key)
    assert [round(m["weight"], 6) for m in rebuilt.members] == [round(w, 6) for _, w in recipe.members]
    new_trials = wb.list_trials(retrained.experiment_id)
    assert sorted(t.params["family"] for t in new_trials) == sorted(t.params["family"] for t in recipe.trials)
