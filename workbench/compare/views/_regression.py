"""Predicted vs actual and residuals (regression) of chosen models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.compare.views._common import ViewInfo, check_rows, pick_models, require_regression, rows_of
from workbench.compare.views._text import display_names, label

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["RegressionInfo", "RegressionSeries", "get_regression_info", "plot_regression"]


@dataclass(frozen=True)
class RegressionSeries:
    key: str
    name: str
    predicted: np.ndarray
    residuals: np.ndarray  # actual - predicted
    rmse: float
    mae: float
    r2: float


@dataclass(frozen=True)
class RegressionInfo(ViewInfo):
    rows: str
    actual: np.ndarray
    series: tuple[RegressionSeries, ...]


def get_regression_info(
    data: ComparisonData, models: Sequence[str] | None = None, *, rows: str = "test"
) -> RegressionInfo:
    """`models`: names or keys; default the 3 best by valid score."""
    rows = check_rows(rows)
    from workbench.model import score_predictions

    require_regression(data, "predicted-vs-actual view")
    series = []
    actual = np.asarray(data.y_test if rows == "test" else data.y_valid, dtype=float)
    for m in pick_models(data, models):
        y, pred = rows_of(data, m, rows)
        y = np.asarray(y, dtype=float)
        pred = np.asarray(pred, dtype=float).reshape(-1)
        series.append(
            RegressionSeries(
                key=m.key,
                name=m.name,
                predicted=pred,
                residuals=y - pred,
                rmse=score_predictions("rmse", "regression", y, pred),
                mae=score_predictions("mae", "regression", y, pred),
                r2=score_predictions("r2", "regression", y, pred) if len(y) > 1 else float("nan"),
            )
        )
    return RegressionInfo(rows=rows, actual=actual, series=tuple(series))


def plot_regression(info: RegressionInfo) -> Any:
    from workbench.compare.views._plotly import TEMPLATE, color, go, make_subplots

    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("predicted vs actual", "residuals (actual - predicted)"), horizontal_spacing=0.1
    )
    names = display_names([s.name for s in info.series], [s.key for s in info.series])
    for i, (s, name) in enumerate(zip(info.series, names, strict=True)):
        shown = f"{label(name)} (RMSE {s.rmse:.4g}, R\u00b2 {s.r2:.3f})"
        marker = {"color": color(i), "size": 5, "opacity": 0.6}
        fig.add_trace(
            go.Scatter(
                x=info.actual,
                y=s.predicted,
                mode="markers",
                name=shown,
                legendgroup=s.key,
                marker=marker,
                hovertemplate="actual %{x:.4g}<br>predicted %{y:.4g}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=s.predicted,
                y=s.residuals,
                mode="markers",
                name=shown,
                legendgroup=s.key,
                showlegend=False,
                marker=marker,
                hovertemplate="predicted %{x:.4g}<br>residual %{y:.4g}",
            ),
            row=1,
            col=2,
        )
    values = np.concatenate([info.actual, *[s.predicted for s in info.series]])
    values = values[np.isfinite(values)]
    if values.size:
        low, high = float(values.min()), float(values.max())
        ideal = {"color": "#999999", "dash": "dash"}
        fig.add_trace(
            go.Scatter(x=[low, high], y=[low, high], mode="lines", line=ideal, name="ideal", hoverinfo="skip"),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(x=[low, high], y=[0, 0], mode="lines", line=ideal, showlegend=False, hoverinfo="skip"),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="actual", row=1, col=1)
    fig.update_yaxes(title_text="predicted", row=1, col=1)
    fig.update_xaxes(title_text="predicted", row=1, col=2)
    fig.update_yaxes(title_text="residual", row=1, col=2)
    fig.update_layout(template=TEMPLATE, title=label(f"Regression on {info.rows} rows"), height=480)
    return fig
