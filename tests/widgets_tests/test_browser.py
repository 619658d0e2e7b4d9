"""The quickstart in a real browser: JupyterLab on 127.0.0.1 and Debian's headless Chromium (driven by
Playwright), clicked through from a dataset to an endpoint's answer, in the light and the dark theme.

Screenshots of each step go to a temporary folder, or to WORKBENCH_SCREENSHOTS_DIR when it is set (how the
README's pictures under docs/ are made).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from jupyterlab_support import chromium_page, jupyter_lab, screenshots_folder

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=200)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab(widget_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab serving a copy of the quickstart (a small budget in its parameters cell)."""
    root = tmp_path / "lab"
    root.mkdir()
    notebook = nbformat.read(REPO / "notebooks" / "01_quickstart.ipynb", as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = (
                'dataset = "penguins"\nengines = ["optuna"]\nfamilies = ["linear", "lightgbm"]\n'
                'n_trials = 4\ntime_limit_s = 120.0\ncluster = "local:2"'
            )
    nbformat.write(notebook, root / "01_quickstart.ipynb")
    rows = pd.read_csv(REPO / "datasets" / "penguins.csv").drop(columns=["species"]).head(200)
    rows.to_csv(root / "new-penguins.csv", index=False)  # what the Export step's batch job scores
    env = {k: v for k, v in widget_env.items() if k != "WORKBENCH_HEADLESS"}
    with jupyter_lab(root, env, tmp_path) as served:
        yield served


def _tab(page: Any, title: str) -> None:
    page.locator(".jp-OutputArea .lm-TabBar-tab", has_text=title).first.click()


def _shot(page: Any, folder: Path, name: str) -> None:
    page.mouse.move(0, 0)  # no hover toolbars over the figures
    page.wait_for_timeout(400)  # let plotly finish its transitions
    page.locator(".jp-OutputArea .widget-tab").first.screenshot(path=str(folder / f"{name}.png"))


def test_the_quickstart_clicked_through_in_a_real_browser(lab: tuple[str, str], tmp_path: Path) -> None:
    url, token = lab
    folder = screenshots_folder(tmp_path)
    with chromium_page({"width": 1280, "height": 2400}) as page:  # the tallest step fits: whole screenshots
        try:
            _click_through(page, url, token, folder)
        except Exception:
            page.screenshot(path=str(folder / "failure.png"))
            raise
    for name in ("light-1-dataset", "light-3-monitor", "light-6-export", "dark-6-export", "dark-3-monitor"):
        assert (folder / f"{name}.png").stat().st_size > 10_000


def _click_through(page: Any, url: str, token: str, folder: Path) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/lab/tree/01_quickstart.ipynb?token={token}")
    page.locator(".jp-Notebook").first.wait_for()
    select = page.locator(".jp-Dialog button", has_text="Select")
    deadline = time.monotonic() + 120
    while not page.get_by_text("Python 3 (ipykernel) | Idle").count():  # the kernel is up
        if select.count():  # JupyterLab may ask which kernel to start
            select.first.click()
        assert time.monotonic() < deadline, "the kernel did not start"
        page.wait_for_timeout(300)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    widget = page.locator(".jp-OutputArea .widget-tab").first
    widget.wait_for()
    expect(widget).to_contain_text("penguins: profiled", timeout=120_000)
    # Live, run_headless() leaves the flow to the buttons.
    expect(page.locator(".jp-OutputArea", has_text="use the Launch button above")).to_have_count(1)
    _shot(page, folder, "light-1-dataset")

    _tab(page, "Search")
    expect(widget).to_contain_text("2 workers, 2 threads, 0 GPUs")
    _shot(page, folder, "light-2-search")
    widget.locator("button[title=Launch]").click()
    expect(widget).to_contain_text("search running as job", timeout=60_000)
    expect(widget.locator(".wb-note b", has_text="finished")).to_be_visible(timeout=300_000)
    expect(widget.locator(".js-plotly-plot:visible")).to_have_count(1)  # the optuna engine's history
    _shot(page, folder, "light-3-monitor")

    _tab(page, "Compare")
    expect(widget).to_contain_text("models of experiment", timeout=60_000)
    widget.locator(".widget-toggle-button", has_text="Confusion").click()
    expect(widget.locator(".js-plotly-plot:visible")).to_have_count(2, timeout=60_000)  # Pareto and the view
    _shot(page, folder, "light-4-compare")

    _tab(page, "Ensemble")
    expect(widget).to_contain_text("(measured)", timeout=120_000)  # the best candidate alone, measured
    widget.locator(".widget-checkbox input:visible").nth(1).check()  # a second member
    expect(widget).to_contain_text("measuring the built model", timeout=30_000)
    expect(widget).to_contain_text("(measured)", timeout=120_000)
    widget.locator("button", has_text="Save ensemble").click()
    expect(widget).to_contain_text("Saved ensemble-manual", timeout=120_000)
    _shot(page, folder, "light-5-ensemble")

    _tab(page, "Export")
    widget.locator("button[title=Register]").click()
    expect(widget).to_contain_text("Registered penguins@1", timeout=120_000)
    widget.locator("button", has_text="Promote").click()
    expect(widget).to_contain_text("Contract check passed", timeout=180_000)
    widget.locator("button", has_text="Start endpoint").click()
    expect(widget).to_contain_text("It answered the example row", timeout=180_000)
    widget.get_by_placeholder("new-rows.csv or .parquet").fill("new-penguins.csv")
    widget.locator("button", has_text="Run as job").click()  # the scoring notebook, saved and run as a job
    expect(widget).to_contain_text(re.compile(r"Job \d+ finished"), timeout=240_000)
    expect(widget).to_contain_text("rows 200")
    _shot(page, folder, "light-6-export")

    # The same widget in JupyterLab's dark theme: CSS variables and a plotly template per theme.
    page.get_by_role("menuitem", name="Settings", exact=True).click()
    page.get_by_text("Theme", exact=True).hover()
    page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
    page.locator("body[data-jp-theme-light='false']").wait_for(state="attached")
    page.wait_for_timeout(1500)  # the theme probe tells the kernel; figures switch template
    background = widget.evaluate("el => getComputedStyle(el.closest('.jp-OutputArea')).backgroundColor")
    _shot(page, folder, "dark-6-export")
    steps = (
        ("Ensemble", "dark-5-ensemble"),
        ("Monitor", "dark-3-monitor"),
        ("Compare", "dark-4-compare"),
        ("Search", "dark-2-search"),
        ("Dataset", "dark-1-dataset"),
    )
    for title, name in steps:
        _tab(page, title)
        _shot(page, folder, name)
    template_text = widget.locator(".js-plotly-plot:visible .main-svg").first.evaluate(
        "el => getComputedStyle(el.querySelector('.xtick text') || el).fill"
    )
    _tab(page, "Export")
    widget.locator("button", has_text="Stop endpoint").click()
    expect(widget).to_contain_text("stopped", timeout=60_000)
    assert background != "rgb(255, 255, 255)"
    assert template_text not in ("rgb(68, 68, 68)", "rgb(42, 63, 95)")  # plotly_white's dark tick labels
