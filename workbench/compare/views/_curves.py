"""ROC and precision-recall curves of chosen models, overlaid (classification).

Binary: the positive class is `classes[1]`. Multiclass: micro-average, i.e. every (row, class) pair is one
binary decision "is this row of this class?" scored by that class's probability; its ROC AUC equals
sklearn's `roc_auc_score(label_binarize(y), proba, average="micro")`. Micro-averaging gives one curve per
model, so several models stay readable on one plot; per-class curves would multiply the lines by k.
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

__all__ = ["ModelCurves", "RocPrInfo", "binary_targets", "get_roc_pr_info", "plot_roc_pr"]


@dataclass(frozen=True)
class ModelCurves:
    key: str
    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    roc_auc: float  # NaN when the rows hold only one class
    recall: np.ndarray
    precision: np.ndarray
    average_precision: float


@dataclass(frozen=True)
class RocPrInfo(ViewInfo):
    rows: str
    averaging: str  # "positive class <c>" or "micro-average over k classes"
    prevalence: float  # share of positives: the precision of a random model
    curves: tuple[ModelCurves, ...]


def binary_targets(y: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(is positive, score) pairs: the positive class for binary, every (row, class) pair for multiclass."""
    y_obj = np.asarray(y).astype(object)
    p = np.asarray(proba, dtype=float)
    if len(classes) == 2:
        return y_obj == classes[1], p[:, 1]
    onehot = np.column_stack([y_obj == c for c in classes])
    return onehot.ravel(), p.ravel()


def get_roc_pr_info(data: ComparisonData, models: Sequence[str] | None = None, *, rows: str = "test") -> RocPrInfo:
    """`models`: names or keys; default the 3 best by valid score."""
    rows = check_rows(rows)
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    classes = require_classification(data, "ROC / precision-recall view")
    curves = []
    truth = np.zeros(0, dtype=bool)
    for m in pick_models(data, models):
        y, proba = rows_of(data, m, rows)
        truth, score = binary_targets(y, proba, classes)
        if truth.all() or not truth.any():  # one class only: no curve is defined
            nan = float("nan")
            empty = np.zeros(0)
            curves.append(ModelCurves(m.key, m.name, empty, empty, nan, empty, empty, nan))
            continue
        fpr, tpr, _ = roc_curve(truth, score)
        precision, recall, _ = precision_recall_curve(truth, score)
        curves.append(
            ModelCurves(
                key=m.key,
                name=m.name,
                fpr=fpr,
                tpr=tpr,
                roc_auc=float(roc_auc_score(truth, score)),
                recall=recall,
                precision=precision,
                average_precision=float(average_precision_score(truth, score)),
            )
        )
    averaging = f"positive class {classes[1]}" if len(classes) == 2 else f"micro-average over {len(classes)} classes"
    prevalence = float(truth.mean()) if truth.size else float("nan")
    return RocPrInfo(rows=rows, averaging=averaging, prevalence=prevalence, curves=tuple(curves))


def plot_roc_pr(info: RocPrInfo) -> Any:
    from workbench.compare.views._plotly import TEMPLATE, color, go, make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC", "precision-recall"), horizontal_spacing=0.1)
    names = display_names([c.name for c in info.curves], [c.key for c in info.curves])
    for i, (c, name) in enumerate(zip(info.curves, names, strict=True)):
        shown = label(name)
        fig.add_trace(
            go.Scatter(
                x=c.fpr,
                y=c.tpr,
                mode="lines",
                name=f"{shown} (AUC {c.roc_auc:.3f})",
                legendgroup=c.key,
                line={"color": color(i)},
                hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=c.recall,
                y=c.precision,
                mode="lines",
                name=f"{shown} (AP {c.average_precision:.3f})",
                legendgroup=c.key,
                line={"color": color(i), "shape": "hv"},
                hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}",
            ),
            row=1,
            col=2,
        )
    chance = {"color": "#999999", "dash": "dash"}
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=chance, name="chance", hoverinfo="skip"), row=1, col=1
    )
    if np.isfinite(info.prevalence):
        fig.add_trace(
            go.Scatter(
                x=[0, 1], y=[info.prevalence] * 2, mode="lines", line=chance, showlegend=False, hoverinfo="skip"
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="false positive rate", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="recall", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text="precision", range=[0, 1.02], row=1, col=2)
    fig.update_layout(
        template=TEMPLATE, title=label(f"ROC and precision-recall on {info.rows} rows ({info.averaging})"), height=480
    )
    return fig
