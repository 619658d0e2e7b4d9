"""The Workbench panel in a real browser: JupyterLab on 127.0.0.1 with the built extension, driven through
Debian's headless chromium. From the panel: a search notebook made from a dataset, run, its progress
followed to the end; a second search stopped while its notebook's kernel is busy; a model promoted and
served; a row sent through Try it; a notebook run as a batch job from the command palette. Then the dark
theme. Screenshots of each step go to WORKBENCH_SCREENSHOTS_DIR when it is set (the README's pictures).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyterlab_support import chromium_page, jupyter_lab, screenshots_folder

import workbench.api as wb

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=280)]
REPO = Path(__file__).resolve().parents[2]
LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "workbench-lab" / "package.json"
FIRST_SEARCH = """dataset = "penguins"
target = None
engines = ["optuna"]
families = ["linear", "lightgbm"]
n_trials = 4
time_limit_s = 120.0
cluster = "local:2\""""
SECOND_SEARCH = FIRST_SEARCH.replace("n_trials = 4", "n_trials = 400").replace(
    "time_limit_s = 120.0", "time_limit_s = 600.0"
)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    assert LABEXTENSION.is_file(), f"{LABEXTENSION} is missing: `make install` builds and links the extension"
    env_values = {
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_DATA_ROOTS": str(tmp_path),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
        "WORKBENCH_GPUS": "none",
    }
    for key, value in env_values.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "lab"
    root.mkdir()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Double\nA small notebook to run as a batch job."),
            nbformat.v4.new_code_cell("x = 1  # what to double\nlabel = 'a'", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("import workbench.api as wb\n\nwb.record('doubled', x * 2)\nprint(label, x * 2)"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(notebook, root / "double.ipynb")
    settings = tmp_path / "lab-settings" / "workbench-lab"
    settings.mkdir(parents=True)
    (settings / "panel.jupyterlab-settings").write_text('{"refreshInterval": 1, "cluster": "local:2"}')
    server_config = {"ServerApp": {"jpserver_extensions": {"workbench.lab": True}}}
    try:
        with jupyter_lab(root, {**os.environ, **env_values}, tmp_path, server_config) as served:
            yield served
    finally:
        for job in wb.list_jobs(active=True):
            wb.cancel_job(job.id, grace_s=5)


def test_the_panel_clicked_through_in_a_real_browser(lab: tuple[str, str], tmp_path: Path) -> None:
    url, token = lab
    folder = screenshots_folder(tmp_path)
    with chromium_page({"width": 1400, "height": 900}) as page:
        try:
            _click_through(page, url, token, folder)
        except Exception:
            page.screenshot(path=str(folder / "panel-failure.png"))
            raise
    for name in ("light-panel-1-datasets", "light-panel-3-finished", "light-panel-6-try-it", "dark-panel-6-try-it"):
        assert (folder / f"{name}.png").stat().st_size > 10_000


def _section(page: Any, name: str) -> Any:
    return page.locator(f'.jp-WorkbenchPanel-section[data-section="{name}"]')


def _item(page: Any, section: str, item_id: str) -> Any:
    return _section(page, section).locator(f'.jp-WorkbenchPanel-item[data-id="{item_id}"]')


def _command(page: Any, label: str) -> None:
    """Run a command from the command palette, opened by its shortcut (Ctrl+Shift+C) or, every other try, from
    the View menu; on failure, say what was in the way."""
    from playwright.sync_api import Error as PlaywrightError

    palette = page.locator(".lm-CommandPalette-input")
    item = page.locator(".lm-CommandPalette-item", has_text=label).first
    errors: list[str] = []
    for attempt in range(10):  # right after a page load the shortcut may land before the shell has focus
        try:
            if not palette.is_visible():
                _open_palette(page, from_menu=attempt % 2 == 1)
            palette.wait_for(state="visible", timeout=3_000)
            palette.fill(label)
            item.wait_for(state="visible", timeout=3_000)
            item.click(timeout=3_000)
            return
        except PlaywrightError as error:
            errors.append(str(error).splitlines()[0])
    dialogs = page.locator(".jp-Dialog").all_inner_texts()
    raise AssertionError(f"the command palette did not run {label!r}; dialogs open: {dialogs}; errors: {errors}")


def _open_palette(page: Any, from_menu: bool) -> None:
    from playwright.sync_api import Error as PlaywrightError

    if from_menu:
        page.keyboard.press("Escape")  # a menu or completer left open
        page.get_by_role("menuitem", name="View", exact=True).click(timeout=5_000)
        page.get_by_role("menuitem", name=re.compile("Command Palette")).first.click(timeout=5_000)
        return
    with contextlib.suppress(PlaywrightError):  # something covers that point: the shortcut may still land
        # focus the shell, so that the shortcut reaches it
        page.locator(".jp-NotebookPanel:visible .jp-Notebook, #jp-main-dock-panel").first.click(
            position={"x": 400, "y": 600}, timeout=5_000
        )
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")


def _wait_for_kernel(page: Any, notebook: str | None = None) -> None:
    """Wait until the notebook in front (`notebook`, when given) has loaded and its kernel is idle."""
    from playwright.sync_api import expect

    select = page.locator(".jp-Dialog button", has_text="Select")
    page.wait_for_timeout(500)
    if select.count():  # JupyterLab may ask which kernel to start
        select.first.click()
    if notebook is not None:
        # after a reload the restored tabs load first: the status bar can speak for one of them while
        # `notebook` is still loading
        current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text=notebook)
        expect(current).to_have_count(1, timeout=120_000)
        toolbar = page.locator(".jp-NotebookPanel:visible .jp-Toolbar")
        expect(toolbar.get_by_role("button", name="Python 3 (ipykernel)")).to_have_count(1, timeout=120_000)
    # the status bar speaks for the notebook in front
    expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_have_count(1, timeout=120_000)


def _set_cell(page: Any, index: int, source: str) -> None:
    editor = page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(source)  # no auto-closed brackets: the text goes in as it is


def _run_cell(page: Any, index: int) -> None:
    page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def _launch_search(page: Any, parameters: str) -> Any:
    """In the search notebook just opened: small parameters, the widget shown, Launch clicked."""
    from playwright.sync_api import expect

    _wait_for_kernel(page)
    _set_cell(page, 1, parameters)
    _run_cell(page, 1)
    _run_cell(page, 2)
    widget = page.locator(".jp-NotebookPanel:visible .jp-OutputArea .widget-tab").first
    expect(widget).to_contain_text("penguins: profiled", timeout=120_000)
    widget.locator(".jp-OutputArea .lm-TabBar-tab, .lm-TabBar-tab", has_text="Search").first.click()
    widget.locator("button[title=Launch]").click()
    expect(widget).to_contain_text("search running as job", timeout=60_000)
    return widget


def _try_it(page: Any, endpoint: Any) -> None:
    """Open Try it for the endpoint, fill in one penguin, send it, and see the answer."""
    from playwright.sync_api import expect

    endpoint.locator('[data-action="try-it"]').click()
    form = page.locator(".jp-WorkbenchPanel-tryit:visible").first
    expect(form.locator('[name="bill_length_mm"]')).to_be_visible(timeout=60_000)
    form.locator('select[name="island"]').select_option("Biscoe")
    values = {"bill_length_mm": "49.1", "bill_depth_mm": "14.8", "flipper_length_mm": "220", "body_mass_g": "5150"}
    for name, value in {**values, "year": "2008"}.items():
        form.locator(f'[name="{name}"]').fill(value)
    form.locator('select[name="sex"]').select_option("male")
    form.locator('[data-action="predict"]').click()
    expect(form.locator(".jp-WorkbenchPanel-answer")).to_contain_text("Gentoo", timeout=60_000)


def _copied_curl_answers(page: Any, endpoint: Any) -> None:
    """Copy curl puts on the clipboard a command that, run in a shell as it is, gets a prediction."""
    # What the copy hands the clipboard, recorded as it is set (reading the system clipboard back needs a
    # permission headless Chromium has no prompt for).
    page.evaluate(
        """() => {
            window.__copied = [];
            const setData = DataTransfer.prototype.setData;
            DataTransfer.prototype.setData = function (type, value) {
                window.__copied.push(value);
                return setData.call(this, type, value);
            };
        }"""
    )
    endpoint.locator('[data-action="copy-curl"]').click()
    page.wait_for_function("() => window.__copied.length > 0", timeout=30_000)
    command = page.evaluate("() => window.__copied[window.__copied.length - 1]")
    assert command.startswith("curl ") and "127.0.0.1" in command, command
    answered = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(answered.stdout)["predictions"][0] in ("Adelie", "Chinstrap", "Gentoo"), answered.stdout


def _batch_dialog(page: Any, x: str) -> Any:
    """The command palette's "Run notebook as batch job" for the notebook in front, with x set."""
    from playwright.sync_api import expect

    _command(page, "Run notebook as batch job")
    dialog = page.locator(".jp-Dialog")
    x_input = dialog.locator('[name="x"]')
    expect(x_input).to_have_value("1", timeout=60_000)  # the notebook is saved and its parameters read first
    x_input.fill(x)
    return dialog


def _shot(page: Any, folder: Path, name: str, full: bool = True) -> None:
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full)


def _click_through(page: Any, url: str, token: str, folder: Path) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/lab?token={token}")
    page.locator("#jp-main-dock-panel").wait_for()
    # The Launcher tile: a search notebook for the dataset picked in its dialog.
    page.locator(".jp-LauncherCard", has_text="New AutoML notebook").click()
    page.locator('.jp-Dialog select[name="dataset"]').select_option("wine")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(page.locator(".lm-TabBar-tab", has_text="search-wine.ipynb")).to_have_count(1, timeout=60_000)
    _wait_for_kernel(page)  # JupyterLab may ask which kernel to start
    _command(page, "Open Workbench panel")
    penguins = _item(page, "datasets", "penguins")
    expect(penguins).to_contain_text("344", timeout=60_000)
    _shot(page, folder, "light-panel-1-datasets")
    penguins.locator('[data-action="profile"]').click()
    profile = page.locator(".jp-Dialog .jp-WorkbenchPanel-table")
    expect(profile).to_contain_text("flipper_length_mm")
    page.locator(".jp-Dialog .jp-mod-accept, .jp-Dialog .jp-mod-reject").first.click()

    # 1. A search notebook from a dataset, run; its progress moves and ends in the panel.
    penguins.locator('[data-action="new-notebook"]').click()
    expect(page.locator(".lm-TabBar-tab", has_text="search-penguins.ipynb")).to_have_count(1)
    widget = _launch_search(page, FIRST_SEARCH)
    first = _item(page, "experiments", "1")
    expect(first.locator("progress")).to_have_count(1, timeout=60_000)
    _shot(page, folder, "light-panel-2-running")
    expect(first).to_contain_text("finished", timeout=300_000)
    expect(first.locator("progress")).to_have_attribute("value", "4")
    expect(first).to_contain_text("4/4")
    _shot(page, folder, "light-panel-3-finished")
    first.locator('[data-action="report"]').click()  # the comparison report, in a sandboxed frame
    report = page.frame_locator("#workbench-report-1 iframe")
    expect(report.locator("body")).to_contain_text("optuna-", timeout=120_000)
    page.locator(".lm-TabBar-tab", has_text="search-penguins.ipynb").first.click()
    widget.locator(".lm-TabBar-tab", has_text="Export").first.click()
    expect(widget).to_contain_text("the winner (rank 1)", timeout=120_000)  # the export step has the models
    widget.locator("button[title=Register]").click()
    expect(widget).to_contain_text("Registered penguins@1", timeout=120_000)

    # 2. A second search, stopped from the panel while its notebook's kernel is busy.
    penguins.locator('[data-action="new-notebook"]').click()
    expect(page.locator(".lm-TabBar-tab", has_text="search-penguins-2.ipynb")).to_have_count(1)
    _launch_search(page, SECOND_SEARCH)
    _set_cell(page, 3, "import time\n\ntime.sleep(600)  # the kernel is busy")
    _run_cell(page, 3)
    busy = page.get_by_text("Python 3 (ipykernel) | Busy")
    expect(busy).to_have_count(1, timeout=30_000)
    second = _item(page, "experiments", "2")
    expect(second.locator('[data-action="cancel"]')).to_be_visible(timeout=60_000)
    # trials are finishing: the panel's count moves while the kernel sleeps
    expect(second.locator(".jp-WorkbenchPanel-trials")).to_contain_text(
        re.compile(r"\b([3-9]|\d\d+)/400"), timeout=120_000
    )
    second.locator('[data-action="cancel"]').click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(second).to_contain_text(re.compile("cancelled|stopped"), timeout=120_000)
    expect(second.locator('[data-action="cancel"]')).to_have_count(0, timeout=120_000)  # its job has ended
    expect(second).not_to_contain_text("cancelling", timeout=60_000)
    expect(busy).to_have_count(1)  # stopped over REST: the kernel never had to answer
    _shot(page, folder, "light-panel-4-stopped")
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").click()
    page.keyboard.press("Escape")
    page.keyboard.press("i")
    page.keyboard.press("i")  # interrupt the sleeping kernel

    # 3. Promote (the contract check's result shown) and serve, from the panel.
    model = _item(page, "models", "penguins@1")
    expect(model).to_be_visible(timeout=60_000)
    model.locator('[data-action="promote"]').click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(re.compile("contract", re.I), timeout=180_000)
    expect(dialog).to_contain_text(re.compile("passed", re.I))
    _shot(page, folder, "light-panel-5-promoted")
    dialog.locator(".jp-mod-accept").click()
    expect(model).to_contain_text("production")
    model.locator('[data-action="serve"]').click()
    endpoint = _section(page, "endpoints").locator(".jp-WorkbenchPanel-item").first
    expect(endpoint).to_contain_text("ready", timeout=180_000)

    # 4. Try it: a form from the model's input schema; one row through the server extension.
    _try_it(page, endpoint)
    expect(endpoint).to_contain_text(re.compile(r"1 request"), timeout=30_000)
    _shot(page, folder, "light-panel-6-try-it")
    _copied_curl_answers(page, endpoint)

    # 5. A notebook run as a batch job from the command palette; its output opens from the Jobs section.
    page.goto(f"{url}/lab/tree/double.ipynb")
    expect(_item(page, "datasets", "penguins")).to_be_visible(timeout=60_000)  # the panel came back after the reload
    _wait_for_kernel(page, "double.ipynb")
    expect(page.locator(".jp-NotebookPanel:visible .jp-WorkbenchPanel-runAsJob")).to_have_count(1)  # the toolbar's
    dialog = _batch_dialog(page, "21")
    _shot(page, folder, "light-panel-7-batch-dialog")
    dialog.locator(".jp-mod-accept").click()
    job = _section(page, "jobs").locator(".jp-WorkbenchPanel-item", has_text="double.ipynb").first
    expect(job).to_contain_text("finished", timeout=180_000)
    job.locator('[data-action="open-output"]').click()
    expect(page.locator(".lm-TabBar-tab", has_text=re.compile(r"double-run-\d{8}-\d{6}\.ipynb"))).to_have_count(1)
    expect(page.locator(".jp-NotebookPanel:visible")).to_contain_text("a 42", timeout=60_000)
    _shot(page, folder, "light-panel-8-job")

    # 6. The dark theme: everything through JupyterLab's CSS variables.
    page.get_by_role("menuitem", name="Settings", exact=True).click()
    page.get_by_text("Theme", exact=True).hover()
    page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
    page.locator("body[data-jp-theme-light='false']").wait_for(state="attached")
    page.wait_for_timeout(1000)
    panel = page.locator(".jp-WorkbenchPanel").first
    background = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), background
    _shot(page, folder, "dark-panel-8-job")
    page.locator(".lm-TabBar-tab", has_text="double.ipynb").first.click()
    dialog = _batch_dialog(page, "5")
    _shot(page, folder, "dark-panel-7-batch-dialog")
    dialog.locator(".jp-mod-reject").click()
    model.locator('[data-action="promote"]').click()
    expect(page.locator(".jp-Dialog")).to_contain_text(re.compile("passed", re.I), timeout=180_000)
    _shot(page, folder, "dark-panel-5-promoted")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    _try_it(page, endpoint)
    _shot(page, folder, "dark-panel-6-try-it")
    _section(page, "datasets").scroll_into_view_if_needed()
    _shot(page, folder, "dark-panel-1-datasets")
