"""Calibration (reliability) curves with the Brier score (classification).

Binary: predicted probability of the positive class `classes[1]` against the observed share of positives.
Multiclass: confidence of the top class against accuracy (how often the top class is right). The Brier
score is the mean over rows of sum_k (p_k - [y == k])^2 for multiclass (range 0-2, sklearn's
`brier_score_loss(..., scale_by_half=False)`) and mean (p - [y == positive])^2 for binary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.compare.views._common import ViewInfo, check_rows, pick_models, require_classification, rows_of
from workbench.compare.views._text import display_names, label

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["CalibrationCurve", "CalibrationInfo", "get_calibration_info", "plot_calibration"]


@dataclass(frozen=True)
class CalibrationCurve:
    """Non-empty bins only."""

    key: str
    name: str
    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray  # rows per bin
    brier: float


@dataclass(frozen=True)
class CalibrationInfo(ViewInfo):
    rows: str
    mode: str  # "positive class <c>" | "top-class confidence"
    n_bins: int
    curves: tuple[CalibrationCurve, ...]


def _bins(score: np.ndarray, hit: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(score, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    sums = np.bincount(index, weights=score, minlength=n_bins)
    hits = np.bincount(index, weights=hit.astype(float), minlength=n_bins)
    keep = counts > 0
    return sums[keep] / counts[keep], hits[keep] / counts[keep], counts[keep]


def get_calibration_info(
    data: ComparisonData, models: Sequence[str] | None = None, *, rows: str = "test", n_bins: int = 10
) -> CalibrationInfo:
    """`models`: names or keys; default the best by valid score. Bins are uniform on [0, 1]."""
    rows = check_rows(rows)
    classes = require_classification(data, "calibration view")
    curves = []
    binary = len(classes) == 2
    for m in pick_models(data, models, top=1):
        y, proba = rows_of(data, m, rows)
        y_obj = np.asarray(y).astype(object)
        p = np.asarray(proba, dtype=float)
        onehot = np.column_stack([y_obj == c for c in classes]).astype(float)
        if binary:
            score, hit = p[:, 1], onehot[:, 1]
            brier = float(np.mean((score - hit) ** 2))
        else:
            top = np.argmax(p, axis=1)
            score, hit = p[np.arange(len(p)), top], onehot[np.arange(len(p)), top]
            brier = float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
        mean_predicted, observed, counts = _bins(score, hit, n_bins)
        curves.append(CalibrationCurve(m.key, m.name, mean_predicted, observed, counts, brier))
    mode = f"positive class {classes[1]}" if binary else "top-class confidence"
    return CalibrationInfo(rows=rows, mode=mode, n_bins=n_bins, curves=tuple(curves))


def plot_calibration(info: CalibrationInfo) -> Any:
    from workbench.compare.views._plotly import TEMPLATE, color, go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#999999", "dash": "dash"}, name="perfect")
    )
    names = display_names([c.name for c in info.curves], [c.key for c in info.curves])
    for i, (c, name) in enumerate(zip(info.curves, names, strict=True)):
        fig.add_trace(
            go.Scatter(
                x=c.mean_predicted,
                y=c.observed,
                mode="lines+markers",
                name=f"{label(name)} (Brier {c.brier:.4f})",
                line={"color": color(i)},
                marker={"size": 6 + 10 * np.sqrt(c.counts / max(int(c.counts.max(initial=1)), 1))},
                customdata=c.counts,
                hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} rows",
            )
        )
    binary = info.mode.startswith("positive")
    fig.update_xaxes(title_text="mean predicted probability" if binary else "mean top-class confidence", range=[0, 1])
    fig.update_yaxes(title_text="observed share of positives" if binary else "accuracy", range=[0, 1.02])
    fig.update_layout(
        template=TEMPLATE, title=label(f"Calibration on {info.rows} rows ({info.mode})"), height=480, width=None
    )
    return fig
