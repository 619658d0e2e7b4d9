"""Every plotly import of the views and the report, in one place (as in optuna's `_plotly_imports`).

The data functions (`get_*_info`) never import this module; the plot functions import it when they draw,
so `import workbench.compare.views` does not load plotly.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

__all__ = ["COLORS", "TEMPLATE", "color", "figure_html", "get_plotlyjs", "go", "make_subplots", "pio"]

TEMPLATE = "plotly_white"
# plotly's default qualitative palette, used to colour models consistently inside one figure.
COLORS = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52")


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def figure_html(fig: Any) -> str:
    """A figure as an HTML fragment that needs plotly.js already loaded on the page.

    plotly's JSON writer escapes `<`, `>` and `/` in every string as \\u003c, \\u003e and \\u002f, so no
    label can close the <script> the figure is embedded in.
    """
    html: str = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True},
        default_height=f"{int(fig.layout.height or 450)}px",
    )
    return html
