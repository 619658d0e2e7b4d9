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


def test_cross_validation_folds_deal_the_train_rows_into_folds_the_size_of_the_valid_part() -> None:
    frame = _frame(1000)
    split = make_split(frame, "y", "multiclass", SplitSpec(seed=3, cv_folds=4), "h")
    assert split.cv_folds == 4
    assert split.train_folds is not None and len(split.train_folds) == len(split.train)
    sizes = np.bincount(split.train_folds)[1:]
    assert sorted(set(split.train_folds.tolist())) == [1, 2, 3]
    assert np.all(np.abs(sizes - len(split.valid)) <= 3)
    # stratified: every fold holds each class in about the train rows' proportion
    y = frame["y"].to_numpy()[split.train]
    for fold in (1, 2, 3):
        share = np.mean(y[split.train_folds == fold] == "c")
        assert abs(share - np.mean(y == "c")) < 0.02
    again = make_split(frame, "y", "multiclass", SplitSpec(seed=3, cv_folds=4), "h")
    np.testing.assert_array_equal(again.train_folds, split.train_folds)
    assert again.hash == split.hash
    single = make_split(frame, "y", "multiclass", SplitSpec(seed=3, cv_folds=1), "h")
    np.testing.assert_array_equal(single.train, split.train)  # the parts do not depend on the folds
    assert single.train_folds is None and single.hash != split.hash


def test_folds_survive_storage_and_old_specs_keep_their_hash() -> None:
    from workbench.data import Split

    frame = _frame()
    spec = SplitSpec(seed=1, cv_folds=3)
    split = make_split(frame, "y", "multiclass", spec, "h")
    read = Split.from_bytes(split.to_bytes(), "h", spec)
    assert read.hash == split.hash
    np.testing.assert_array_equal(read.train_folds, split.train_folds)
    # an experiment recorded before cross-validation has no cv_folds in its spec: its hash is unchanged
    assert "cv_folds" not in SplitSpec().to_dict()
    old = make_split(frame, "y", "multiclass", SplitSpec(seed=1), "h")
    assert old.train_folds is None
    assert Split.from_bytes(old.to_bytes(), "h", SplitSpec(seed=1)).hash == old.hash


def test_regression_folds_are_random_and_cover_the_train_rows() -> None:
    frame = _frame().assign(v=np.arange(400.0))
    split = make_split(frame.drop(columns=["y"]), "v", "regression", SplitSpec(cv_folds=5), "h")
    assert split.train_folds is not None
    assert np.bincount(split.train_folds)[1:].min() >= len(split.train) // 4 - 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cv_folds": 0}, "whole number from 1"),
        ({"cv_folds": 11}, "whole number from 1"),
        ({"cv_folds": 4, "group_column": "g"}, "cv_folds=1"),
        ({"cv_folds": 3, "time_column": "t"}, "cv_folds=1"),
    ],
)
def test_bad_fold_counts_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SplitSpec(**kwargs)


def test_folds_are_chosen_from_the_rows_and_the_time_limit() -> None:
    from workbench.data import choose_cv_folds

    assert choose_cv_folds(600, 200, 10, None, "stratified") == 4  # the default 60/20/20 split
    assert choose_cv_folds(700, 100, 10, 60.0, "random") == 8
    assert choose_cv_folds(60_000, 20_000, 5, None, "stratified") == 4
    assert choose_cv_folds(90_000, 30_000, 5, None, "stratified") == 1  # more than 100,000 selection rows
    assert choose_cv_folds(6_000, 2_000, 100, 60.0, "random") == 4  # 800,000 cells: 60 s allows 3 million
    assert choose_cv_folds(30_000, 10_000, 100, 60.0, "random") == 1  # 4 million cells
    assert choose_cv_folds(30_000, 10_000, 100, 300.0, "random") == 4
    assert choose_cv_folds(600, 200, 10, None, "group") == 1
    assert choose_cv_folds(600, 200, 10, None, "time") == 1
