"""The notebooks run headless end to end (papermill), on a small budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench.api as wb

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=110)]
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _papermill(notebook: str, out: Path, env: dict[str, str], *args: str) -> dict:
    env = {k: v for k, v in env.items() if k != "WORKBENCH_HEADLESS"}  # papermill's own requests say it
    papermill = Path(sys.executable).with_name("papermill")
    done = subprocess.run(
        [str(papermill), str(NOTEBOOKS / notebook), str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    executed: dict = json.loads(out.read_text())
    return executed


def _text(notebook: dict) -> str:
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_the_quickstart_runs_headless(widget_env: dict[str, str], tmp_path: Path) -> None:
    args = ["-p", "n_trials", "3", "-y", "engines: [optuna]", "-y", "families: [linear, lightgbm]"]
    text = _text(_papermill("01_quickstart.ipynb", tmp_path / "quick.ipynb", widget_env, *args))
    assert "search finished" in text and "registered penguins@1" in text
    assert "3/3 trials" in text
    assert wb.show_model("penguins").version == 1


def test_the_python_api_notebook_runs_headless(widget_env: dict[str, str], tmp_path: Path) -> None:
    text = _text(_papermill("02_python_api.ipynb", tmp_path / "api.ipynb", widget_env, "-p", "n_trials", "3"))
    assert "search finished" in text and "'b1'" in text  # the contract check's latencies
    assert any(label in text.splitlines()[-1] for label in ("Adelie", "Chinstrap", "Gentoo"))
    assert wb.show_model("penguins@production").version == 1


def test_committed_notebooks_have_no_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        assert not [c for c in cells if c.get("outputs") or c.get("execution_count")], path.name
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), path.name


def test_the_scoring_notebook_is_the_one_the_export_step_writes(tmp_path: Path) -> None:
    written = wb.write_scoring_notebook(tmp_path / "score.ipynb", "penguins@production")

    def cells(path: Path) -> list[tuple[str, str, list[str]]]:
        return [
            (c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", []))
            for c in json.loads(path.read_text())["cells"]
        ]

    assert cells(NOTEBOOKS / "03_batch_scoring.ipynb") == cells(written)
