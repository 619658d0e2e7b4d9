"""Rich renderings shared by the commands and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from workbench.cli._table import Column, print_table
from workbench.cli._util import styled

if TYPE_CHECKING:
    from workbench.api import DatasetEntry, Experiment, Leaderboard, Profile

__all__ = ["print_datasets", "print_leaderboard", "render_experiment", "render_profile"]


def render_profile(console: Console, profile: Profile) -> None:
    console.print(
        styled(
            (profile.dataset, "bold"),
            f": {profile.rows:,} rows x {profile.columns} columns, "
            f"{profile.memory_bytes / 1e6:.1f} MB in memory, content hash {profile.content_hash[:12]}",
        ),
        highlight=False,
    )
    if profile.target:
        console.print(
            styled("target ", (profile.target, "bold"), f" -> {profile.problem_type}, metric {profile.metric}"),
            highlight=False,
        )
        classes = profile.target_distribution.get("classes")
        if classes:
            shares = ", ".join(f"{k}: {v:.1%}" for k, v in list(classes.items())[:10])
            console.print(f"classes: {shares}", highlight=False)
        else:
            q = profile.target_distribution.get("quantiles", {})
            console.print(
                f"mean {profile.target_distribution.get('mean', 0):.4g}, "
                f"median {q.get('0.5', 0):.4g}, range {q.get('0', 0):.4g} .. {q.get('1', 0):.4g}",
                highlight=False,
            )
    columns = [
        Column("column", fold_to=_FOLDED_WIDTH),
        *(Column(name) for name in ("dtype", "kind")),
        *(Column(name, right=True) for name in ("missing", "unique")),
        Column("flags", fold_to=12),
        Column("summary", fold_to=32),
    ]
    rows = []
    for col in profile.column_profiles:
        flags = ", ".join(
            f
            for f, on in (
                ("target", col.name == profile.target),
                ("constant", col.constant),
                ("id-like", col.id_like),
                ("leak?", col.name in profile.leakage),
            )
            if on
        )
        if col.mean is not None:
            summary = f"mean {col.mean:.4g}, range {col.min:.4g} .. {col.max:.4g}"
        else:
            summary = ", ".join(list(col.top_values)[:3])
        rows.append((col.name, col.dtype, col.kind, f"{col.missing_share:.1%}", str(col.n_unique), flags, summary))
    # The kind says what the dtype does for a model; the summary's range or values say more than a count.
    print_table(console, "Columns", columns, rows, optional=("dtype", "unique"))
    for warning in profile.warnings:
        console.print(styled(("warning:", "yellow"), f" {warning}"), highlight=False)


def render_experiment(console: Console, experiment: Experiment) -> None:
    table = Table(title=f"Experiment {experiment.id}: {experiment.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    sizes = experiment.split_sizes
    created = datetime.fromtimestamp(experiment.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = [
        ("dataset", f"{experiment.dataset} (hash {experiment.dataset_hash[:12]})"),
        ("target", experiment.target),
        ("problem type", experiment.problem_type),
        ("metric", experiment.metric),
        (
            "split",
            f"{experiment.split_strategy}, seed {experiment.split.seed}: "
            f"train {sizes['train']}, valid {sizes['valid']}, test {sizes['test']}",
        ),
        ("selection", experiment.selection_note()),
        ("split hash", experiment.split_hash),
        ("budget", _budget(experiment)),
        ("status", experiment.status),
        ("created", created),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def _budget(experiment: Experiment) -> str:
    parts = []
    if experiment.budget.time_limit_s is not None:
        parts.append(f"{experiment.budget.time_limit_s:g} s")
    if experiment.budget.n_trials is not None:
        parts.append(f"{experiment.budget.n_trials} trials")
    return ", ".join(parts) or "not set"


# Dropped in this order while the leaderboard is wider than the terminal: the engine is the start of a
# candidate's name, and size, fit time and latency matter less than the scores and the rows trained on.
_OPTIONAL_COLUMNS = ("engine", "size", "fit s", "row ms")
# The width the model's name and "trained on" may fold to before an optional column is dropped instead.
_FOLDED_WIDTH = 24


def print_leaderboard(console: Console, board: Leaderboard, limit: int = 10) -> None:
    """The leaderboard as a table that fits the terminal: numbers never wrap, and the optional columns go
    (`_OPTIONAL_COLUMNS`) before the model's name or "trained on" would fold below `_FOLDED_WIDTH`."""
    columns = [
        Column("#", right=True),
        Column("key"),
        Column("model", fold_to=_FOLDED_WIDTH),
        Column("engine"),
        *(Column(name, right=True) for name in ("valid", "test", "fit s", "row ms", "size")),
        Column("trained on", fold_to=_FOLDED_WIDTH),
    ]
    rows = [
        (
            str(r.rank),
            r.key,
            f"{r.name} ({r.calibration})" if r.calibration else r.name,
            r.engine,
            _num(r.valid_score),
            _num(r.test_score),
            _num(r.fit_time_s, ".1f"),
            _num(r.predict_row_ms, ".2f"),
            f"{(r.size_bytes or 0) / 1e6:.1f} MB",
            r.trained_on,
        )
        for r in board.rows[: limit or None]
    ]
    title = f"Leaderboard of experiment {board.experiment_id} ({board.metric}, best first)"
    print_table(console, title, columns, rows, _OPTIONAL_COLUMNS, caption=board.selection or None)


# Dropped in this order while the datasets' table is wider than the terminal: a description folded into a
# narrow column is many lines per dataset, and what kind of source and how many columns matter least.
_OPTIONAL_DATASET_COLUMNS = ("description", "kind", "columns")


def print_datasets(console: Console, entries: Sequence[DatasetEntry]) -> None:
    """The datasets as a table that fits the terminal: one line per dataset but for its description (which
    takes the width left), and the optional columns go (`_OPTIONAL_DATASET_COLUMNS`) before a cell would
    wrap."""
    columns = [
        Column("name", fold_to=_FOLDED_WIDTH),
        *(Column(name) for name in ("kind", "task")),
        Column("target", fold_to=_FOLDED_WIDTH),
        Column("metric"),
        *(Column(name, right=True) for name in ("rows", "columns")),
        Column("description", fold_to=32),
    ]
    rows = [
        (
            e.name,
            e.kind,
            e.task or "",
            e.target or "",
            e.metric or "",
            str(e.rows or ""),
            str(e.columns or ""),
            e.description or "",
        )
        for e in entries
    ]
    print_table(console, "Datasets", columns, rows, _OPTIONAL_DATASET_COLUMNS)


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "" if value is None else format(value, fmt)
