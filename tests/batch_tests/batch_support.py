"""What the batch tests share: the scoring fixture's record and input rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Scoring:
    """A workspace with a registered, promoted penguins model and a running Dask cluster to score on."""

    home: Path
    data: Path  # the data root: inputs are written here
    cluster: str  # tcp://127.0.0.1:PORT
    model: str  # peng@1
    experiment_id: int
    env: dict[str, str]  # for subprocesses: the CLI and the notebook jobs


def penguin_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` penguin feature rows drawn from the bundled dataset (with its missing values), target dropped."""
    frame = pd.read_csv(REPO / "datasets" / "penguins.csv").drop(columns=["species"])
    picked = frame.sample(n=n, replace=True, random_state=np.random.RandomState(seed)).reset_index(drop=True)
    return picked
