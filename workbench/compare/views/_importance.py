"""Permutation feature importance of one fitted model: the drop in score when one column is shuffled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.compare.views._common import ViewInfo
from workbench.compare.views._text import label
from workbench.errors import InvalidInputError
from workbench.metrics import get_metric

if TYPE_CHECKING:
    from workbench.model import FittedModel

__all__ = ["PermutationImportanceInfo", "get_permutation_importance_info", "plot_permutation_importance"]


@dataclass(frozen=True)
class PermutationImportanceInfo(ViewInfo):
    """Features by decreasing mean importance. Importance is the score lost when the column is shuffled,
    signed so that positive always means "the model needs this column" whatever the metric's direction."""

    model_name: str
    metric: str
    greater_is_better: bool
    baseline: float
    n_rows: int
    n_repeats: int
    features: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    def importance(self, feature: str) -> float:
        return float(self.mean[self.features.index(feature)])


def get_permutation_importance_info(
    model: FittedModel,
    X: pd.DataFrame,
    y: np.ndarray,
    metric: str,
    problem_type: str,
    classes: Sequence[Any] | None,
    n_repeats: int = 5,
    seed: int = 0,
    max_rows: int = 2000,
    *,
    name: str = "model",
) -> PermutationImportanceInfo:
    """Shuffle one column at a time (`n_repeats` times, seeded) on at most `max_rows` rows (a seeded
    sample) and rescore with `workbench.model.score_predictions`."""
    from workbench.model import score_predictions

    spec = get_metric(metric, problem_type)
    if n_repeats < 1:
        raise InvalidInputError("n_repeats must be at least 1.")
    if len(X) != len(y):
        raise InvalidInputError(f"X has {len(X)} rows but y has {len(y)}.")
    if len(X) == 0:
        raise InvalidInputError("Permutation importance needs at least one row.")
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    if len(X) > max_rows:
        keep = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[keep], y[keep]
    X = X.reset_index(drop=True)

    def score(frame: pd.DataFrame) -> float:
        return score_predictions(metric, problem_type, y, model.prediction(frame), classes)

    baseline = score(X)
    sign = 1.0 if spec.greater_is_better else -1.0
    features = [str(c) for c in X.columns]
    drops = np.zeros((len(features), n_repeats))
    for j, column in enumerate(X.columns):
        for r in range(n_repeats):
            shuffled = X.copy()
            # .iloc keeps the column's dtype (categoricals stay categorical); set_axis realigns the index.
            shuffled[column] = X[column].iloc[rng.permutation(len(X))].set_axis(X.index)
            drops[j, r] = sign * (baseline - score(shuffled))
    mean, std = drops.mean(axis=1), drops.std(axis=1)
    order = np.argsort(-mean, kind="stable")
    return PermutationImportanceInfo(
        model_name=name,
        metric=metric,
        greater_is_better=spec.greater_is_better,
        baseline=baseline,
        n_rows=len(X),
        n_repeats=n_repeats,
        features=tuple(features[i] for i in order),
        mean=mean[order],
        std=std[order],
    )


def plot_permutation_importance(info: PermutationImportanceInfo, *, max_features: int = 30) -> Any:
    from workbench.compare.views._plotly import TEMPLATE, go

    n = min(len(info.features), max_features)
    names = [label(f) for f in info.features[:n]]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=names,
            x=info.mean[:n],
            error_x={"type": "data", "array": info.std[:n]},
            hovertext=[
                f"{f}<br>importance {m:.4g} \u00b1 {s:.2g}" for f, m, s in zip(names, info.mean, info.std, strict=False)
            ],
            hoverinfo="text",
            marker_color="#ab63fa",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text=label(f"drop in {info.metric} when shuffled"))
    title = (
        f"Permutation importance: {info.model_name} ({info.metric} {info.baseline:.4g} on {info.n_rows} rows, "
        f"{info.n_repeats} repeats, first {n} of {len(info.features)} features)"
    )
    fig.update_layout(template=TEMPLATE, title=label(title), height=160 + 24 * max(n, 1), showlegend=False)
    return fig
