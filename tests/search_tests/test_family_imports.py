"""A family's fit time is the fit's own: the modules it imports on first use are imported before the clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.search.families import FAMILIES

REPO = Path(__file__).resolve().parents[2]

# In a new process, as on a new worker: nothing has imported torch when the candidate is fitted. The fit
# itself imports (almost) nothing: not torch, nor what torch imports on first use (torch._dynamo and sympy
# with the first optimizer, 1.5 s), nor the sklearn encoders of the MLP's preprocessing.
SCRIPT = """
import json, sys
from dataclasses import replace
from pathlib import Path

from workbench.config import Settings
from workbench.search import WorkerResources
from workbench.search.families import LocalReporter, _registry, fit_candidate
from workbench.store import ExperimentSpec, Workspace, trial_data

home, repo = sys.argv[1], sys.argv[2]
settings = Settings(home=Path(home), data_roots=(Path(home),), datasets_dir=Path(repo) / "datasets")
with Workspace(settings) as ws:
    data = trial_data(ws, ws.create_experiment(ExperimentSpec("penguins")))
before = "torch" in sys.modules
mlp = _registry.FAMILIES["mlp"]
at_fit = []
imported = []

def fit(*args, **kwargs):
    at_fit.append("torch" in sys.modules)
    modules = set(sys.modules)
    model = mlp.fit(*args, **kwargs)
    imported.append(sorted(set(sys.modules) - modules))
    return model

_registry.FAMILIES["mlp"] = replace(mlp, fit=fit)
fit_candidate("mlp", {}, data, WorkerResources(cpus=1), LocalReporter(), 0)
print(json.dumps({"before": before, "at_fit": at_fit, "imported": imported}))
"""


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_names_the_modules_its_fit_imports(name: str) -> None:
    family = FAMILIES[name]
    family.import_modules()
    assert family.imports and all(module in sys.modules for module in family.imports)


@pytest.mark.timeout(120)
def test_the_mlp_fit_starts_with_torch_imported_in_a_new_process(tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_GPUS": "none"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(REPO)], capture_output=True, text=True, env=env, timeout=110
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] is False  # the test means something: torch was not imported yet
    assert seen["at_fit"] and all(seen["at_fit"])
    first = seen["imported"][0]
    assert len(first) <= 5, first
