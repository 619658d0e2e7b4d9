"""The whole flow as parameters: what the widgets' choices are, a notebook that repeats them headless, and
the pieces that notebook calls (following a search in plain text, choosing the model to export)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from workbench.api._workspace import WorkspaceLike
from workbench.errors import InvalidInputError

# Headless progress: a line on every change, or after this long without one.
PROGRESS_EVERY_S = 15.0

__all__ = [
    "FlowParameters",
    "choose_model",
    "follow_search",
    "metrics_for",
    "model_families",
    "write_flow_notebook",
    "write_scoring_notebook",
    "write_search_notebook",
]


def metrics_for(problem_type: str) -> list[str]:
    """The metrics that apply to a problem type, the default first."""
    from workbench.metrics import DEFAULT_METRIC, METRICS

    if problem_type not in DEFAULT_METRIC:
        raise InvalidInputError(f"Unknown problem type {problem_type!r}; use binary, multiclass or regression.")
    fitting = sorted(name for name, m in METRICS.items() if problem_type in m.problem_types)
    default = DEFAULT_METRIC[problem_type]
    return [default, *(m for m in fitting if m != default)]


def model_families() -> list[str]:
    """The Optuna engine's model families."""
    from workbench.search.families import FAMILIES

    return list(FAMILIES)


@dataclass(frozen=True)
class FlowParameters:
    """Every choice of the flow, as plain values: a notebook's `parameters` cell holds exactly these.

    model: what to export: "winner" (rank 1 of the leaderboard), a model's name on the leaderboard, or
    "ensemble" (the `members` given, by candidate name -> weight, saved as an ensemble first).
    registry_name: the name to register under (default: the dataset's); alias: promoted after the
    contract check when given. finalize: how the registered model is refitted after selection ("all" rows,
    "train+valid" or "none").
    """

    dataset: str
    target: str | None = None
    problem_type: str | None = None
    metric: str | None = None
    split_seed: int = 0
    engines: tuple[str, ...] = ("autogluon", "optuna")
    families: tuple[str, ...] | None = None
    n_trials: int | None = None
    time_limit_s: float | None = None
    cluster: str = "auto"
    seed: int = 0
    model: str = "winner"
    members: Mapping[str, float] = field(default_factory=dict)
    registry_name: str | None = None
    alias: str | None = None
    finalize: str = "all"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["engines"] = list(self.engines)
        data["families"] = list(self.families) if self.families is not None else None
        data["members"] = dict(self.members)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowParameters:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"Unknown flow parameters {unknown}; use some of: {', '.join(sorted(known))}.")
        values = dict(data)
        values["engines"] = tuple(values.get("engines") or ("autogluon", "optuna"))
        if values.get("families") is not None:
            values["families"] = tuple(values["families"])
        values["members"] = dict(values.get("members") or {})
        return cls(**values)


def follow_search(
    experiment_id: int,
    *,
    out: IO[str] | None = None,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
    workspace: WorkspaceLike = None,
) -> str:
    """Follow the experiment's search until it ends, writing one plain-text progress line per change (what a
    notebook run headless shows instead of a widget); returns the experiment's final status."""
    from workbench.api._search import attach

    stream = out or sys.stdout
    handle = attach(experiment_id, workspace=workspace)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last, last_time = "", 0.0
    while True:
        progress = handle.progress()
        target = f"/{progress.target}" if progress.target is not None else ""
        bar = ""
        if progress.target:
            filled = round(20 * min(progress.done, progress.target) / progress.target)
            bar = "[" + "#" * filled + "." * (20 - filled) + "] "
        best = f", best {progress.best_name} {progress.best_score:.4g}" if progress.best_score is not None else ""
        left = f", {progress.time_left_s:.0f} s left" if progress.time_left_s is not None and progress.active else ""
        line = (
            f"{bar}{progress.done}{target} trials, {progress.running} running, {progress.failed} failed, "
            f"{progress.pruned} pruned{best}"
        )
        # A line when something changed, and at least every PROGRESS_EVERY_S while nothing does.
        if line != last or time.monotonic() - last_time >= PROGRESS_EVERY_S:
            stream.write(line + left + "\n")
            stream.flush()
            last, last_time = line, time.monotonic()
        if not progress.active:
            stream.write(f"search {progress.status}\n")
            stream.flush()
            return progress.status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"the search of experiment {experiment_id} is still running after {timeout_s} s")
        time.sleep(poll_s)


def choose_model(
    experiment_id: int,
    model: str = "winner",
    members: Mapping[str, float] | None = None,
    *,
    workspace: WorkspaceLike = None,
) -> str:
    """The leaderboard key to export for a flow's `model` choice: "winner" (rank 1), a model's name, or
    "ensemble" (the `members`, candidate name -> weight, saved as an ensemble now)."""
    from workbench.api._compare import leaderboard, save_ensemble

    board = leaderboard(experiment_id, workspace=workspace)
    if model == "winner":
        if board.best is None:
            raise InvalidInputError(f"Experiment {experiment_id} has no scored model yet; run a search first.")
        return board.best.key
    by_name = {r.name: r for r in board.rows}
    if model == "ensemble":
        if not members:
            raise InvalidInputError('model="ensemble" needs its members: {candidate name: weight, ...}.')
        missing = [n for n in members if n not in by_name or by_name[n].kind != "candidate"]
        if missing:
            raise InvalidInputError(f"Experiment {experiment_id} has no candidates named {missing}.")
        weights: dict[str, float] = {by_name[n].key: float(w) for n, w in members.items()}
        return f"e{save_ensemble(experiment_id, weights, workspace=workspace).id}"
    if model in by_name:
        return by_name[model].key
    if model in {r.key for r in board.rows}:
        return model
    raise InvalidInputError(f"Experiment {experiment_id} has no model {model!r}; use 'winner', 'ensemble' or a name.")


_TITLE = "# AutoML flow: {dataset}\n\nWritten by the workbench from these choices; run it with papermill (`-p NAME VALUE`) to repeat the search and the export without any widget."

_FLOW = """import workbench.api as wb

experiment = wb.create_experiment(
    dataset,
    target=target,
    problem_type=problem_type,
    metric=metric,
    split=wb.SplitSpec(seed=split_seed),
    budget=wb.Budget(time_limit_s, n_trials),
)
config = wb.search_config(engines=engines, families=families, cluster=cluster, seed=seed)
search = wb.start_search(experiment.id, config)
print(f"experiment {experiment.id}: {experiment.name}, {experiment.metric}")
status = wb.follow_search(experiment.id)"""

_EXPORT = """for row in wb.leaderboard(experiment.id).rows[:5]:
    print(row.rank, row.key, row.name, row.valid_score, row.test_score)
key = wb.choose_model(experiment.id, model, members)
version = wb.register_model(key, registry_name or dataset, finalize=finalize)
print(f"registered {version.ref} from {key}")
wb.record("experiment", experiment.id)  # kept in the job when run as one (`workbench run`)
wb.record("model", version.ref)
if alias:
    promotion = wb.promote(version.name, version.version, alias)
    print(f"{version.name}@{alias} -> v{version.version}; contract {promotion.contract.to_dict() if promotion.contract else 'skipped'}")"""


def write_flow_notebook(parameters: FlowParameters, path: str | Path) -> Path:
    """A notebook whose `parameters` cell holds `parameters` and whose code repeats the flow headless with
    `workbench.api` (search, follow, choose and register the model, promote); written atomically."""
    target = _notebook_target(path)
    values = parameters.to_dict()
    assignments = "\n".join(f"{name} = {_literal(value)}" for name, value in values.items())
    return _write_notebook(target, _TITLE.format(dataset=parameters.dataset), assignments, [_FLOW, _EXPORT])


_SCORING_TITLE = """# Batch scoring: {model}

Scores a CSV or Parquet file with a registered model, in partitions on a Dask cluster, and writes the
predictions (`prediction`, and `proba_<class>` for a classifier) in the input's row order. The answers
equal the served endpoint's for the same rows. Run it with `workbench run NOTEBOOK -p input_path FILE`."""

_SCORING_PARAMETERS = """model = {model!r}  # a registered model: NAME, NAME@VERSION or NAME@ALIAS
input_path = {input_path!r}  # the CSV or Parquet file to score
output_path = {output_path!r}  # where the predictions go (.csv or .parquet)
keep = {keep!r}  # input columns copied in front of the predictions, comma-separated
cluster = {cluster!r}  # auto, local:N, tcp://HOST:PORT or a scheduler file; "" for WORKBENCH_CLUSTER"""

_SCORING = """import workbench.api as wb

if not input_path:
    raise ValueError("Give the file to score: workbench run NOTEBOOK -p input_path FILE")
version = wb.show_model(model)
print(f"scoring {input_path} with {version.ref} ({version.metrics.get('metric')} {version.metrics.get('test_score')})")


def progress(done, total):
    print(f"partition {done}/{total}", flush=True)


result = wb.predict_file(
    version.ref,
    input_path,
    output_path,
    cluster=cluster or None,
    keep=[c.strip() for c in keep.split(",") if c.strip()],
    progress=progress,
)
print(f"{result.rows} rows in {result.partitions} partitions, {result.seconds:.1f} s ({result.rows_per_s:,.0f} rows/s)")
wb.record("model", result.model)
wb.record("rows", result.rows)
wb.record("output", str(result.output))
wb.record("rows_per_s", round(result.rows_per_s))"""

_SCORING_PREVIEW = """import pandas as pd

written = pd.read_parquet(output_path) if output_path.endswith((".parquet", ".pq")) else pd.read_csv(output_path)
written.head(10)"""


def write_scoring_notebook(
    path: str | Path,
    model: str,
    *,
    input_path: str = "",
    output_path: str = "predictions.csv",
    keep: str = "",
    cluster: str = "",
) -> Path:
    """A batch-scoring notebook for `model` (its `parameters` cell: model, input_path, output_path, keep,
    cluster), which `workbench run` executes; written atomically. `notebooks/03_batch_scoring.ipynb` is one."""
    target = _notebook_target(path)
    parameters = _SCORING_PARAMETERS.format(
        model=model, input_path=input_path, output_path=output_path, keep=keep, cluster=cluster
    )
    return _write_notebook(target, _SCORING_TITLE.format(model=model), parameters, [_SCORING, _SCORING_PREVIEW])


_SEARCH_TITLE = """# AutoML search: {dataset}

Launch a search on the Search tab (AutoGluon and Optuna trials on a Dask cluster), watch it, compare the
models, edit an ensemble, and export the winner to a served endpoint: one tab per step. The search runs as
a background job: it keeps going while other cells run, and the Workbench panel in JupyterLab's sidebar
shows its progress and can stop it. Run headless (papermill, `workbench run`, or *Run notebook as batch
job*), the last cell runs the same flow without clicks."""

_SEARCH_PARAMETERS = """dataset = {dataset!r}
target = {target!r}  # None: the dataset's own target
engines = {engines!r}  # "optuna", "autogluon"
families = {families!r}  # the Optuna engine's model families
n_trials = {n_trials!r}
time_limit_s = {time_limit_s!r}
cluster = {cluster!r}  # auto, local:N, tcp://HOST:PORT or a scheduler file"""

_SEARCH_APP = """import workbench.widgets as wbw

app = wbw.Workbench(
    dataset,
    target=target,
    engines=tuple(engines),
    families=tuple(families),
    n_trials=n_trials,
    time_limit_s=time_limit_s,
    cluster=cluster,
)
app"""

_SEARCH_HEADLESS = """app.run_headless()  # in a live notebook this does nothing: click Launch above"""


def write_search_notebook(
    dataset: str,
    path: str | Path,
    *,
    target: str | None = None,
    engines: Sequence[str] = ("optuna", "autogluon"),
    families: Sequence[str] = ("lightgbm", "linear", "forest"),
    n_trials: int = 6,
    time_limit_s: float = 120.0,
    cluster: str = "local:2",
    workspace: WorkspaceLike = None,
) -> Path:
    """A notebook with the widget flow for `dataset` (the quickstart's, its `parameters` cell filled in).
    `path` is the notebook, or a folder: then the first free name of `search-DATASET.ipynb`,
    `search-DATASET-2.ipynb`, ... in it. Written atomically; never overwrites a file."""
    from workbench.api._datasets import show_dataset

    dataset = show_dataset(dataset, workspace=workspace).name  # an unknown dataset is refused here
    folder = Path(path).expanduser()
    if folder.is_dir():
        target_path = next(
            candidate
            for n in range(1, 10_000)
            if not (
                candidate := folder / (f"search-{dataset}.ipynb" if n == 1 else f"search-{dataset}-{n}.ipynb")
            ).exists()
        )
    else:
        target_path = _notebook_target(folder)
        if target_path.exists():
            raise InvalidInputError(f"{target_path.name!r} already exists; give another name.")
    parameters = _SEARCH_PARAMETERS.format(
        dataset=dataset,
        target=target,
        engines=list(engines),
        families=list(families),
        n_trials=int(n_trials),
        time_limit_s=float(time_limit_s),
        cluster=cluster,
    )
    return _write_notebook(
        target_path, _SEARCH_TITLE.format(dataset=dataset), parameters, [_SEARCH_APP, _SEARCH_HEADLESS]
    )


def _write_notebook(target: Path, title: str, parameters: str, code: Sequence[str]) -> Path:
    """A notebook of a title, a `parameters` cell and code cells, written atomically to `target`."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    notebook = new_notebook(
        cells=[
            new_markdown_cell(title),
            new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            *(new_code_cell(source) for source in code),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    partial = target.with_name(f".{target.name}.partial")
    nbformat.write(notebook, str(partial))
    partial.replace(target)
    return target


def _notebook_target(path: str | Path) -> Path:
    target = Path(path).expanduser()
    if target.suffix != ".ipynb":
        raise InvalidInputError(f"{target.name!r} is not a notebook file name; end it with .ipynb.")
    if not target.parent.is_dir():
        raise InvalidInputError(f"The folder {target.parent} does not exist; create it first.")
    return target


def _literal(value: Any) -> str:
    """A Python literal for a JSON value (papermill's parameter injection writes the same kind)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)
