from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.config import Settings
from workbench.data import SplitSpec, bundled_datasets, content_hash, load_entry, make_split
from workbench.errors import InvalidInputError


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "group": rng.integers(0, 40, size=n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()[rng.permutation(n)],
            "y": rng.choice(["a", "b", "c"], size=n, p=[0.7, 0.2, 0.1]),
        }
    )


def _parts(split) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [split.train, split.valid, split.test]


def test_same_seed_same_rows_and_hash() -> None:
    frame = _frame()
    a = make_split(frame, "y", "multiclass", SplitSpec(seed=7), "h")
    b = make_split(frame, "y", "multiclass", SplitSpec(seed=7), "h")
    assert a.hash == b.hash
    for pa, pb in zip(_parts(a), _parts(b), strict=True):
        np.testing.assert_array_equal(pa, pb)
    c = make_split(frame, "y", "multiclass", SplitSpec(seed=8), "h")
    assert c.hash != a.hash
    assert not np.array_equal(c.test, a.test)
    assert make_split(frame, "y", "multiclass", SplitSpec(seed=7), "other-data").hash != a.hash


@pytest.mark.parametrize("strategy", ["stratified", "random", "group", "time"])
def test_parts_are_disjoint_and_cover_every_row_with_a_target(strategy: str) -> None:
    frame = _frame()
    frame.loc[[3, 17], "y"] = None
    spec = {
        "stratified": SplitSpec(),
        "random": SplitSpec(),
        "group": SplitSpec(group_column="group"),
        "time": SplitSpec(time_column="when"),
    }[strategy]
    kind = "regression" if strategy == "random" else "multiclass"
    target = "x" if strategy == "random" else "y"
    split = make_split(frame, target, kind, spec, "h")
    assert split.strategy == strategy
    together = np.concatenate(_parts(split))
    assert len(together) == len(set(together.tolist()))
    assert set(together.tolist()) == set(np.flatnonzero(frame[target].notna()).tolist())
    assert abs(len(split.test) / len(together) - 0.2) < 0.08


def test_group_split_keeps_each_group_in_one_part() -> None:
    frame = _frame()
    split = make_split(frame, "y", "multiclass", SplitSpec(group_column="group", seed=3), "h")
    groups = [set(frame["group"].iloc[p]) for p in _parts(split)]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])


def test_time_split_is_ordered() -> None:
    frame = _frame()
    split = make_split(frame, "y", "multiclass", SplitSpec(time_column="when"), "h")
    train, valid, test = (frame["when"].iloc[p] for p in _parts(split))
    assert train.max() < valid.min() and valid.max() < test.min()


def test_stratification_holds_class_ratios_on_bundled_datasets(settings: Settings) -> None:
    checked = 0
    for entry in bundled_datasets(settings):
        if entry.task == "regression":
            continue
        frame = load_entry(entry, settings)
        split = make_split(frame, entry.target, entry.task, SplitSpec(seed=0), content_hash(frame))
        y = frame[entry.target]
        overall = y.dropna().value_counts(normalize=True)
        for part in _parts(split):
            shares = y.iloc[part].value_counts(normalize=True).reindex(overall.index, fill_value=0)
            assert (shares - overall).abs().max() <= 0.01 + 1 / len(part), entry.name
        checked += 1
    assert checked >= 3


def test_stratification_within_one_point_on_a_large_imbalanced_target() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.random(5000) < 0.04})
    split = make_split(frame, "y", "binary", SplitSpec(seed=2), "h")
    overall = frame["y"].mean()
    for part in _parts(split):
        assert abs(frame["y"].iloc[part].mean() - overall) <= 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"valid_fraction": 0.0}, "between 0 and 1"),
        ({"test_fraction": 1.5}, "between 0 and 1"),
        ({"valid_fraction": 0.5, "test_fraction": 0.45}, "at least 10%"),
        ({"group_column": "g", "time_column": "t"}, "not both"),
    ],
)
def test_bad_split_specs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SplitSpec(**kwargs)


def test_rare_classes_and_unknown_columns_are_refused() -> None:
    frame = _frame()
    frame.loc[0, "y"] = "lonely"
    with pytest.raises(InvalidInputError, match="fewer than 3 rows"):
        make_split(frame, "y", "multiclass", SplitSpec(), "h")
    with pytest.raises(InvalidInputError, match="not a column"):
        make_split(_frame(), "y", "multiclass", SplitSpec(group_column="nope"), "h")
