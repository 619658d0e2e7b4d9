"""Fitted models unpickle and predict with the model layer alone: no workbench.search, no workbench.compare."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.model import AutoGluonModel, dumps_model
from workbench.search import TrialSpec, WorkerResources
from workbench.search.engines import ARTIFACT_NAME, run_autogluon_trial
from workbench.search.families import LocalReporter, fit_candidate
from workbench.store import ExperimentSpec, Workspace, trial_data

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

CHILD = """
import pickle, sys
from pathlib import Path
folder = Path(sys.argv[1])
rows = pickle.loads((folder / "rows.pkl").read_bytes())
kinds = {}
for path in sorted(folder.glob("*.model")):
    model = pickle.loads(path.read_bytes())
    kinds[path.stem] = [type(model).__module__, model.predict_proba(rows).shape[0]]
bad = sorted(m for m in sys.modules if m.startswith(("workbench.search", "workbench.compare")))
import json
print(json.dumps({"kinds": kinds, "bad": bad}))
"""


def test_saved_candidates_unpickle_without_search_or_compare(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", data_roots=(tmp_path,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        data = trial_data(ws, ws.create_experiment(ExperimentSpec("penguins")))
    out = tmp_path / "models"
    out.mkdir()
    for family in ("linear", "lightgbm"):
        _, blob = fit_candidate(family, {}, data, WorkerResources(cpus=1), LocalReporter(), seed=0)
        (out / f"{family}.model").write_bytes(blob)
    spec = TrialSpec(
        experiment_id=1,
        engine="autogluon",
        number=0,
        params={
            "space": "test",
            "presets": "medium_quality",
            "hyperparameters": {"GBM": {}},
            "time_limit_s": 30.0,
            "seed": 0,
        },
        seed=0,
    )
    result = run_autogluon_trial(spec, data, WorkerResources(cpus=1), LocalReporter())
    assert result.status == "complete"
    name = next(c.name for c in result.candidates if not c.name.startswith("WeightedEnsemble"))
    ag = AutoGluonModel.from_zip(result.artifacts[ARTIFACT_NAME], name, cache_dir=tmp_path / "cache")
    (out / "autogluon.model").write_bytes(dumps_model(ag))
    (out / "rows.pkl").write_bytes(pickle.dumps(data.X_test.iloc[:5]))

    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["bad"] == []
    assert report["kinds"] == {
        "autogluon": ["workbench.model._autogluon", 5],
        "lightgbm": ["workbench.model.tabular._lightgbm", 5],
        "linear": ["workbench.model.tabular._linear", 5],
    }


def test_model_modules_import_no_search_compare_or_model_library() -> None:
    code = (
        "import sys, workbench.model, workbench.model.tabular\n"
        "heavy = ('workbench.search', 'workbench.compare', 'lightgbm', 'xgboost', 'catboost', 'torch', 'autogluon')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_old_import_paths_still_work() -> None:
    from workbench.search.engines import AutoGluonModel as Old
    from workbench.search.families import LightGBMModel, LinearModel, OrdinalPrep, TabularModel

    assert Old is AutoGluonModel
    assert LightGBMModel.__module__ == "workbench.model.tabular._lightgbm"
    assert LinearModel.__module__ == "workbench.model.tabular._linear"
    assert issubclass(LightGBMModel, TabularModel)
    assert OrdinalPrep.__module__ == "workbench.model.tabular._prep"
