"""An experiment's rows: the features and targets of its stored split, and its targets alone.

`TrialData` is what every candidate is fitted and scored on. `ExperimentTargets` (the valid and test
targets and the class order) is stored as a small artifact when the experiment is created, so comparing
and ensembling stored predictions never reloads the dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench._json import to_jsonable

if TYPE_CHECKING:
    from workbench.data import Split
    from workbench.store._workspace import Experiment, Workspace

__all__ = [
    "ExperimentTargets",
    "TrialData",
    "read_targets",
    "rows_from_frame",
    "sorted_classes",
    "targets_key",
    "trial_data",
]


@dataclass(frozen=True)
class TrialData:
    """The experiment's rows, split once: every candidate is scored on the same valid/test rows."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    problem_type: str
    metric: str
    classes: tuple[Any, ...] | None  # sorted labels; column order of every stored probability matrix
    split_hash: str
    # The fold (1..k-1) of each train row when candidates are cross-validated (fold 0: the valid rows).
    train_folds: np.ndarray | None = None

    @property
    def cv_folds(self) -> int:
        """The folds candidates are scored over: 1 (the valid rows) or k (k-fold over train + valid)."""
        return 1 if self.train_folds is None or not len(self.train_folds) else int(self.train_folds.max()) + 1

    @property
    def y_selection(self) -> np.ndarray:
        """The targets of the rows every candidate is scored on for selection, in the order of its stored
        valid predictions: the valid rows, or with cross-validation the train rows then the valid rows."""
        if self.cv_folds == 1:
            return self.y_valid
        return np.concatenate([self.y_train, self.y_valid])

    def selection_folds(self) -> np.ndarray:
        """The fold of each selection row (train rows then valid rows; the valid rows are fold 0)."""
        train = self.train_folds if self.train_folds is not None else np.ones(len(self.y_train), dtype=np.int64)
        return np.concatenate([np.asarray(train, dtype=np.int64), np.zeros(len(self.y_valid), dtype=np.int64)])

    def fold(self, number: int) -> TrialData:
        """The rows of one fold of the selection: trained on every other fold's rows, fold `number`'s rows
        as its valid rows (fold 0: the experiment's own train and valid rows), the test rows unchanged."""
        if number == 0:
            return replace(self, train_folds=None)
        if not 0 < number < self.cv_folds:
            raise ValueError(f"fold {number} is not one of this experiment's {self.cv_folds} folds")
        X = pd.concat([self.X_train, self.X_valid], ignore_index=True)
        y = np.concatenate([self.y_train, self.y_valid])
        held = self.selection_folds() == number
        return replace(
            self,
            X_train=X[~held].reset_index(drop=True),
            y_train=y[~held],
            X_valid=X[held].reset_index(drop=True),
            y_valid=y[held],
            train_folds=None,
        )

    def targets(self) -> ExperimentTargets:
        return ExperimentTargets(self.classes, self.y_selection, self.y_test)


@dataclass(frozen=True)
class ExperimentTargets:
    """The selection and test targets of an experiment and its classes (None for regression).

    y_valid: the targets of the rows candidates are scored on for selection: the valid rows, or with
    cross-validation the train rows then the valid rows (`TrialData.y_selection`)."""

    classes: tuple[Any, ...] | None
    y_valid: np.ndarray
    y_test: np.ndarray

    def to_bytes(self) -> bytes:
        return json.dumps(to_jsonable(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, regression: bool) -> ExperimentTargets:
        raw = json.loads(data)
        dtype = np.float64 if regression else object
        classes = None if raw["classes"] is None else tuple(raw["classes"])
        return cls(classes, np.asarray(raw["y_valid"], dtype=dtype), np.asarray(raw["y_test"], dtype=dtype))


def sorted_classes(y: pd.Series) -> tuple[Any, ...]:
    """The distinct labels, sorted (by their text when they are of mixed types)."""
    labels = pd.unique(y.dropna()).tolist()
    try:
        return tuple(sorted(labels))
    except TypeError:
        return tuple(sorted(labels, key=lambda label: (type(label).__name__, str(label))))


def targets_key(split_hash: str) -> str:
    """The targets depend on the dataset and the split only, and the split hash covers both."""
    return f"splits/{split_hash}-targets.json"


def rows_from_frame(experiment: Experiment, frame: pd.DataFrame, split: Split) -> TrialData:
    """The rows of `frame` at the split's positions, rows without a target dropped, feature columns in the
    dataset's order, targets as numpy arrays (floats for regression)."""
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

    train_folds = None
    if split.train_folds is not None:
        train_folds = np.asarray(split.train_folds, dtype=np.int64)[frame[target].iloc[split.train].notna().to_numpy()]
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
        train_folds=train_folds,
    )


def trial_data(workspace: Workspace, experiment: Experiment) -> TrialData:
    """The TrialData of `experiment`, read from its dataset (refused if the dataset changed since)."""
    return rows_from_frame(experiment, workspace.experiment_frame(experiment), workspace.split(experiment))


def read_targets(workspace: Workspace, experiment: Experiment) -> ExperimentTargets:
    """The stored targets of `experiment`; an experiment made before they were stored gets them now, once."""
    key = targets_key(experiment.split_hash)
    regression = experiment.problem_type == "regression"
    if workspace.store.get_artifact(key) is None:
        targets = trial_data(workspace, experiment).targets()
        workspace.store.put_artifact(key, targets.to_bytes())
        return targets
    return ExperimentTargets.from_bytes(workspace.store.read_artifact(key), regression)
