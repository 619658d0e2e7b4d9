"""Side-by-side diff of two models: every metric that applies, per-class scores (or error quantiles), and
the rows where their predictions disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.compare.views._common import ViewInfo, check_rows, pick_models
from workbench.compare.views._text import fmt, label
from workbench.errors import InvalidInputError
from workbench.metrics import METRICS
from workbench.model import labels_from_proba, score_predictions

if TYPE_CHECKING:
    from workbench.compare._data import ComparisonData

__all__ = ["ClassScores", "DiffInfo", "DisagreementRow", "MetricPair", "get_diff_info", "plot_diff"]

QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
MAX_ROWS = 20


@dataclass(frozen=True)
class MetricPair:
    metric: str
    greater_is_better: bool
    a: float
    b: float

    @property
    def winner(self) -> str:
        """'a', 'b' or 'tie' (also when a score is missing)."""
        if not (np.isfinite(self.a) and np.isfinite(self.b)) or self.a == self.b:
            return "tie"
        return "a" if (self.a > self.b) == self.greater_is_better else "b"


@dataclass(frozen=True)
class ClassScores:
    """Per class, in `classes` order."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


@dataclass(frozen=True)
class DisagreementRow:
    row: int  # position among the compared rows (0-based)
    true: Any
    pred_a: Any
    pred_b: Any
    conf_a: float | None  # probability of its own predicted class; None for regression
    conf_b: float | None


@dataclass(frozen=True)
class DiffInfo(ViewInfo):
    """Classification: a row disagrees when the predicted labels differ; the shown rows are those where
    the two models are most confident (sum of the two confidences), then by row.
    Regression: a row disagrees when |pred_a - pred_b| > `tolerance` (default 10% of the std of the true
    values); the shown rows are the disagreeing ones with the largest absolute difference."""

    problem_type: str
    rows: str
    a_key: str
    a_name: str
    b_key: str
    b_name: str
    metrics: tuple[MetricPair, ...]
    classes: tuple[Any, ...] | None
    class_scores_a: ClassScores | None
    class_scores_b: ClassScores | None
    quantiles: tuple[float, ...] | None  # regression: levels of |error|
    error_quantiles_a: np.ndarray | None
    error_quantiles_b: np.ndarray | None
    n_rows: int
    n_disagree: int
    tolerance: float | None
    disagreements: tuple[DisagreementRow, ...]

    @property
    def share_disagree(self) -> float:
        return self.n_disagree / self.n_rows if self.n_rows else float("nan")


def _score(metric: str, problem_type: str, y: np.ndarray, pred: np.ndarray, classes: Any) -> float:
    try:
        return score_predictions(metric, problem_type, y, pred, classes)
    except ValueError:  # e.g. ROC AUC on rows of one class only
        return float("nan")


def _class_scores(y: np.ndarray, labels: np.ndarray, classes: tuple[Any, ...]) -> ClassScores:
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y, labels, labels=np.asarray(classes, dtype=object), zero_division=0)
    return ClassScores(np.asarray(p, float), np.asarray(r, float), np.asarray(f, float), np.asarray(s, int))


def get_diff_info(
    data: ComparisonData, a: str, b: str, *, rows: str = "test", tolerance: float | None = None
) -> DiffInfo:
    """`a`, `b`: names or keys."""
    rows = check_rows(rows)
    ma, mb = pick_models(data, [a, b])
    if ma.key == mb.key:
        raise InvalidInputError(f"Pick two different models to compare, not {a!r} twice.")
    y = np.asarray(data.y_test if rows == "test" else data.y_valid)
    pa = np.asarray(ma.test if rows == "test" else ma.valid)
    pb = np.asarray(mb.test if rows == "test" else mb.valid)
    pt = data.problem_type
    classes = tuple(data.classes) if pt != "regression" and data.classes else None
    metrics = tuple(
        MetricPair(name, m.greater_is_better, _score(name, pt, y, pa, classes), _score(name, pt, y, pb, classes))
        for name, m in METRICS.items()
        if pt in m.problem_types
    )
    common: dict[str, Any] = {
        "problem_type": pt,
        "rows": rows,
        "a_key": ma.key,
        "a_name": ma.name,
        "b_key": mb.key,
        "b_name": mb.name,
        "metrics": metrics,
        "n_rows": len(y),
    }
    if classes is not None:
        y_obj = y.astype(object)
        la, lb = labels_from_proba(pa, classes), labels_from_proba(pb, classes)
        ca, cb = pa.max(axis=1), pb.max(axis=1)
        differ = np.flatnonzero(la != lb)
        order = differ[np.lexsort((differ, -(ca[differ] + cb[differ])))][:MAX_ROWS]
        return DiffInfo(
            **common,
            classes=classes,
            class_scores_a=_class_scores(y_obj, la, classes),
            class_scores_b=_class_scores(y_obj, lb, classes),
            quantiles=None,
            error_quantiles_a=None,
            error_quantiles_b=None,
            n_disagree=len(differ),
            tolerance=None,
            disagreements=tuple(
                DisagreementRow(int(i), y_obj[i], la[i], lb[i], float(ca[i]), float(cb[i])) for i in order
            ),
        )
    y_f, va, vb = y.astype(float), pa.astype(float).reshape(-1), pb.astype(float).reshape(-1)
    if tolerance is None:
        tolerance = 0.1 * float(np.std(y_f)) if len(y_f) else 0.0
    gap = np.abs(va - vb)
    differ = np.flatnonzero(gap > tolerance)
    order = differ[np.lexsort((differ, -gap[differ]))][:MAX_ROWS]
    levels = QUANTILES
    return DiffInfo(
        **common,
        classes=None,
        class_scores_a=None,
        class_scores_b=None,
        quantiles=levels,
        error_quantiles_a=np.quantile(np.abs(y_f - va), levels) if len(y_f) else np.full(len(levels), np.nan),
        error_quantiles_b=np.quantile(np.abs(y_f - vb), levels) if len(y_f) else np.full(len(levels), np.nan),
        n_disagree=len(differ),
        tolerance=tolerance,
        disagreements=tuple(
            DisagreementRow(int(i), float(y_f[i]), float(va[i]), float(vb[i]), None, None) for i in order
        ),
    )


def _value(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return fmt(float(value))
    return label(value)


def plot_diff(info: DiffInfo) -> Any:
    """Three panels: the metrics table, per-class F1 (or |error| quantiles) as grouped bars, and the
    table of disagreeing rows."""
    from workbench.compare.views._plotly import TEMPLATE, go, make_subplots

    a, b = label(info.a_name), label(info.b_name)
    if info.a_name == info.b_name:
        a, b = label(f"{info.a_name} ({info.a_key})"), label(f"{info.b_name} ({info.b_key})")
    classification = info.classes is not None
    middle = "F1 per class" if classification else "quantiles of |actual - predicted|"
    fig = make_subplots(
        rows=3,
        cols=1,
        specs=[[{"type": "table"}], [{"type": "xy"}], [{"type": "table"}]],
        row_heights=[0.3, 0.35, 0.35],
        vertical_spacing=0.07,
        subplot_titles=(
            f"scores on {info.rows} rows",
            middle,
            f"{info.n_disagree} of {info.n_rows} rows disagree ({info.share_disagree:.1%}); "
            f"first {len(info.disagreements)}",
        ),
    )
    winner = {"a": a, "b": b, "tie": "\u2014"}
    fig.add_trace(
        go.Table(
            header={"values": ["metric", a, b, "better"], "align": "left"},
            cells={
                "values": [
                    [
                        label(f"{m.metric} ({'higher' if m.greater_is_better else 'lower'} is better)")
                        for m in info.metrics
                    ],
                    [fmt(m.a) for m in info.metrics],
                    [fmt(m.b) for m in info.metrics],
                    [winner[m.winner] for m in info.metrics],
                ],
                "align": "left",
            },
        ),
        row=1,
        col=1,
    )
    if classification and info.class_scores_a is not None and info.class_scores_b is not None:
        x = [label(c) for c in info.classes or ()]
        pairs: tuple[tuple[str, np.ndarray | None, str], ...] = (
            (a, info.class_scores_a.f1, "#636efa"),
            (b, info.class_scores_b.f1, "#EF553B"),
        )
        xaxis = "class"
    else:
        x = [f"q{q:g}" if q < 1 else "max" for q in info.quantiles or ()]
        pairs = ((a, info.error_quantiles_a, "#636efa"), (b, info.error_quantiles_b, "#EF553B"))
        xaxis = "quantile of |error|"
    for name, values, color in pairs:
        fig.add_trace(go.Bar(name=name, x=x, y=values, marker_color=color), row=2, col=1)
    fig.update_xaxes(title_text=xaxis, type="category", row=2, col=1)
    rows = info.disagreements
    if classification:
        header = ["row", "true", f"{a} predicts", f"{a} confidence", f"{b} predicts", f"{b} confidence"]
        columns = [
            [str(r.row) for r in rows],
            [_value(r.true) for r in rows],
            [_value(r.pred_a) for r in rows],
            [fmt(r.conf_a, 3) for r in rows],
            [_value(r.pred_b) for r in rows],
            [fmt(r.conf_b, 3) for r in rows],
        ]
    else:
        header = ["row", "actual", a, b, "|difference|"]
        columns = [
            [str(r.row) for r in rows],
            [_value(r.true) for r in rows],
            [_value(r.pred_a) for r in rows],
            [_value(r.pred_b) for r in rows],
            [fmt(abs(float(r.pred_a) - float(r.pred_b))) for r in rows],
        ]
    fig.add_trace(
        go.Table(header={"values": header, "align": "left"}, cells={"values": columns, "align": "left"}), row=3, col=1
    )
    fig.update_layout(template=TEMPLATE, title=f"Diff: {a} vs {b}", barmode="group", height=1000)
    return fig
