"""What the widgets know of the front end: whether one is there at all, and its light or dark theme."""

from __future__ import annotations

import os
from typing import Any

import anywidget
import traitlets

__all__ = ["HEADLESS_ENV", "STYLE", "ThemeProbe", "figure_layout", "headless"]

HEADLESS_ENV = "WORKBENCH_HEADLESS"


def headless() -> bool:
    """True when nobody can see a widget or click it: plain Python, or a notebook run by papermill or
    `jupyter nbconvert --execute` (their requests do not allow input, a live front end's do).
    WORKBENCH_HEADLESS=1 or 0 overrides."""
    forced = os.environ.get(HEADLESS_ENV, "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return True
    parent: dict[str, Any] = kernel.get_parent("shell") or {}
    return not parent.get("content", {}).get("allow_stdin", False)


_PROBE_ESM = """
function render({ model, el }) {
  const read = () => (document.body.dataset.jpThemeLight === "false" ? "dark" : "light");
  const update = () => {
    model.set("theme", read());
    model.set("rendered", true);
    model.save_changes();
  };
  update();
  const observer = new MutationObserver(update);
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
  el.style.display = "none";
  return () => observer.disconnect();
}
export default { render };
"""


class ThemeProbe(anywidget.AnyWidget):
    """An invisible widget that tells the kernel JupyterLab's theme ("light" or "dark") and follows changes."""

    _esm = traitlets.Unicode(_PROBE_ESM).tag(sync=True)
    theme = traitlets.Unicode("light").tag(sync=True)
    rendered = traitlets.Bool(False).tag(sync=True)


def figure_layout(theme: str) -> dict[str, Any]:
    """A plotly layout per theme: plotly's light or dark template, on the notebook's own background."""
    return {
        "template": "plotly_dark" if theme == "dark" else "plotly_white",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "modebar": {"orientation": "v"},
    }


# JupyterLab's CSS variables only: the widgets follow its light and dark themes, no colour is fixed here.
STYLE = """<style>
.wb-app { color: var(--jp-ui-font-color1); font-family: var(--jp-ui-font-family); }
.wb-title { font-size: var(--jp-content-font-size3); font-weight: 600; margin: 4px 0; }
.wb-note { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size1); }
.wb-error { color: var(--jp-error-color1); }
.wb-ok { color: var(--jp-success-color1); }
.wb-table { border-collapse: collapse; font-size: var(--jp-ui-font-size1); margin: 4px 0; }
.wb-table th { text-align: left; background: var(--jp-layout-color2); color: var(--jp-ui-font-color1);
  border-bottom: 1px solid var(--jp-border-color1); padding: 2px 8px; }
.wb-table td { border-bottom: 1px solid var(--jp-border-color2); padding: 2px 8px; color: var(--jp-ui-font-color1); }
.wb-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wb-table tr.wb-selected td { background: var(--jp-brand-color1); color: var(--jp-ui-inverse-font-color1); }
.wb-code { font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); }
.wb-app .widget-label { color: var(--jp-ui-font-color1); }
</style>"""
