"""Optimization history per engine: the objective (values[0], the metric on the valid rows) by trial, with
the best so far over completed trials; pruned, failed and cancelled trials are marked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.compare.views._common import ViewInfo
from workbench.compare.views._text import fmt, label
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData
    from workbench.store._trials import TrialRow

__all__ = ["EngineHistory", "HistoryInfo", "get_history_info", "plot_history"]

# Trials still queued or running have no outcome yet and are left out.
_ACTIVE = frozenset({"QUEUED", "RUNNING"})


@dataclass(frozen=True)
class EngineHistory:
    """One engine's finished trials in order; `x` is the trial number or the 1-based finish position."""

    engine: str
    x: np.ndarray  # int
    numbers: np.ndarray  # int, the trial numbers
    states: tuple[str, ...]
    values: np.ndarray  # float, NaN when the trial reported no value
    best: np.ndarray  # float, best value of COMPLETE trials up to and including this one; NaN before the first
    errors: tuple[str | None, ...]

    @property
    def best_number(self) -> int | None:
        """The trial number of the best completed trial (the first one on ties)."""
        complete = np.array([s == "COMPLETE" for s in self.states], dtype=bool) & np.isfinite(self.values)
        if not complete.any():
            return None
        final = self.best[-1]
        return int(self.numbers[np.flatnonzero(complete & (self.values == final))[0]])


@dataclass(frozen=True)
class HistoryInfo(ViewInfo):
    metric: str
    greater_is_better: bool
    order: str  # number | finish
    engines: tuple[EngineHistory, ...]


def get_history_info(data: ComparisonData, order: Literal["number", "finish"] = "number") -> HistoryInfo:
    """From `data.trials`; `order="finish"` puts trials in the order they finished (x = 1, 2, ...)."""
    greater_is_better = data.greater_is_better
    if order not in ("number", "finish"):
        raise InvalidInputError(f"Unknown order {order!r}; use 'number' or 'finish'.")
    by_engine: dict[str, list[TrialRow]] = {}
    for t in data.trials:
        if t.state not in _ACTIVE:
            by_engine.setdefault(t.engine, []).append(t)
    engines = []
    for engine in sorted(by_engine):
        rows = by_engine[engine]
        if order == "number":
            rows.sort(key=lambda t: t.number)
        else:
            rows.sort(key=lambda t: (t.finished_at if t.finished_at is not None else np.inf, t.number))
        values = np.array([float(t.values[0]) if t.values and t.values[0] is not None else np.nan for t in rows])
        values[~np.isfinite(values)] = np.nan
        best = np.full(len(rows), np.nan)
        current = np.nan
        for i, t in enumerate(rows):
            v = values[i]
            if t.state == "COMPLETE" and np.isfinite(v):
                better = v > current if greater_is_better else v < current
                if np.isnan(current) or better:
                    current = v
            best[i] = current
        numbers = np.array([t.number for t in rows], dtype=int)
        engines.append(
            EngineHistory(
                engine=engine,
                x=numbers if order == "number" else np.arange(1, len(rows) + 1),
                numbers=numbers,
                states=tuple(t.state for t in rows),
                values=values,
                best=best,
                errors=tuple(t.error for t in rows),
            )
        )
    return HistoryInfo(metric=data.metric, greater_is_better=greater_is_better, order=order, engines=tuple(engines))


_STYLE = {
    "COMPLETE": {"symbol": "circle", "color": "#636efa", "size": 7},
    "PRUNED": {"symbol": "diamond-open", "color": "#7f7f7f", "size": 8},
    "FAILED": {"symbol": "x", "color": "#d62728", "size": 9},
    "CANCELLED": {"symbol": "x-open", "color": "#ff7f0e", "size": 9},
}


def plot_history(info: HistoryInfo) -> Any:
    """One row per engine. Trials without a value (failed, cancelled, some pruned) sit on the lowest
    plotted value of their engine, so they are visible without inventing a score."""
    from workbench.compare.views._plotly import TEMPLATE, go, make_subplots

    n = max(len(info.engines), 1)
    titles = [label(f"{e.engine}: {len(e.states)} trials") for e in info.engines] or ["no finished trials"]
    fig = make_subplots(rows=n, cols=1, subplot_titles=titles, vertical_spacing=0.12 if n > 1 else 0.0)
    seen: set[str] = set()
    for row, e in enumerate(info.engines, start=1):
        finite = e.values[np.isfinite(e.values)]
        floor = float(finite.min()) if finite.size else 0.0
        for state in sorted(set(e.states)):
            idx = [i for i, s in enumerate(e.states) if s == state]
            style = _STYLE.get(state, {"symbol": "square-open", "color": "#17becf", "size": 8})
            y = [float(e.values[i]) if np.isfinite(e.values[i]) else floor for i in idx]
            hover = [
                label(f"{e.engine} trial {e.numbers[i]}: {state}")
                + f"<br>{label(info.metric)} = {fmt(float(e.values[i]))}"
                + (f"<br>{label((e.errors[i] or '')[:200])}" if e.errors[i] else "")
                for i in idx
            ]
            name = state.lower() if np.isfinite(e.values[idx]).all() else f"{state.lower()} (no value: at bottom)"
            fig.add_trace(
                go.Scatter(
                    x=e.x[idx],
                    y=y,
                    mode="markers",
                    name=label(name),
                    legendgroup=state,
                    showlegend=state not in seen,
                    marker={"symbol": style["symbol"], "color": style["color"], "size": style["size"]},
                    hovertext=hover,
                    hoverinfo="text",
                ),
                row=row,
                col=1,
            )
            seen.add(state)
        fig.add_trace(
            go.Scatter(
                x=e.x,
                y=e.best,
                mode="lines",
                line={"shape": "hv", "color": "#2ca02c"},
                name="best so far",
                legendgroup="best",
                showlegend="best" not in seen,
                hoverinfo="skip",
            ),
            row=row,
            col=1,
        )
        seen.add("best")
        fig.update_yaxes(title_text=label(info.metric), row=row, col=1)
        fig.update_xaxes(title_text="trial number" if info.order == "number" else "finish order", row=row, col=1)
    direction = "higher is better" if info.greater_is_better else "lower is better"
    fig.update_layout(
        template=TEMPLATE, title=label(f"Optimization history: {info.metric} ({direction})"), height=120 + 300 * n
    )
    return fig
