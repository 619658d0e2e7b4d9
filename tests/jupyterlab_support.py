"""JupyterLab on 127.0.0.1 for the browser tests, driven by Debian's headless chromium through Playwright
(Playwright's own browser download does not work here)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def jupyter_lab(
    root: Path, env: dict[str, str], state: Path, server_config: dict[str, Any] | None = None
) -> Iterator[tuple[str, str]]:
    """`jupyter lab` serving `root`, with its settings, workspaces and config under `state` (no user
    settings: the default light theme, no news toast); yields its URL and token."""
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(env)
    env["JUPYTER_CONFIG_DIR"] = str(state / "jupyter-config")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(state / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(state / "lab-workspaces")
    notifications = state / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True, exist_ok=True)
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    if server_config:
        config = state / "jupyter-config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = state / "lab.log"
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextlib.contextmanager
def chromium_page(viewport: dict[str, int]) -> Iterator[Any]:
    """A page in Debian's headless chromium (video off: it needs Playwright's own ffmpeg)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: make test installs it (apt-get install -y chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            page.set_default_timeout(120_000)
            yield page
        finally:
            browser.close()


def screenshots_folder(tmp_path: Path) -> Path:
    """WORKBENCH_SCREENSHOTS_DIR when set (how the README's pictures under docs/ are made), else a temp folder."""
    folder = Path(os.environ.get("WORKBENCH_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
