"""`workbench compare` through typer's runner, on real searches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare")


@pytest.fixture(autouse=True)
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(home / "ws"))
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(home))
    monkeypatch.setenv("WORKBENCH_DATASETS_DIR", str(REPO / "datasets"))
    monkeypatch.chdir(home)


def _search(*args: str) -> int:
    result = runner.invoke(app, ["search", *args, "--engines", "optuna", "--cluster", "local:2", "--json"])
    assert result.exit_code == 0, result.stderr
    return int(json.loads(result.stdout)["experiment_id"])


@pytest.fixture(scope="module")
def experiment_id(home: Path) -> int:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_HOME", str(home / "ws"))
        mp.setenv("WORKBENCH_DATASETS_DIR", str(REPO / "datasets"))
        mp.chdir(home)
        return _search("penguins", "--families", "linear,lightgbm,forest", "--trials", "5")


def _ensembles(home: Path) -> int:
    with sqlite3.connect(home / "ws" / "workbench.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM ensembles").fetchone()[0])


def test_compare_builds_an_ensemble_and_a_report(home: Path, experiment_id: int) -> None:
    result = runner.invoke(
        app, ["compare", str(experiment_id), "--ensemble", "max_members=2", "--html", "report.html", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["ensemble"]["members"]) <= 2 and out["ensemble"]["id"] >= 1
    html = Path(out["report"]).read_text()
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<html")
    assert "<script src=" not in html.replace('<script src="data:', "")  # plotly.js is inlined, nothing loaded
    assert out["ensemble"]["members"][0]["name"] in html
    board = json.loads(runner.invoke(app, ["leaderboard", str(experiment_id), "--json"]).stdout)
    # One ranking: the saved ensemble stands beside the candidates it was built from.
    assert {row["engine"] for row in board} == {"optuna", "workbench"}
    assert f"e{out['ensemble']['id']}" in [row["key"] for row in board]
    plain = runner.invoke(app, ["compare", str(experiment_id)])
    assert plain.exit_code == 0 and "Leaderboard" in plain.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "99", "--html", "r.html"], "no experiment 99"),
        (["compare", "{id}", "--ensemble", "speed=3"], "Unknown ensemble constraint"),
        (["compare", "{id}", "--ensemble", "max_latency_ms=0"], "more than 0"),
        (["compare", "{id}", "--ensemble", "max_latency_ms=0.000001"], "No candidate meets"),
        (["compare", "{id}", "--html", "missing/folder/r.html"], "does not exist"),
        (["compare", "{id}", "--ensemble", "", "--methods", "bagging"], "Unknown ensemble method"),
    ],
)
def test_bad_compare_input(home: Path, experiment_id: int, args: list[str], message: str) -> None:
    before = _ensembles(home)
    result = runner.invoke(app, [a.replace("{id}", str(experiment_id)) for a in args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message.lower() in result.stderr.lower() and len(result.stderr.strip().splitlines()) == 1
    assert _ensembles(home) == before


def test_user_names_are_escaped_in_the_report(home: Path) -> None:
    rng = np.random.default_rng(0)
    n = 240
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            PAYLOAD: x,
            "other": rng.normal(size=n),
            "label": np.where(x + rng.normal(scale=0.5, size=n) > 0, "<b>yes</b>", "no"),
        }
    )
    frame.to_csv(home / "xss.csv", index=False)
    added = runner.invoke(app, ["datasets", "add", "xss", "xss.csv", "--target", "label"])
    assert added.exit_code == 0, added.stderr
    experiment = _search("xss", "--families", "linear,lightgbm", "--trials", "3")
    result = runner.invoke(app, ["compare", str(experiment), "--ensemble", "", "--html", "xss.html", "--json"])
    assert result.exit_code == 0, result.stderr
    html = (home / "xss.html").read_text()
    assert "<img src=x" not in html and "<b>yes</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "\\u003cimg src=x" in html
