"""Model sources for the serving tests; importable by the uvicorn subprocesses (PYTHONPATH) for unpickling."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.model import ColumnSpec, FittedModel, InputSchema, LoadedModel, loads_model

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def fit_pickled(tmp: Path, dataset: str) -> tuple[Path, pd.DataFrame]:
    """A LightGBM model fitted on a bundled dataset, pickled to `tmp/DATASET.pkl`, and its held-out rows."""
    from workbench.config import Settings
    from workbench.search import WorkerResources
    from workbench.search.families import LocalReporter, fit_candidate
    from workbench.store import ExperimentSpec, Workspace, trial_data

    settings = Settings(home=tmp / "home", data_roots=(tmp,), datasets_dir=REPO / "datasets")
    with Workspace(settings) as ws:
        data = trial_data(ws, ws.create_experiment(ExperimentSpec(dataset)))
    _, blob = fit_candidate("lightgbm", {}, data, WorkerResources(cpus=1), LocalReporter(), 0)
    path = tmp / f"{dataset}.pkl"
    path.write_bytes(blob)
    return path, data.X_test.reset_index(drop=True)


class SlowModel(FittedModel):
    """Wraps a model and sleeps before each prediction: makes requests overlap."""

    def __init__(self, inner: FittedModel, delay_s: float) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.problem_type = inner.problem_type
        self.classes_ = inner.classes_
        self.input_schema_ = inner.input_schema_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(self.delay_s)
        return self.inner.predict_proba(X)

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(self.delay_s)
        return self.inner.predict_values(X)


class TableModel(FittedModel):
    """A regressor whose prediction is a fixed function of every input column, one of each kind: what the
    server decodes from any datatype reaches the model exactly as the same values would in-process."""

    problem_type = "regression"
    classes_ = None
    input_schema_ = InputSchema(
        (
            ColumnSpec("x", "numeric", "float64", required=False),
            ColumnSpec("n", "numeric", "int64", required=True),
            ColumnSpec("flag", "boolean", "bool", required=True),
            ColumnSpec("cat", "categorical", "object", required=True, categories=("a", "b", "c")),
            ColumnSpec("when", "datetime", "datetime64[ns]", required=True),
        )
    )

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError("a regressor")

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        x = X["x"].to_numpy(dtype=float)
        x = np.where(np.isnan(x), -1e6, x)  # a missing value has its own answer
        n = X["n"].to_numpy(dtype=float)
        flag = X["flag"].to_numpy(dtype=float)
        cat = pd.Series(X["cat"]).map({"a": 1.0, "b": 2.0, "c": 3.0}).fillna(9.0).to_numpy(dtype=float)
        day = pd.to_datetime(X["when"]).dt.dayofyear.to_numpy(dtype=float)
        result: np.ndarray = x + 1e-3 * n + 1e4 * flag + 1e5 * cat + 1e7 * day
        return result


@dataclass(frozen=True)
class FileSource:
    """Loads a pickled model from `path`; the version comes from `version_file` when given (an alias that moves)."""

    path: Path
    name: str = "penguins"
    load_delay_s: float = 0.0
    predict_delay_s: float = 0.0
    version_file: Path | None = None
    frame_only: bool = False  # serve through pandas (SlowModel has no fast path)

    def load(self) -> LoadedModel:
        time.sleep(self.load_delay_s)
        model = loads_model(self.path.read_bytes())
        if self.predict_delay_s or self.frame_only:
            model = SlowModel(model, self.predict_delay_s)
        version = int(self.version_file.read_text()) if self.version_file is not None else 1
        return LoadedModel(
            name=self.name,
            version=version,
            model=model,
            input_schema=model.input_schema_,
            problem_type=model.problem_type,
            classes=model.classes_,
        )

    def describe(self) -> str:
        return f"file {self.path.name}"


class BrokenSource:
    def load(self) -> LoadedModel:
        raise RuntimeError("no model here")

    def describe(self) -> str:
        return "broken"


SUBPROCESS_ENV = {"PYTHONPATH": str(HERE)}


def wait_ready(c: TestClient, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while c.get("/v2/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "model never became ready"
        time.sleep(0.02)
