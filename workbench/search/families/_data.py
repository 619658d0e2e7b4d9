"""The experiment's rows as a TrialData: features and targets of its stored train/valid/test split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.search._protocol import TrialData
from workbench.store import Experiment, Workspace

__all__ = ["sorted_classes", "trial_data"]


def sorted_classes(y: pd.Series) -> tuple[Any, ...]:
    """The distinct labels, sorted (by their text when they are of mixed types)."""
    labels = pd.unique(y.dropna()).tolist()
    try:
        return tuple(sorted(labels))
    except TypeError:
        return tuple(sorted(labels, key=lambda label: (type(label).__name__, str(label))))


def trial_data(workspace: Workspace, experiment: Experiment) -> TrialData:
    """The TrialData of `experiment`: its dataset's rows at the split's positions, rows without a target
    dropped, feature columns in the dataset's order, targets as numpy arrays (floats for regression)."""
    frame = workspace.experiment_frame(experiment)
    split = workspace.split(experiment)
    target = experiment.target
    regression = experiment.problem_type == "regression"
    features = frame.drop(columns=[target])

    def part(positions: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        positions = np.asarray(positions, dtype=np.int64)
        y = frame[target].iloc[positions]
        known = y.notna().to_numpy()
        X = features.iloc[positions[known]].reset_index(drop=True)
        values = y[known].to_numpy(dtype=np.float64) if regression else y[known].to_numpy()
        return X, values

    X_train, y_train = part(split.train)
    X_valid, y_valid = part(split.valid)
    X_test, y_test = part(split.test)
    return TrialData(
        X_train=X_train,
        y_train=y_train,
        X_valid=X_valid,
        y_valid=y_valid,
        X_test=X_test,
        y_test=y_test,
        problem_type=experiment.problem_type,
        metric=experiment.metric,
        classes=None if regression else sorted_classes(frame[target]),
        split_hash=experiment.split_hash,
    )
