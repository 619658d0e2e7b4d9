"""The workspace as users see it: the dataset catalog and experiments, over the store."""

from __future__ import annotations

import io
import shutil
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from workbench._json import to_jsonable
from workbench.config import Settings
from workbench.data import (
    WORKSPACE_DATASETS,
    DatasetEntry,
    Profile,
    Split,
    SplitSpec,
    bundled_datasets,
    check_name,
    check_target,
    choose_cv_folds,
    content_hash,
    detect_format,
    file_entry,
    load_entry,
    make_split,
    profile_frame,
    resolve_problem,
    source_fingerprint,
    sql_entry,
    with_shape,
)
from workbench.errors import DataFormatError, FileTooLargeError, InvalidInputError, NotFoundError, StoreError
from workbench.store import _datasets as datasets_table
from workbench.store import _experiments as experiments_table
from workbench.store._artifacts import atomic_write
from workbench.store._rows import ExperimentTargets, TrialData, read_targets, rows_from_frame, targets_key, trial_data
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

    @property
    def empty(self) -> bool:
        return self.time_limit_s is None and self.n_trials is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """A stored experiment: everything later candidates are scored against.

    search: the search configuration last run on it (None until one ran).
    """

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

    @property
    def cv_folds(self) -> int:
        """The folds its candidates are scored over: 1 (the valid rows) or k (cross-validated)."""
        return self.split.cv_folds or 1

    def selection_note(self) -> str:
        """Which rows its valid scores are measured on, in a sentence."""
        sizes = self.split_sizes
        if self.cv_folds > 1:
            rows = sizes.get("train", 0) + sizes.get("valid", 0)
            return (
                f"Valid scores: {self.cv_folds}-fold cross-validated over the {rows} train and valid rows "
                "(out of fold; fold 1 is the valid rows)."
            )
        return f"Valid scores: the {sizes.get('valid', 0)} valid rows."

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["cv_folds"] = self.cv_folds
        data["selection"] = self.selection_note()
        return data

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
    `WorkbenchError` and leaves the store unchanged. Safe to share between threads: each thread talks to
    the catalog through its own connection.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._rows: dict[int, tuple[str | None, TrialData]] = {}  # experiment id -> (source fingerprint, rows)

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
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
        return [*bundled_datasets(self.settings), *datasets_table.list_datasets(self.store)]

    def dataset(self, name: str) -> DatasetEntry:
        for entry in bundled_datasets(self.settings):
            if entry.name == name:
                return entry
        registered = datasets_table.get_dataset(self.store, name)
        if registered is None:
            known = ", ".join(e.name for e in self.datasets())
            raise NotFoundError(f"There is no dataset {name!r}; known datasets: {known}.")
        return registered

    def load(self, name: str) -> pd.DataFrame:
        return load_entry(self.dataset(name), self.settings)

    def _check_new_name(self, name: str) -> None:
        check_name(name, "dataset name")
        if any(e.name == name for e in bundled_datasets(self.settings)):
            raise InvalidInputError(f"{name!r} is the name of a bundled dataset; choose another name.")
        if datasets_table.get_dataset(self.store, name) is not None:
            raise InvalidInputError(f"A dataset named {name!r} is already registered; choose another name.")

    def _register(self, entry: DatasetEntry, target: str | None) -> DatasetEntry:
        """Read the entry's rows once to check them, then record it with its shape and problem type."""
        frame = load_entry(entry, self.settings)
        if target is not None:
            check_target(frame, target)
            problem_type, _ = resolve_problem(frame[target], None, None)
            entry = replace(entry, task=problem_type)
        entry = with_shape(entry, frame)
        datasets_table.add_dataset(self.store, entry, content_hash(frame))
        return entry

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
        self._check_new_name(name)
        if (path is None) == (url is None):
            raise InvalidInputError("Give either a file path or a database URL with a query, not both or neither.")
        if url is not None:
            if not query:
                raise InvalidInputError("A database URL needs a query; pass --query 'SELECT ...'.")
            entry = sql_entry(name, url, query, self.settings, target=target)
        else:
            assert path is not None
            entry = file_entry(name, path, self.settings, target=target)
        return self._register(entry, target)

    def _kept_folder(self, name: str) -> Path:
        return self.settings.home / WORKSPACE_DATASETS / name

    def _keep(self, name: str, filename: str, data: bytes, target: str | None) -> DatasetEntry:
        """Write `data` under the workspace and register it; on any refusal the file is removed again."""
        folder = self._kept_folder(name)
        if folder.exists():
            shutil.rmtree(folder)  # left by a registration that died before its row was written
        path, _ = atomic_write(self.settings.home, f"{WORKSPACE_DATASETS}/{name}/{filename}", data)
        entry = DatasetEntry(name=name, kind="workspace", location=str(path), format=detect_format(path), target=target)
        try:
            return self._register(entry, target)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def add_dataset_bytes(self, name: str, filename: str, data: bytes, *, target: str | None = None) -> DatasetEntry:
        """Register an uploaded file (its bytes and its file name, which gives the format), kept under the
        workspace."""
        self._check_new_name(name)
        base = Path(str(filename)).name
        if base != str(filename) or not base:
            raise InvalidInputError(f"{filename!r} is not a file name; give the name without folders.")
        check_name(base, "file name", max_length=128)
        detect_format(Path(base))
        if len(data) > self.settings.max_file_bytes:
            raise FileTooLargeError(
                f"{base!r} is {len(data):,} bytes, over the {self.settings.max_file_bytes:,}-byte cap; "
                "upload a smaller sample or raise WORKBENCH_MAX_FILE_BYTES."
            )
        return self._keep(name, base, data, target)

    def add_dataset_frame(self, name: str, frame: pd.DataFrame, *, target: str | None = None) -> DatasetEntry:
        """Register a pandas DataFrame, kept under the workspace as Parquet."""
        self._check_new_name(name)
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"Expected a pandas DataFrame, not {type(frame).__name__}.")
        buffer = io.BytesIO()
        try:
            frame.rename(columns=str).to_parquet(buffer, index=False)
        except (ValueError, TypeError, ImportError) as exc:
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise DataFormatError(
                f"The DataFrame cannot be stored as Parquet ({reason}); give each column one type."
            ) from None
        return self._keep(name, "data.parquet", buffer.getvalue(), target)

    def delete_dataset(self, name: str) -> DatasetEntry:
        """Unregister a dataset (and remove the file the workspace kept for it). Refused for bundled
        datasets and while experiments use it."""
        entry = self.dataset(name)
        if entry.kind == "bundled":
            raise InvalidInputError(f"{name!r} is a bundled dataset; only registered datasets can be deleted.")
        using = experiments_table.experiments_using(self.store, name)
        if using:
            listed = ", ".join(str(i) for i in using)
            raise InvalidInputError(
                f"Experiments {listed} use dataset {name!r}; delete them first (their scores depend on its rows)."
            )
        datasets_table.delete_dataset(self.store, name)
        if entry.kind == "workspace":
            shutil.rmtree(self._kept_folder(name), ignore_errors=True)
        return entry

    def profile(
        self,
        name: str,
        target: str | None = None,
        problem_type: str | None = None,
        metric: str | None = None,
    ) -> Profile:
        """Profile a dataset; the target defaults to the one its entry names. A profile is kept with its
        source's fingerprint: asked again while the file is unchanged, it is not read again."""
        entry = self.dataset(name)
        chosen_target = target or entry.target
        chosen_metric = metric or (entry.metric if chosen_target == entry.target else None)
        options = {"target": chosen_target, "problem_type": problem_type, "metric": chosen_metric}
        fingerprint = source_fingerprint(entry, self.settings)
        if fingerprint is not None:
            cached = datasets_table.cached_profile(self.store, name, options, fingerprint)
            if cached is not None:
                return cached
        frame = load_entry(entry, self.settings)
        profile = profile_frame(frame, name, content_hash(frame), chosen_target, problem_type, chosen_metric)
        if fingerprint is not None:
            datasets_table.save_profile(self.store, name, options, fingerprint, profile)
        return profile

    # experiments -------------------------------------------------------------------------------

    def create_experiment(self, spec: ExperimentSpec, fingerprint: str | None = None) -> Experiment:
        """Validate `spec`, split the rows, store the split and the targets as artifacts and record the
        experiment."""
        entry = self.dataset(spec.dataset)
        frame = load_entry(entry, self.settings)
        target = spec.target or entry.target
        check_target(frame, target)
        assert target is not None
        metric = spec.metric or (entry.metric if target == entry.target and spec.problem_type is None else None)
        problem_type, metric = resolve_problem(frame[target], spec.problem_type, metric)
        name = spec.name or f"{spec.dataset}-{target}"
        if spec.name is not None and (not spec.name.strip() or len(spec.name) > 200):
            raise InvalidInputError("An experiment name must have 1-200 characters.")
        dataset_hash = content_hash(frame)
        split_spec = spec.split
        if split_spec.cv_folds is None:
            plain = make_split(frame, target, problem_type, replace(split_spec, cv_folds=1), dataset_hash)
            folds = choose_cv_folds(
                len(plain.train), len(plain.valid), len(frame.columns) - 1, spec.budget.time_limit_s, plain.strategy
            )
            split_spec = replace(split_spec, cv_folds=folds)
        split = make_split(frame, target, problem_type, split_spec, dataset_hash)
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
                "split": split_spec.to_dict(),
                "budget": asdict(spec.budget),
                "split_sizes": split.sizes(),
                "split_strategy": split.strategy,
                "search": None,
            },
            "split_hash": split.hash,
            "split_artifact": key,
            "fingerprint": fingerprint,
        }
        experiment = self.experiment(experiments_table.add_experiment(self.store, record))
        rows = rows_from_frame(experiment, frame, split)
        self.store.put_artifact(targets_key(split.hash), rows.targets().to_bytes())
        self._rows = {experiment.id: (source_fingerprint(entry, self.settings), rows)}
        return experiment

    def experiment(self, experiment_id: int | str) -> Experiment:
        try:
            number = int(experiment_id)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{experiment_id!r} is not an experiment id; ids are numbers.") from None
        row = experiments_table.get_experiment(self.store, number)
        if row is None:
            raise NotFoundError(f"There is no experiment {number}; run 'workbench experiments list' to see the ids.")
        return Experiment.from_row(row)

    def find_experiment(self, fingerprint: str, statuses: tuple[str, ...]) -> Experiment | None:
        row = experiments_table.find_experiment(self.store, fingerprint, statuses)
        return Experiment.from_row(row) if row else None

    def experiments(self) -> list[Experiment]:
        return [Experiment.from_row(r) for r in experiments_table.list_experiments(self.store)]

    def delete_experiment(self, experiment_id: int | str) -> Experiment:
        """Delete an experiment with its trials, candidates, ensembles, events, jobs and artifacts.

        Registered model versions made from it stay: a bundle holds its own copy of the model.
        """
        experiment = self.experiment(experiment_id)
        from workbench.store import _jobs as jobs_table

        if jobs_table.list_jobs(self.store, experiment_id=experiment.id, statuses=jobs_table.ACTIVE):
            raise InvalidInputError(
                f"Experiment {experiment.id} has a search running; stop it first (workbench jobs cancel)."
            )
        owned = [a.key for a in self.store.list_artifacts(f"experiments/{experiment.id}/")]
        if not experiments_table.split_in_use(self.store, experiment.split_artifact, experiment.id):
            owned += [experiment.split_artifact, targets_key(experiment.split_hash)]
        experiments_table.delete_experiment(self.store, experiment.id)
        self.store.delete_artifacts(owned)
        self.store.remove_artifact_folder(f"experiments/{experiment.id}")
        self._rows.pop(experiment.id, None)
        return experiment

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

    def rows(self, experiment: Experiment) -> TrialData:
        """The experiment's rows (`TrialData`); kept in memory while the dataset's source is unchanged."""
        fingerprint = source_fingerprint(self.dataset(experiment.dataset), self.settings)
        cached = self._rows.get(experiment.id)
        if cached is not None and fingerprint is not None and cached[0] == fingerprint:
            return cached[1]
        rows = trial_data(self, experiment)
        self._rows = {experiment.id: (fingerprint, rows)}  # one experiment at a time: rows can be large
        return rows

    def targets(self, experiment: Experiment) -> ExperimentTargets:
        """The experiment's valid and test targets and classes, read from a small artifact."""
        cached = self._rows.get(experiment.id)
        if cached is not None:
            return cached[1].targets()
        return read_targets(self, experiment)
