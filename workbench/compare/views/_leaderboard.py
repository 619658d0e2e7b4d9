"""Leaderboard: every model (candidates of both engines and ensembles), best first, as table rows and bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.compare._leaderboard import Leaderboard, is_missing
from workbench.compare.views._text import display_names, fmt, label

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["get_leaderboard_info", "plot_leaderboard"]


def get_leaderboard_info(data: ComparisonData, sort_by: str = "valid") -> Leaderboard:
    """The leaderboard of the compared models (the one ranking), sorted by a table column."""
    return Leaderboard.from_comparison(data).sorted(sort_by)


def _cell(value: Any) -> str:
    if isinstance(value, float) or value is None:
        return fmt(value)
    return label(value)


def plot_leaderboard(info: Leaderboard, *, max_bars: int = 30) -> Any:
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
        attr = f"{split}_score"
        values = [getattr(r, attr) if not is_missing(getattr(r, attr)) else None for r in bars]
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
