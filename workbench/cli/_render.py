"""Rich renderings shared by the commands and the demo."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from workbench.cli._util import styled

if TYPE_CHECKING:
    from workbench.api import DatasetEntry, Experiment, Leaderboard, LeaderboardRow, Profile

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
    table = Table(title="Columns")
    for column in ("column", "dtype", "kind", "missing", "unique", "flags", "summary"):
        table.add_column(column, overflow="fold")
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
        table.add_row(col.name, col.dtype, col.kind, f"{col.missing_share:.1%}", str(col.n_unique), flags, summary)
    console.print(table)
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
    rows = board.rows[: limit or None]
    dropped = _dropped_to_fit(
        console, _OPTIONAL_COLUMNS, lambda dropped: _leaderboard_table(board, rows, dropped, _FOLDED_WIDTH)
    )
    console.print(_leaderboard_table(board, rows, dropped))


def _dropped_to_fit(console: Console, optional: Sequence[str], table: Callable[[set[str]], Table]) -> set[str]:
    """The `optional` columns (the first first) to leave out so that `table(dropped)`, at its folding
    columns' least widths, fits the console; all of them when nothing else does."""
    dropped: set[str] = set()
    unbounded = console.options.update_width(10**6)  # the width a table wants, not the width it is given
    for column in optional:
        if Measurement.get(console, unbounded, table(dropped)).maximum <= console.width:
            break
        dropped.add(column)
    return dropped


# Dropped in this order while the datasets' table is wider than the terminal: a description folded into a
# narrow column is many lines per dataset, and what kind of source and how many columns matter least.
_OPTIONAL_DATASET_COLUMNS = ("description", "kind", "columns")
# The width a description may fold to before it is dropped; a name or target folds only when nothing is left
# to drop.
_DESCRIPTION_WIDTH = 32


def print_datasets(console: Console, entries: Sequence[DatasetEntry]) -> None:
    """The datasets as a table that fits the terminal: one line per dataset but for its description (which
    takes the width left), kind, task, metric and numbers never wrapped, and the optional columns go
    (`_OPTIONAL_DATASET_COLUMNS`) before they would."""
    dropped = _dropped_to_fit(
        console, _OPTIONAL_DATASET_COLUMNS, lambda dropped: _datasets_table(entries, dropped, _DESCRIPTION_WIDTH)
    )
    console.print(_datasets_table(entries, dropped))


def _datasets_table(entries: Sequence[DatasetEntry], dropped: set[str], description_width: int | None = None) -> Table:
    table = Table(title="Datasets")
    cells: dict[str, list[str]] = {
        "name": [e.name for e in entries],
        "kind": [e.kind for e in entries],
        "task": [e.task or "" for e in entries],
        "target": [e.target or "" for e in entries],
        "metric": [e.metric or "" for e in entries],
        "rows": [str(e.rows or "") for e in entries],
        "columns": [str(e.columns or "") for e in entries],
        "description": [e.description or "" for e in entries],
    }
    shown = [name for name in cells if name not in dropped]
    for name in shown:
        if name == "description":
            table.add_column(name, overflow="fold", max_width=description_width)
        elif name in ("name", "target"):  # user-given names: fold rather than cut when nothing else can go
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, no_wrap=True, justify="right" if name in ("rows", "columns") else "left")
    for i in range(len(entries)):
        table.add_row(*(cells[name][i] for name in shown))
    return table


def _leaderboard_table(
    board: Leaderboard, rows: Sequence[LeaderboardRow], dropped: set[str], folded_width: int | None = None
) -> Table:
    table = Table(
        title=f"Leaderboard of experiment {board.experiment_id} ({board.metric}, best first)",
        caption=board.selection or None,
    )
    cells: dict[str, list[str]] = {
        "#": [str(r.rank) for r in rows],
        "key": [r.key for r in rows],
        "model": [f"{r.name} ({r.calibration})" if r.calibration else r.name for r in rows],
        "engine": [r.engine for r in rows],
        "valid": [_num(r.valid_score) for r in rows],
        "test": [_num(r.test_score) for r in rows],
        "fit s": [_num(r.fit_time_s, ".1f") for r in rows],
        "row ms": [_num(r.predict_row_ms, ".2f") for r in rows],
        "size": [f"{(r.size_bytes or 0) / 1e6:.1f} MB" for r in rows],
        "trained on": [r.trained_on for r in rows],
    }
    shown = [name for name in cells if name not in dropped]
    for name in shown:
        if name in ("model", "trained on"):
            table.add_column(name, overflow="fold", max_width=folded_width)
        else:
            table.add_column(name, no_wrap=True, justify="left" if name in ("key", "engine") else "right")
    for i in range(len(rows)):
        table.add_row(*(cells[name][i] for name in shown))
    return table


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "" if value is None else format(value, fmt)
