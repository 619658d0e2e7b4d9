"""Seeded train/valid/test splits: stratified, grouped or time-ordered, with a content hash; and the folds
of a cross-validated selection over the train and valid rows."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InvalidInputError

__all__ = ["MAX_CV_FOLDS", "Split", "SplitSpec", "choose_cv_folds", "make_split", "split_hash"]

MAX_CV_FOLDS = 10
# Cross-validation multiplies the cost of every trial by its number of folds: it is chosen automatically
# only up to this many selection rows, and while the selection rows' cells (rows x feature columns) stay
# under this many per second of the time limit (60 s: 3 million cells, as 100,000 rows of 30 columns).
CV_MAX_ROWS = 100_000
CV_CELLS_PER_SECOND = 50_000


@dataclass(frozen=True)
class SplitSpec:
    """How to split: fractions of rows for valid and test, a seed, and an optional group or time column.

    cv_folds: how candidates are scored for selection. 1: on the valid rows only. k >= 2: k-fold
    cross-validated over the train and valid rows: fold 0 is the valid rows, the train rows are dealt into
    folds 1..k-1 (stratified for classification), and every candidate is scored on its out-of-fold
    predictions of all those rows. None: chosen when the experiment is created (`choose_cv_folds`).
    """

    seed: int = 0
    valid_fraction: float = 0.2
    test_fraction: float = 0.2
    group_column: str | None = None
    time_column: str | None = None
    cv_folds: int | None = None

    def __post_init__(self) -> None:
        for name in ("valid_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise InvalidInputError(f"{name} must be between 0 and 1, not {value}.")
        if self.valid_fraction + self.test_fraction >= 0.9:
            raise InvalidInputError("valid_fraction + test_fraction must leave at least 10% of rows for training.")
        if self.group_column and self.time_column:
            raise InvalidInputError("Name a group column or a time column for the split, not both.")
        if self.cv_folds is not None and not (isinstance(self.cv_folds, int) and 1 <= self.cv_folds <= MAX_CV_FOLDS):
            raise InvalidInputError(
                f"cv_folds must be a whole number from 1 (the valid rows only) to {MAX_CV_FOLDS}, not {self.cv_folds!r}."
            )
        if (self.cv_folds or 1) > 1 and (self.group_column or self.time_column):
            raise InvalidInputError(
                "Cross-validated selection needs a stratified or random split; with a group or time column "
                "use cv_folds=1."
            )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.cv_folds is None:  # as experiments made before cross-validation recorded their spec (and hash)
            del data["cv_folds"]
        return data


def choose_cv_folds(n_train: int, n_valid: int, n_features: int, time_limit_s: float | None, strategy: str) -> int:
    """The folds of a cross-validated selection, chosen from the rows and the budget.

    As many folds as the valid part fits into the train and valid rows (1 + n_train / n_valid, rounded;
    4 with the default 60/20/20 split), at most MAX_CV_FOLDS, so that every fold is about the size of the
    valid part. 1 (the valid rows only) for a group or time split, for more than CV_MAX_ROWS selection
    rows, and when the selection rows' cells exceed what the time limit allows (CV_CELLS_PER_SECOND).
    """
    if strategy not in ("stratified", "random") or n_valid < 1:
        return 1
    rows = n_train + n_valid
    if rows > CV_MAX_ROWS:
        return 1
    if time_limit_s is not None and rows * max(1, n_features) > time_limit_s * CV_CELLS_PER_SECOND:
        return 1
    return max(1, min(MAX_CV_FOLDS, 1 + round(n_train / n_valid)))


@dataclass(frozen=True)
class Split:
    """Row positions (into the loaded table) of each part, the strategy used and a hash of it all."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    strategy: str
    hash: str
    train_folds: np.ndarray | None = None  # the fold (1..k-1) of each train row; None: no cross-validation

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays = {"train": self.train, "valid": self.valid, "test": self.test, "strategy": np.array(self.strategy)}
        if self.train_folds is not None:
            arrays["train_folds"] = self.train_folds
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @property
    def cv_folds(self) -> int:
        """The number of folds of the selection (1: the valid rows only)."""
        return 1 if self.train_folds is None or not len(self.train_folds) else int(self.train_folds.max()) + 1

    @classmethod
    def from_bytes(cls, data: bytes, dataset_hash: str, spec: SplitSpec) -> Split:
        """Read a split written by `to_bytes`; its hash is recomputed from what was read."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            parts = (arrays["train"], arrays["valid"], arrays["test"])
            strategy = str(arrays["strategy"])
            folds = arrays["train_folds"] if "train_folds" in arrays.files else None
        return cls(*parts, strategy, split_hash(dataset_hash, spec, strategy, parts, folds), folds)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def split_hash(
    dataset_hash: str,
    spec: SplitSpec,
    strategy: str,
    parts: tuple[np.ndarray, ...],
    train_folds: np.ndarray | None = None,
) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"dataset": dataset_hash, "spec": spec.to_dict(), "strategy": strategy}).encode())
    for part in (*parts, *(() if train_folds is None else (train_folds,))):
        digest.update(np.asarray(part, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def _train_folds(train: np.ndarray, y: pd.Series, folds: int, seed: int, stratify: bool) -> np.ndarray:
    """Folds 1..folds-1 for the (sorted) train positions: shuffled with `seed`, and for classification
    dealt class by class so every class is spread over the folds as evenly as its rows allow."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(train), dtype=np.int64)
    parts = folds - 1
    if not stratify:
        out[rng.permutation(len(train))] = np.arange(len(train)) % parts
        return out + 1
    labels = y.loc[train].astype(str).to_numpy()
    dealt = 0
    for label in sorted(set(labels)):
        rows = np.flatnonzero(labels == label)
        out[rng.permutation(rows)] = (dealt + np.arange(len(rows))) % parts
        dealt += len(rows)
    return out + 1


def _stratified(positions: np.ndarray, y: pd.Series, spec: SplitSpec) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    counts = y.value_counts()
    if counts.min() < 3:
        rare = [str(k) for k in counts[counts < 3].index[:5]]
        raise InvalidInputError(
            f"Classes {rare} have fewer than 3 rows, too few to appear in train, valid and test; "
            "merge or drop them, or choose another target."
        )
    rest, test = train_test_split(
        positions, test_size=spec.test_fraction, stratify=y.to_numpy(), random_state=spec.seed
    )
    y_rest = y.loc[rest]
    train, valid = train_test_split(
        rest,
        test_size=spec.valid_fraction / (1 - spec.test_fraction),
        stratify=y_rest.to_numpy(),
        random_state=spec.seed,
    )
    return train, valid, test


def _random(positions: np.ndarray, spec: SplitSpec) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(spec.seed)
    shuffled = rng.permutation(positions)
    n_test = max(1, round(len(shuffled) * spec.test_fraction))
    n_valid = max(1, round(len(shuffled) * spec.valid_fraction))
    return shuffled[n_test + n_valid :], shuffled[n_test : n_test + n_valid], shuffled[:n_test]


def _grouped(positions: np.ndarray, groups: pd.Series, spec: SplitSpec) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import GroupShuffleSplit

    keys = groups.astype(str).where(groups.notna(), "<NA>").to_numpy()
    if len(set(keys)) < 3:
        raise InvalidInputError(
            f"The group column {groups.name!r} has fewer than 3 groups; a grouped split needs at least one "
            "group each for train, valid and test."
        )
    outer = GroupShuffleSplit(n_splits=1, test_size=spec.test_fraction, random_state=spec.seed)
    rest_idx, test_idx = next(outer.split(positions, groups=keys))
    inner = GroupShuffleSplit(
        n_splits=1, test_size=spec.valid_fraction / (1 - spec.test_fraction), random_state=spec.seed
    )
    train_idx, valid_idx = next(inner.split(rest_idx, groups=keys[rest_idx]))
    return positions[rest_idx[train_idx]], positions[rest_idx[valid_idx]], positions[test_idx]


def _time_ordered(positions: np.ndarray, times: pd.Series, spec: SplitSpec) -> tuple[np.ndarray, ...]:
    if times.isna().any():
        raise InvalidInputError(
            f"The time column {times.name!r} has missing values; fill or drop them for a time-ordered split."
        )
    if not pd.api.types.is_numeric_dtype(times):
        parsed = pd.to_datetime(times, errors="coerce")
        if parsed.isna().any():
            raise InvalidInputError(
                f"The time column {times.name!r} has values that are not dates or numbers; fix them or use "
                "another column."
            )
        times = parsed
    order = positions[np.argsort(times.to_numpy(), kind="stable")]
    n = len(order)
    n_test = max(1, round(n * spec.test_fraction))
    n_valid = max(1, round(n * spec.valid_fraction))
    return order[: n - n_test - n_valid], order[n - n_test - n_valid : n - n_test], order[n - n_test :]


def make_split(frame: pd.DataFrame, target: str, problem_type: str, spec: SplitSpec, dataset_hash: str) -> Split:
    """Split the rows of `frame` whose target is known. The same inputs always give the same split."""
    for column in (spec.group_column, spec.time_column):
        if column is not None and column not in frame.columns:
            raise InvalidInputError(f"The split column {column!r} is not a column of this dataset.")
        if column == target:
            raise InvalidInputError("The split column cannot be the target itself.")
    known = frame[target].notna().to_numpy()
    positions = np.flatnonzero(known)
    if len(positions) < 10:
        raise InvalidInputError(
            f"Only {len(positions)} rows have a target value; a train/valid/test split needs at least 10."
        )
    y = frame[target].iloc[positions].set_axis(positions)
    if spec.time_column:
        strategy = "time"
        parts = _time_ordered(positions, frame[spec.time_column].iloc[positions], spec)
    elif spec.group_column:
        strategy = "group"
        parts = _grouped(positions, frame[spec.group_column].iloc[positions], spec)
    elif problem_type in {"binary", "multiclass"}:
        strategy = "stratified"
        parts = _stratified(positions, y, spec)
    else:
        strategy = "random"
        parts = _random(positions, spec)
    train, valid, test = (np.sort(np.asarray(p, dtype=np.int64)) for p in parts)
    folds = None
    if (spec.cv_folds or 1) > 1:
        if strategy not in ("stratified", "random"):
            raise InvalidInputError("Cross-validated selection needs a stratified or random split; use cv_folds=1.")
        k = min(int(spec.cv_folds or 1), len(train) + 1)
        folds = _train_folds(train, y, k, spec.seed, stratify=strategy == "stratified") if k > 1 else None
    hashed = split_hash(dataset_hash, spec, strategy, (train, valid, test), folds)
    return Split(train, valid, test, strategy, hashed, folds)
