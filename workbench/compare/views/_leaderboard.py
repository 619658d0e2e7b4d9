"""Leaderboard: every model (candidates of both engines and ensembles), best first, as table rows and bars."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.compare.views._text import display_names, fmt, label
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["LeaderboardInfo", "LeaderboardRow", "get_leaderboard_info", "plot_leaderboard"]


@dataclass(frozen=True)
class LeaderboardRow:
    key: str
    name: str
    engine: str
    kind: str
    model_type: str
    valid: float | None
    test: float | None
    fit_s: float | None
    row_ms: float | None
    batch_ms: float | None
    size_mb: float | None


@dataclass(frozen=True)
class LeaderboardInfo:
    """Rows best first by `sort_by` in the metric's direction; rows without that score last."""

    metric: str
    greater_is_better: bool
    sort_by: str
    rows: tuple[LeaderboardRow, ...]

    # table header -> LeaderboardRow attribute
    COLUMNS: ClassVar[dict[str, str]] = {
        "name": "name",
        "engine": "engine",
        "kind": "kind",
        "model_type": "model_type",
        "valid": "valid",
        "test": "test",
        "fit s": "fit_s",
        "row ms": "row_ms",
        "batch ms": "batch_ms",
        "size MB": "size_mb",
    }
    SCORE_COLUMNS: ClassVar[frozenset[str]] = frozenset({"valid", "test"})

    def sorted(self, column: str, descending: bool | None = None) -> LeaderboardInfo:
        """The same rows sorted by a table column; missing values always last.

        `descending=None` means best first for the score columns, ascending for the others.
        """
        if column not in self.COLUMNS:
            raise InvalidInputError(f"Unknown leaderboard column {column!r}; use one of: {', '.join(self.COLUMNS)}.")
        attr = self.COLUMNS[column]
        if descending is None:
            descending = self.greater_is_better if column in self.SCORE_COLUMNS else False
        rows = _sort(self.rows, attr, descending)
        return replace(self, rows=tuple(rows), sort_by=column)

    def table(self) -> dict[str, list[Any]]:
        """Column name -> values (raw: numbers stay numbers, missing values are None)."""
        return {column: [getattr(row, attr) for row in self.rows] for column, attr in self.COLUMNS.items()}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _sort(rows: tuple[LeaderboardRow, ...], attr: str, descending: bool) -> list[LeaderboardRow]:
    present = [r for r in rows if not _missing(getattr(r, attr))]
    missing = [r for r in rows if _missing(getattr(r, attr))]
    present.sort(key=lambda r: r.key)  # a stable tie-break, kept by the next sort
    present.sort(key=lambda r: getattr(r, attr), reverse=descending)
    missing.sort(key=lambda r: r.key)
    return present + missing


def get_leaderboard_info(data: ComparisonData, sort_by: str = "valid") -> LeaderboardInfo:
    rows = tuple(
        LeaderboardRow(
            key=m.key,
            name=m.name,
            engine=m.engine,
            kind=m.kind,
            model_type=m.model_type,
            valid=m.valid_score,
            test=m.test_score,
            fit_s=m.fit_time_s,
            row_ms=m.predict_row_ms,
            batch_ms=m.predict_batch_ms,
            size_mb=m.size_bytes / 1e6 if m.size_bytes is not None else None,
        )
        for m in data.models
    )
    info = LeaderboardInfo(metric=data.metric, greater_is_better=data.greater_is_better, sort_by=sort_by, rows=rows)
    return info.sorted(sort_by)


def _cell(value: Any) -> str:
    if isinstance(value, float) or value is None:
        return fmt(value)
    return label(value)


def plot_leaderboard(info: LeaderboardInfo, *, max_bars: int = 30) -> Any:
    """One figure: the full table on top, a horizontal bar chart of valid and test scores of the first
    `max_bars` rows below (best at the top)."""
    from workbench.compare.views._plotly import TEMPLATE, go, make_subplots

    direction = "higher is better" if info.greater_is_better else "lower is better"
    table = info.table()
    bars = info.rows[:max_bars]
    names = [label(n) for n in display_names([r.name for r in bars], [r.key for r in bars])]
    table_height = 60 + 26 * min(len(info.rows), 15)
    bar_height = 120 + 22 * max(len(bars), 1)
    fig = make_subplots(
        rows=2,
        cols=1,
        specs=[[{"type": "table"}], [{"type": "xy"}]],
        row_heights=[table_height, bar_height],
        vertical_spacing=0.06,
        subplot_titles=(
            label(f"{len(info.rows)} models, sorted by {info.sort_by}"),
            label(f"{info.metric} ({direction}), first {len(bars)}"),
        ),
    )
    fig.add_trace(
        go.Table(
            header={"values": [label(c) for c in table], "align": "left"},
            cells={"values": [[_cell(v) for v in values] for values in table.values()], "align": "left"},
        ),
        row=1,
        col=1,
    )
    for split, color in (("valid", "#636efa"), ("test", "#EF553B")):
        values = [getattr(r, split) if not _missing(getattr(r, split)) else None for r in bars]
        fig.add_trace(
            go.Bar(
                name=split,
                orientation="h",
                y=names,
                x=values,
                marker_color=color,
                hovertext=[
                    f"{n}<br>{split} {label(info.metric)} = {fmt(v)}" for n, v in zip(names, values, strict=True)
                ],
                hoverinfo="text",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(autorange="reversed", type="category", row=2, col=1)
    fig.update_xaxes(title_text=label(info.metric), row=2, col=1)
    fig.update_layout(
        template=TEMPLATE,
        title=label(f"Leaderboard: {info.metric}"),
        barmode="group",
        height=table_height + bar_height + 120,
        legend={"orientation": "h", "y": -0.05},
    )
    return fig
