"""Pareto fronts: score vs single-row latency and score vs size, over candidates and ensembles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.compare.views._common import ViewInfo, finite
from workbench.compare.views._text import fmt, label
from workbench.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["ParetoInfo", "get_pareto_info", "pareto_front", "plot_pareto"]

_CHUNK = 1024


def pareto_front(points: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `points` (n, d); `maximize[j]` says which way column j is better.

    A row is dominated when another row is at least as good in every column and strictly better in one.
    Identical rows do not dominate each other (all copies stay on the front). Rows with a NaN are never on
    the front and dominate nothing.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2:
        raise InvalidInputError(f"pareto_front needs an (n, d) array, got shape {pts.shape}.")
    if len(maximize) != pts.shape[1]:
        raise InvalidInputError(f"pareto_front: {len(maximize)} directions for {pts.shape[1]} columns.")
    # Turn every column into "lower is better".
    signs = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    costs = pts * signs
    valid = ~np.isnan(costs).any(axis=1)
    on_front = np.zeros(len(pts), dtype=bool)
    candidates = costs[valid]
    if candidates.size == 0:
        return on_front
    dominated = np.zeros(len(candidates), dtype=bool)
    for start in range(0, len(candidates), _CHUNK):
        block = candidates[start : start + _CHUNK]  # (b, d): is row i of the block dominated by any row j?
        le = (candidates[None, :, :] <= block[:, None, :]).all(axis=2)
        lt = (candidates[None, :, :] < block[:, None, :]).any(axis=2)
        dominated[start : start + _CHUNK] = (le & lt).any(axis=1)
    on_front[np.flatnonzero(valid)] = ~dominated
    return on_front


@dataclass(frozen=True)
class ParetoInfo(ViewInfo):
    """One entry per model; a model missing the score or a cost is on no front for that cost."""

    metric: str
    greater_is_better: bool
    score_rows: str  # valid | test: which score the fronts use
    keys: tuple[str, ...]
    names: tuple[str, ...]
    engines: tuple[str, ...]
    kinds: tuple[str, ...]
    score: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    row_ms: np.ndarray
    size_mb: np.ndarray
    latency_front: np.ndarray  # bool
    size_front: np.ndarray  # bool

    def front_names(self, cost: str) -> list[str]:
        """The names on the `latency` or `size` front, best score first."""
        mask = self.latency_front if cost == "latency" else self.size_front
        order = np.argsort(-self.score if self.greater_is_better else self.score, kind="stable")
        return [self.names[i] for i in order if mask[i]]


def get_pareto_info(data: ComparisonData, score: str = "valid") -> ParetoInfo:
    if score not in ("valid", "test"):
        raise InvalidInputError(f"Unknown score {score!r}; use 'valid' or 'test'.")
    models = data.models
    valid = np.array([finite(m.valid_score) for m in models], dtype=float)
    test = np.array([finite(m.test_score) for m in models], dtype=float)
    row_ms = np.array([finite(m.predict_row_ms) for m in models], dtype=float)
    size_mb = np.array([finite(m.size_bytes / 1e6 if m.size_bytes is not None else None) for m in models], dtype=float)
    for values in (valid, test, row_ms, size_mb):
        values[~np.isfinite(values)] = np.nan
    chosen = valid if score == "valid" else test
    directions = (data.greater_is_better, False)
    empty = np.zeros(0, dtype=bool)
    return ParetoInfo(
        metric=data.metric,
        greater_is_better=data.greater_is_better,
        score_rows=score,
        keys=tuple(m.key for m in models),
        names=tuple(m.name for m in models),
        engines=tuple(m.engine for m in models),
        kinds=tuple(m.kind for m in models),
        score=chosen,
        valid=valid,
        test=test,
        row_ms=row_ms,
        size_mb=size_mb,
        latency_front=pareto_front(np.column_stack([chosen, row_ms]), directions) if models else empty,
        size_front=pareto_front(np.column_stack([chosen, size_mb]), directions) if models else empty,
    )


def plot_pareto(info: ParetoInfo) -> Any:
    """Two panels (score vs latency, score vs size), points coloured by engine, the front joined by a line."""
    from workbench.compare.views._plotly import TEMPLATE, color, go, make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(label(f"{info.metric} vs single-row latency"), label(f"{info.metric} vs size")),
        horizontal_spacing=0.1,
    )
    hover = [
        f"<b>{label(info.names[i])}</b> ({label(info.keys[i])})<br>engine {label(info.engines[i])}, {label(info.kinds[i])}"
        f"<br>valid {label(info.metric)} {fmt(info.valid[i])}, test {fmt(info.test[i])}"
        f"<br>row latency {fmt(info.row_ms[i])} ms, size {fmt(info.size_mb[i])} MB"
        for i in range(len(info.keys))
    ]
    engines = sorted(set(info.engines))
    panels = (
        (1, info.row_ms, info.latency_front, "single-row latency (ms)"),
        (2, info.size_mb, info.size_front, "size (MB)"),
    )
    for col, cost, front, title in panels:
        for e_index, engine in enumerate(engines):
            idx = [i for i, e in enumerate(info.engines) if e == engine]
            fig.add_trace(
                go.Scatter(
                    x=cost[idx],
                    y=info.score[idx],
                    mode="markers",
                    name=label(engine),
                    legendgroup=label(engine),
                    showlegend=col == 1,
                    marker={
                        "color": color(e_index),
                        "size": [11 if front[i] else 7 for i in idx],
                        "opacity": [1.0 if front[i] else 0.45 for i in idx],
                        "symbol": ["diamond" if info.kinds[i] == "ensemble" else "circle" for i in idx],
                    },
                    hovertext=[hover[i] for i in idx],
                    hoverinfo="text",
                ),
                row=1,
                col=col,
            )
        on = np.flatnonzero(front)
        on = on[np.argsort(cost[on], kind="stable")]
        fig.add_trace(
            go.Scatter(
                x=cost[on],
                y=info.score[on],
                mode="lines",
                line={"shape": "hv", "color": "#2a3f5f", "dash": "dot"},
                name="Pareto front",
                legendgroup="front",
                showlegend=col == 1,
                hoverinfo="skip",
            ),
            row=1,
            col=col,
        )
        positive = cost[np.isfinite(cost)]
        log = positive.size > 0 and bool((positive > 0).all())
        fig.update_xaxes(title_text=title, type="log" if log else "linear", row=1, col=col)
        fig.update_yaxes(title_text=label(f"{info.score_rows} {info.metric}"), row=1, col=col)
    direction = "higher is better" if info.greater_is_better else "lower is better"
    fig.update_layout(
        template=TEMPLATE,
        title=label(f"Pareto fronts ({info.metric}: {direction}; latency and size: lower is better)"),
        height=480,
    )
    return fig
