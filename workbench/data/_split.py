"""Seeded train/valid/test splits: stratified, grouped or time-ordered, with a content hash."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InvalidInputError

__all__ = ["Split", "SplitSpec", "make_split", "split_hash"]


@dataclass(frozen=True)
class SplitSpec:
    """How to split: fractions of rows for valid and test, a seed, and an optional group or time column."""

    seed: int = 0
    valid_fraction: float = 0.2
    test_fraction: float = 0.2
    group_column: str | None = None
    time_column: str | None = None

    def __post_init__(self) -> None:
        for name in ("valid_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise InvalidInputError(f"{name} must be between 0 and 1, not {value}.")
        if self.valid_fraction + self.test_fraction >= 0.9:
            raise InvalidInputError("valid_fraction + test_fraction must leave at least 10% of rows for training.")
        if self.group_column and self.time_column:
            raise InvalidInputError("Name a group column or a time column for the split, not both.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Split:
    """Row positions (into the loaded table) of each part, the strategy used and a hash of it all."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    strategy: str
    hash: str

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, train=self.train, valid=self.valid, test=self.test, strategy=np.array(self.strategy))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, dataset_hash: str, spec: SplitSpec) -> Split:
        """Read a split written by `to_bytes`; its hash is recomputed from what was read."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            parts = (arrays["train"], arrays["valid"], arrays["test"])
            strategy = str(arrays["strategy"])
        return cls(*parts, strategy, split_hash(dataset_hash, spec, strategy, parts))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def split_hash(dataset_hash: str, spec: SplitSpec, strategy: str, parts: tuple[np.ndarray, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"dataset": dataset_hash, "spec": spec.to_dict(), "strategy": strategy}).encode())
    for part in parts:
        digest.update(np.asarray(part, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


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
    return Split(train, valid, test, strategy, split_hash(dataset_hash, spec, strategy, (train, valid, test)))
