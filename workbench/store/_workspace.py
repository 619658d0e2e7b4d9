"""The workspace as users see it: the dataset catalog and experiments, over the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from workbench.config import Settings
from workbench.data import (
    DatasetEntry,
    Profile,
    Split,
    SplitSpec,
    bundled_datasets,
    check_name,
    check_target,
    content_hash,
    file_entry,
    load_entry,
    make_split,
    profile_frame,
    resolve_problem,
    sql_entry,
)
from workbench.errors import InvalidInputError, NotFoundError, StoreError
from workbench.store._store import Store

__all__ = ["Budget", "Experiment", "ExperimentSpec", "Workspace"]


@dataclass(frozen=True)
class Budget:
    """How much a search may spend: a wall-clock limit in seconds and/or a number of trials."""

    time_limit_s: float | None = None
    n_trials: int | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise InvalidInputError(f"The time limit must be more than 0 seconds, not {self.time_limit_s}.")
        if self.n_trials is not None and self.n_trials <= 0:
            raise InvalidInputError(f"The number of trials must be at least 1, not {self.n_trials}.")


@dataclass(frozen=True)
class ExperimentSpec:
    """What to learn: a dataset, its target, the problem type and metric, a split and a budget.

    `target`, `problem_type` and `metric` left as None are taken from the dataset's manifest entry or
    inferred from the target column.
    """

    dataset: str
    target: str | None = None
    problem_type: str | None = None
    metric: str | None = None
    split: SplitSpec = field(default_factory=SplitSpec)
    budget: Budget = field(default_factory=Budget)
    name: str | None = None


@dataclass(frozen=True)
class Experiment:
    """A stored experiment: everything later candidates are scored against."""

    id: int
    name: str
    dataset: str
    dataset_hash: str
    target: str
    problem_type: str
    metric: str
    split: SplitSpec
    budget: Budget
    split_hash: str
    split_artifact: str
    split_sizes: dict[str, int]
    split_strategy: str
    status: str
    created_at: float
    fingerprint: str | None = None
    search: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Experiment:
        spec = row["spec"]
        return cls(
            id=row["id"],
            name=row["name"],
            dataset=row["dataset"],
            dataset_hash=row["dataset_hash"],
            target=row["target"],
            problem_type=row["problem_type"],
            metric=row["metric"],
            split=SplitSpec(**spec["split"]),
            budget=Budget(**spec["budget"]),
            split_hash=row["split_hash"],
            split_artifact=row["split_artifact"],
            split_sizes=spec["split_sizes"],
            split_strategy=spec["split_strategy"],
            status=row["status"],
            created_at=row["created_at"],
            fingerprint=row.get("fingerprint"),
            search=spec.get("search"),
        )


class Workspace:
    """The datasets and experiments of one `WORKBENCH_HOME`.

    Every method that writes validates its input completely first: bad input raises a
    `WorkbenchError` and leaves the store unchanged.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.settings.home)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # datasets ----------------------------------------------------------------------------------

    def datasets(self) -> list[DatasetEntry]:
        """Bundled datasets, then registered ones, each sorted by name."""
        registered = [row["entry"] for row in self.store.list_datasets()]
        return [*bundled_datasets(self.settings), *registered]

    def dataset(self, name: str) -> DatasetEntry:
        for entry in bundled_datasets(self.settings):
            if entry.name == name:
                return entry
        row = self.store.get_dataset(name)
        if row is None:
            known = ", ".join(e.name for e in self.datasets())
            raise NotFoundError(f"There is no dataset {name!r}; known datasets: {known}.")
        registered: DatasetEntry = row["entry"]
        return registered

    def load(self, name: str) -> pd.DataFrame:
        return load_entry(self.dataset(name), self.settings)

    def add_dataset(
        self,
        name: str,
        path: str | None = None,
        *,
        url: str | None = None,
        query: str | None = None,
        target: str | None = None,
    ) -> DatasetEntry:
        """Register a local file (`path`) or a SQL query (`url` + `query`) under `name`."""
        check_name(name, "dataset name")
        if any(e.name == name for e in bundled_datasets(self.settings)):
            raise InvalidInputError(f"{name!r} is the name of a bundled dataset; choose another name.")
        if self.store.get_dataset(name) is not None:
            raise InvalidInputError(f"A dataset named {name!r} is already registered; choose another name.")
        if (path is None) == (url is None):
            raise InvalidInputError("Give either a file path or a database URL with a query, not both or neither.")
        if url is not None:
            if not query:
                raise InvalidInputError("A database URL needs a query; pass --query 'SELECT ...'.")
            entry = sql_entry(name, url, query, self.settings, target=target)
        else:
            assert path is not None
            entry = file_entry(name, path, self.settings, target=target)
        frame = load_entry(entry, self.settings)
        if target is not None:
            check_target(frame, target)
            resolve_problem(frame[target], None, None)
        self.store.add_dataset(entry, content_hash(frame), int(frame.shape[0]), int(frame.shape[1]))
        return entry

    def profile(
        self,
        name: str,
        target: str | None = None,
        problem_type: str | None = None,
        metric: str | None = None,
    ) -> Profile:
        """Profile a dataset; the target defaults to the one its entry names."""
        entry = self.dataset(name)
        frame = load_entry(entry, self.settings)
        chosen_target = target or entry.target
        chosen_metric = metric or (entry.metric if chosen_target == entry.target else None)
        return profile_frame(frame, name, content_hash(frame), chosen_target, problem_type, chosen_metric)

    # experiments -------------------------------------------------------------------------------

    def create_experiment(
        self, spec: ExperimentSpec, fingerprint: str | None = None, search: dict[str, Any] | None = None
    ) -> Experiment:
        """Validate `spec`, split the rows, store the split as an artifact and record the experiment."""
        entry = self.dataset(spec.dataset)
        frame = load_entry(entry, self.settings)
        target = spec.target or entry.target
        check_target(frame, target)
        assert target is not None
        metric = spec.metric or (entry.metric if target == entry.target and spec.problem_type is None else None)
        problem_type, metric = resolve_problem(frame[target], spec.problem_type, metric)
        name = spec.name or f"{spec.dataset}-{target}"
        dataset_hash = content_hash(frame)
        split = make_split(frame, target, problem_type, spec.split, dataset_hash)
        key = f"splits/{split.hash}.npz"
        self.store.put_artifact(key, split.to_bytes())
        record = {
            "name": name,
            "dataset": spec.dataset,
            "dataset_hash": dataset_hash,
            "target": target,
            "problem_type": problem_type,
            "metric": metric,
            "spec": {
                "split": spec.split.to_dict(),
                "budget": asdict(spec.budget),
                "split_sizes": split.sizes(),
                "split_strategy": split.strategy,
                "search": search,
            },
            "split_hash": split.hash,
            "split_artifact": key,
            "fingerprint": fingerprint,
        }
        return self.experiment(self.store.add_experiment(record))

    def experiment(self, experiment_id: int | str) -> Experiment:
        try:
            number = int(experiment_id)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{experiment_id!r} is not an experiment id; ids are numbers.") from None
        row = self.store.get_experiment(number)
        if row is None:
            raise NotFoundError(f"There is no experiment {number}; run 'workbench experiments list' to see the ids.")
        return Experiment.from_row(row)

    def find_experiment(self, fingerprint: str, statuses: tuple[str, ...]) -> Experiment | None:
        row = self.store.find_experiment(fingerprint, statuses)
        return Experiment.from_row(row) if row else None

    def experiments(self) -> list[Experiment]:
        return [Experiment.from_row(r) for r in self.store.list_experiments()]

    def split(self, experiment: Experiment) -> Split:
        """The experiment's stored split; its rows are checked against the recorded hash."""
        data = self.store.read_artifact(experiment.split_artifact)
        split = Split.from_bytes(data, experiment.dataset_hash, experiment.split)
        if split.hash != experiment.split_hash:
            raise StoreError(f"The stored split of experiment {experiment.id} does not match its hash.")
        return split

    def experiment_frame(self, experiment: Experiment) -> pd.DataFrame:
        """The experiment's dataset, refused if its content changed since the experiment was created."""
        frame = self.load(experiment.dataset)
        if content_hash(frame) != experiment.dataset_hash:
            raise StoreError(
                f"Dataset {experiment.dataset!r} changed since experiment {experiment.id} was created; "
                "its scores would not be comparable. Register the new data under a new name."
            )
        return frame
