"""Text for labels: every name that comes from user data goes through `label` before plotly sees it.

Plotly renders a subset of HTML in titles, axis titles, legend names, hover text, tick labels and table
cells, so a model, class or column called `<b>x</b>` (or worse) would be drawn as markup. `label` escapes
it; plotly turns the entities back into the original characters on screen.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["display_names", "fmt", "label"]


def label(text: Any) -> str:
    """`text` as a string safe to put in any plotly label or HTML text (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a table cell or hover line; missing or non-finite values as an em dash."""
    if value is None or not math.isfinite(value):
        return "\u2014"
    return f"{value:.{digits}g}"


def display_names(names: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Names unique enough for a category axis: a name shared by several models gets its key appended.

    Returned unescaped: pass them through `label` before drawing.
    """
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return [name if counts[name] == 1 else f"{name} ({key})" for name, key in zip(names, keys, strict=True)]
