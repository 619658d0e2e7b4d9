"""Ensemble member weights, from the names and weights directly (EnsembleModel.members_ / .weights_)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.compare.views._common import ViewInfo
from workbench.compare.views._text import display_names, label
from workbench.errors import InvalidInputError

__all__ = ["WeightsInfo", "get_weights_info", "plot_weights"]


@dataclass(frozen=True)
class WeightsInfo(ViewInfo):
    """Members by decreasing weight; `shares` are the weights over the sum of their absolute values."""

    title: str
    names: tuple[str, ...]
    weights: np.ndarray
    shares: np.ndarray


def get_weights_info(names: Sequence[str], weights: Sequence[float], title: str) -> WeightsInfo:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or len(w) != len(names):
        raise InvalidInputError(f"{len(names)} member names but {w.size} weights for {title!r}.")
    if not np.isfinite(w).all():
        raise InvalidInputError(f"The weights of {title!r} must be finite numbers.")
    order = np.argsort(-w, kind="stable")
    total = float(np.abs(w).sum())
    shares = w / total if total > 0 else np.zeros_like(w)
    return WeightsInfo(title=title, names=tuple(str(names[i]) for i in order), weights=w[order], shares=shares[order])


def plot_weights(info: WeightsInfo) -> Any:
    from workbench.compare.views._plotly import TEMPLATE, go

    names = [label(n) for n in display_names(info.names, [f"#{i + 1}" for i in range(len(info.names))])]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=names,
            x=info.weights,
            text=[f"{s:.1%}" for s in info.shares],
            textposition="auto",
            hovertext=[
                f"{n}<br>weight {w:.4g} ({s:.1%})" for n, w, s in zip(names, info.weights, info.shares, strict=True)
            ],
            hoverinfo="text",
            marker_color="#00cc96",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="weight")
    fig.update_layout(
        template=TEMPLATE,
        title=label(f"Member weights: {info.title}"),
        height=160 + 28 * max(len(info.names), 1),
        showlegend=False,
    )
    return fig
