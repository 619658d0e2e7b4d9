"""Confusion matrix of one classifier: counts and row-normalised shares (rows: true class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.compare.views._common import ViewInfo, check_rows, pick_models, require_classification, rows_of
from workbench.compare.views._text import label
from workbench.model import labels_from_proba

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["ConfusionInfo", "get_confusion_info", "plot_confusion"]


@dataclass(frozen=True)
class ConfusionInfo(ViewInfo):
    key: str
    name: str
    rows: str
    classes: tuple[Any, ...]
    counts: np.ndarray  # (k, k) int: counts[i, j] = rows of true class i predicted as class j
    normalized: np.ndarray  # (k, k) float: counts over the row total (0 for a class with no rows)

    @property
    def accuracy(self) -> float:
        total = int(self.counts.sum())
        return float(np.trace(self.counts) / total) if total else float("nan")


def get_confusion_info(data: ComparisonData, model: str | None = None, *, rows: str = "test") -> ConfusionInfo:
    """`model`: a name or key; default the best by valid score."""
    rows = check_rows(rows)
    from sklearn.metrics import confusion_matrix

    classes = require_classification(data, "confusion matrix")
    m = pick_models(data, [model] if model is not None else None, top=1)[0]
    y, proba = rows_of(data, m, rows)
    predicted = labels_from_proba(proba, classes)
    counts = confusion_matrix(np.asarray(y).astype(object), predicted, labels=np.asarray(classes, dtype=object))
    totals = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    return ConfusionInfo(
        key=m.key, name=m.name, rows=rows, classes=classes, counts=counts.astype(int), normalized=normalized
    )


def plot_confusion(info: ConfusionInfo) -> Any:
    from workbench.compare.views._plotly import TEMPLATE, go, make_subplots

    names = [label(c) for c in info.classes]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("counts", "share of the true class (row-normalised)"), horizontal_spacing=0.15
    )
    panels = ((1, info.counts, "%{z:d}", "Blues"), (2, info.normalized, "%{z:.1%}", "Greens"))
    for col, z, template, scale in panels:
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=names,
                y=names,
                colorscale=scale,
                showscale=False,
                texttemplate=template,
                hovertemplate="true %{y}<br>predicted %{x}<br>" + template + "<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="predicted", type="category", row=1, col=col)
        fig.update_yaxes(title_text="true", type="category", autorange="reversed", row=1, col=col)
    k = len(info.classes)
    fig.update_layout(
        template=TEMPLATE,
        title=label(f"Confusion matrix: {info.name} on {info.rows} rows (accuracy {info.accuracy:.3f})"),
        height=260 + 40 * min(k, 20),
    )
    return fig
