"""Registering files and SQL queries, profiling, and experiments with stored splits."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.config import Settings
from workbench.data import SplitSpec
from workbench.errors import DataFormatError, FileTooLargeError, InvalidInputError, NotFoundError, StoreError
from workbench.store import Budget, ExperimentSpec, Workspace
from workbench.store import datasets as datasets_table


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"x": rng.normal(size=n), "city": rng.choice(["a", "b"], size=n), "y": rng.choice(["no", "yes"], size=n)}
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx", ".tsv"])
def test_register_a_file_in_each_format(workspace: Workspace, data_dir: Path, suffix: str) -> None:
    table = _table()
    path = data_dir / f"t{suffix}"
    {
        ".csv": lambda: table.to_csv(path, index=False),
        ".tsv": lambda: table.to_csv(path, index=False, sep="\t"),
        ".parquet": lambda: table.to_parquet(path, index=False),
        ".xlsx": lambda: table.to_excel(path, index=False),
    }[suffix]()
    entry = workspace.add_dataset("t", str(path), target="y")
    assert entry.kind == "file" and entry.target == "y"
    loaded = workspace.load("t")
    pd.testing.assert_frame_equal(loaded, table, check_dtype=False)
    assert [e.name for e in workspace.datasets() if e.kind == "file"] == ["t"]


def test_register_sqlite_and_duckdb_queries(workspace: Workspace, data_dir: Path) -> None:
    import duckdb

    table = _table()
    with sqlite3.connect(data_dir / "shop.db") as conn:
        table.to_sql("sales", conn, index=False)
    workspace.add_dataset("sales", url=f"sqlite:///{data_dir / 'shop.db'}", query="SELECT * FROM sales WHERE x > 0")
    assert len(workspace.load("sales")) == int((table["x"] > 0).sum())

    with duckdb.connect(str(data_dir / "shop.duckdb")) as conn:
        conn.register("frame", table)
        conn.execute("CREATE TABLE sales AS SELECT * FROM frame")
    workspace.add_dataset("sales_duck", url=f"duckdb:///{data_dir / 'shop.duckdb'}", query="SELECT * FROM sales")
    pd.testing.assert_frame_equal(workspace.load("sales_duck"), table, check_dtype=False)
    profile = workspace.profile("sales_duck", target="y")
    assert profile.problem_type == "binary"


def test_sql_sources_are_read_only_and_checked(workspace: Workspace, data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "shop.db") as conn:
        _table().to_sql("sales", conn, index=False)
    url = f"sqlite:///{data_dir / 'shop.db'}"
    with pytest.raises(InvalidInputError, match="one SELECT"):
        workspace.add_dataset("d", url=url, query="DELETE FROM sales")
    with pytest.raises(DataFormatError, match="query failed"):
        workspace.add_dataset("d", url=url, query="SELECT * FROM nope")
    with pytest.raises(InvalidInputError, match="not supported"):
        workspace.add_dataset("d", url="postgresql://u:p@127.0.0.1/db", query="SELECT 1")
    with pytest.raises(InvalidInputError, match="needs a query"):
        workspace.add_dataset("d", url=url)
    assert datasets_table.list_datasets(workspace.store) == []


def test_file_over_the_cap_is_refused_before_parsing(workspace: Workspace, data_dir: Path) -> None:
    path = data_dir / "big.csv"
    _table(2000).to_csv(path, index=False)
    small = Workspace(replace(workspace.settings, max_file_bytes=1000))
    with pytest.raises(FileTooLargeError, match="1000 B cap"):
        small.add_dataset("big", str(path))
    small.close()


def test_experiment_stores_its_split_and_reloads_it(workspace: Workspace) -> None:
    spec = ExperimentSpec("penguins", split=SplitSpec(seed=3), budget=Budget(time_limit_s=60))
    experiment = workspace.create_experiment(spec)
    assert experiment.target == "species" and experiment.problem_type == "multiclass"
    assert experiment.metric == "accuracy" and experiment.split_strategy == "stratified"
    split = workspace.split(experiment)
    assert split.hash == experiment.split_hash
    assert sum(experiment.split_sizes.values()) == len(workspace.load("penguins"))
    again = workspace.create_experiment(spec)
    assert again.id != experiment.id and again.split_hash == experiment.split_hash
    assert workspace.experiment(str(experiment.id)) == experiment
    assert [e.id for e in workspace.experiments()] == [experiment.id, again.id]


def test_experiment_with_time_column_and_chosen_metric(workspace: Workspace) -> None:
    spec = ExperimentSpec("seattle_weather", metric="log_loss", split=SplitSpec(time_column="date"))
    experiment = workspace.create_experiment(spec)
    assert experiment.split_strategy == "time" and experiment.metric == "log_loss"


def test_a_changed_dataset_is_refused(workspace: Workspace, data_dir: Path) -> None:
    path = data_dir / "t.csv"
    _table().to_csv(path, index=False)
    workspace.add_dataset("t", str(path), target="y")
    experiment = workspace.create_experiment(ExperimentSpec("t"))
    _table(61).to_csv(path, index=False)
    with pytest.raises(StoreError, match="changed since experiment"):
        workspace.experiment_frame(experiment)


def test_bad_experiment_input_writes_nothing(workspace: Workspace) -> None:
    bad = [
        (ExperimentSpec("nope"), NotFoundError),
        (ExperimentSpec("penguins", target="nope"), InvalidInputError),
        (ExperimentSpec("penguins", metric="rmse"), InvalidInputError),
        (ExperimentSpec("penguins", split=SplitSpec(group_column="nope")), InvalidInputError),
    ]
    for spec, error in bad:
        with pytest.raises(error):
            workspace.create_experiment(spec)
    with pytest.raises(InvalidInputError):
        Budget(time_limit_s=0)
    with pytest.raises(InvalidInputError):
        Budget(n_trials=-1)
    assert workspace.experiments() == [] and workspace.store.list_artifacts() == []


def test_names_clash_with_bundled_and_registered(workspace: Workspace, data_dir: Path, settings: Settings) -> None:
    path = data_dir / "t.csv"
    _table().to_csv(path, index=False)
    with pytest.raises(InvalidInputError, match="bundled"):
        workspace.add_dataset("penguins", str(path))
    workspace.add_dataset("t", str(path))
    with pytest.raises(InvalidInputError, match="already registered"):
        workspace.add_dataset("t", str(path))
