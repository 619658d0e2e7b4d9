"""The CLI through typer's test runner: every command, and every bad input from the issue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _store_state(home: Path) -> tuple:
    """What a user could see of the store: rows of every table, and the files under it."""
    import sqlite3

    if not (home / "workbench.db").exists():
        return ()
    conn = sqlite3.connect(home / "workbench.db")
    rows = tuple(
        tuple(conn.execute(f"SELECT * FROM {t}").fetchall())
        for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    )
    conn.close()
    files = tuple(sorted(str(p.relative_to(home)) for p in (home / "artifacts").rglob("*")))
    return rows, files


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("workbench 0.")
    done = subprocess.run([sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("workbench ")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["datasets"],
        ["experiments"],
        ["datasets", "list"],
        ["datasets", "show"],
        ["datasets", "profile"],
        ["datasets", "add"],
        ["experiments", "list"],
        ["experiments", "show"],
        ["experiments", "create"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout and len(result.stdout) > 100


def test_datasets_list_show_profile(cli_env: Path) -> None:
    code, out, _ = run("datasets", "list")
    assert code == 0 and "penguins" in out and "flights" in out
    code, out, _ = run("datasets", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and {"name", "kind", "task", "target", "metric", "rows", "licence"} <= listed[0].keys()
    code, out, _ = run("datasets", "show", "penguins", "--json")
    assert code == 0 and json.loads(out)["target"] == "species"
    code, out, _ = run("datasets", "show", "penguins")
    assert code == 0 and "CC0" in out
    code, out, _ = run("datasets", "profile", "penguins")
    assert code == 0 and "344 rows" in out and "multiclass" in out and "island" in out
    code, out, _ = run("datasets", "profile", "penguins", "--json")
    data = json.loads(out)
    assert code == 0 and data["problem_type"] == "multiclass" and data["rows"] == 344
    assert {"column_profiles", "content_hash", "leakage", "target_distribution", "warnings"} <= data.keys()


def test_datasets_add_and_experiments(cli_env: Path, data_dir: Path) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=50), "y": rng.choice([0, 1], size=50)}).to_csv(data_dir / "t.csv", index=False)
    code, out, err = run("datasets", "add", "toy", "t.csv", "--target", "y", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "toy"
    code, out, _ = run("experiments", "create", "toy", "--seed", "4", "--trials", "5")
    assert code == 0 and out.strip().splitlines()[-1] == "1"
    code, out, _ = run("experiments", "create", "penguins", "--json", "--time-limit", "30")
    created = json.loads(out)
    assert code == 0 and created["id"] == 2 and created["budget"] == {"time_limit_s": 30.0, "n_trials": None}
    code, out, _ = run("experiments", "list", "--json")
    assert code == 0 and [e["id"] for e in json.loads(out)] == [1, 2]
    code, out, _ = run("experiments", "list")
    assert code == 0 and "toy-y" in out
    code, out, _ = run("experiments", "show", "1", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["split"]["seed"] == 4 and shown["problem_type"] == "binary"
    code, out, _ = run("experiments", "show", "2")
    assert code == 0 and "stratified" in out
    # the folds of its selection: chosen from the rows and the budget, or given
    assert created["cv_folds"] == 4 and created["split"]["cv_folds"] == 4
    assert "4-fold cross-validated over the 275 train and valid rows" in created["selection"]
    assert "4-fold" in out
    code, out, _ = run("experiments", "create", "penguins", "--cv-folds", "1", "--json")
    assert code == 0 and json.loads(out)["cv_folds"] == 1
    code, out, _ = run("experiments", "create", "penguins", "--cv-folds", "6", "--json")
    assert code == 0 and json.loads(out)["cv_folds"] == 6


def _write_bad_files(data_dir: Path, outside: Path) -> None:
    (data_dir / "empty.csv").write_text("")
    (data_dir / "header_only.csv").write_text("a,b\n")
    (data_dir / "binary.parquet").write_bytes(b"\x00\x01garbage" * 10)
    (data_dir / "notes.docx").write_text("hello")
    (data_dir / "one_class.csv").write_text("x,y\n1,a\n2,a\n3,a\n")
    (data_dir / "ok.csv").write_text("x,y\n1,a\n2,b\n3,a\n4,b\n")
    (outside / "secret.csv").write_text("x,y\n1,a\n2,b\n")
    os.symlink(outside / "secret.csv", data_dir / "escape.csv")


BAD_INPUTS = [
    (["datasets", "add", "d", "missing.csv"], "no file"),
    (["datasets", "add", "d", "notes.docx"], "unknown file type"),
    (["datasets", "add", "d", "binary.parquet"], "could not be read as parquet"),
    (["datasets", "add", "d", "empty.csv"], "is empty"),
    (["datasets", "add", "d", "header_only.csv"], "has no rows"),
    (["datasets", "add", "d", "ok.csv", "--target", "z"], "not a column"),
    (["datasets", "add", "d", "one_class.csv", "--target", "y"], "only one value"),
    (["datasets", "add", "d", "../outside/secret.csv"], "outside the folders"),
    (["datasets", "add", "d", "escape.csv"], "outside the folders"),
    (["datasets", "add", "d", "{outside}/secret.csv"], "outside the folders"),
    (["datasets", "add", "../d", "ok.csv"], "not a plain name"),
    (["datasets", "add", "/etc/d", "ok.csv"], "not a plain name"),
    (["datasets", "add", "d", "--url", "sqlite:///../outside/x.db", "--query", "SELECT 1"], "outside the folders"),
    (["datasets", "show", "nope"], "no dataset"),
    (["datasets", "profile", "penguins", "--target", "nope"], "not a column"),
    (["datasets", "profile", "penguins", "--metric", "rmse"], "does not apply"),
    (["experiments", "create", "penguins", "--time-limit", "0"], "more than 0 seconds"),
    (["experiments", "create", "penguins", "--trials", "0"], "at least 1"),
    (["experiments", "create", "penguins", "--problem-type", "ranking"], "Unknown problem type"),
    (["experiments", "create", "penguins", "--cv-folds", "many"], "auto or a whole number"),
    (["experiments", "create", "penguins", "--cv-folds", "0"], "from 1"),
    (["experiments", "create", "penguins", "--cv-folds", "3", "--group-column", "island"], "cv_folds=1"),
    (["experiments", "show", "99"], "no experiment 99"),
    (["experiments", "show", "abc"], "not an experiment id"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_sentence_exit_2_and_writes_nothing(
    cli_env: Path, data_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _write_bad_files(data_dir, outside)
    args = [a.replace("{outside}", str(outside)) for a in args]
    run("datasets", "list")  # the store exists before, so "nothing written" compares two real states
    before = _store_state(cli_env)
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert message.lower() in err.lower()
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert _store_state(cli_env) == before


def test_file_size_cap_from_the_environment(cli_env: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pd.DataFrame({"x": range(500), "y": [0, 1] * 250}).to_csv(data_dir / "big.csv", index=False)
    monkeypatch.setenv("WORKBENCH_MAX_FILE_BYTES", "1KB")
    code, _, err = run("datasets", "add", "big", "big.csv")
    assert code == 2 and "1.0 KB cap" in err
    monkeypatch.setenv("WORKBENCH_MAX_FILE_BYTES", "lots")
    code, _, err = run("datasets", "list")
    assert code == 2 and "not a size" in err


def test_markup_in_user_data_is_printed_as_text(cli_env: Path, data_dir: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"[/x]": rng.normal(size=40), "[link=x]t[/link]": rng.choice(["a", "b"], size=40)})
    frame.to_csv(data_dir / "markup.csv", index=False)
    code, out, err = run("datasets", "add", "markup", "markup.csv", "--target", "[link=x]t[/link]")
    assert code == 0, err
    code, out, err = run("datasets", "profile", "markup")
    assert code == 0 and "Traceback" not in out + err, err  # "[/x]" closed no open tag: it crashed rich
    assert "target [link=x]t[/link] -> binary" in out and "[/x]" in out
    code, out, err = run("datasets", "profile", "markup", "--target", "[/nope]")
    assert code == 2 and "[/nope]" in err and "\\[" not in err and len(err.strip().splitlines()) == 1


def _printed(show: Callable[[Console], None], width: int) -> tuple[str, str]:
    """The header line and the whole text that `show` prints on a terminal `width` wide, no line wider."""
    console = Console(width=width, record=True, color_system=None)
    show(console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    return text.splitlines()[2], text


def test_the_leaderboard_fits_the_terminal() -> None:
    """Numbers never wrap; a narrow terminal loses the optional columns before a name folds short."""

    from workbench.api import Leaderboard, LeaderboardRow
    from workbench.cli._render import print_leaderboard

    rows = tuple(
        LeaderboardRow(
            rank=i + 1,
            key=f"c{i + 1}",
            kind="candidate",
            id=i + 1,
            name=name,
            engine=name.split("-")[0],
            model_type="LGBModel",
            trial=i,
            valid_score=0.9955 - i / 1000,
            test_score=0.9818,
            fit_time_s=13.6,
            predict_row_ms=11.16,
            predict_batch_ms=20.0,
            size_bytes=13_300_000,
            trained_on="all: 275 rows, 3 seeds averaged, bagged over 4 folds" if i == 0 else "train",
        )
        for i, name in enumerate(["autogluon-0-WeightedEnsemble_L2", "optuna-12-lightgbm"])
    )
    board = Leaderboard(1, "accuracy", True, rows, selection="Valid scores: 4-fold cross-validated.")

    def header_and_text(width: int) -> tuple[str, str]:
        return _printed(lambda console: print_leaderboard(console, board), width)

    header, text = header_and_text(200)
    for column in ("#", "key", "model", "engine", "valid", "test", "fit s", "row ms", "size", "trained on"):
        assert f" {column} " in header
    assert "autogluon-0-WeightedEnsemble_L2" in text and "bagged over 4 folds" in text
    header, text = header_and_text(80)
    assert " engine " not in header and " size " not in header
    assert " valid " in header and " test " in header and " trained on " in header
    for number in ("0.9955", "0.9945", "0.9818"):  # whole, on one line
        assert number in text
    header, text = header_and_text(110)
    assert " engine " not in header and " row ms " in header


def test_the_datasets_table_fits_the_terminal(cli_env: Path) -> None:
    """One line per dataset on a laptop's terminal: the description, the kind and the column count go before
    a name, task, target, metric or row count would wrap."""
    import workbench.api as wb
    from workbench.cli._render import print_datasets

    entries = wb.list_datasets()

    def header_and_text(width: int) -> tuple[str, str]:
        return _printed(lambda console: print_datasets(console, entries), width)

    header, text = header_and_text(200)
    for column in ("name", "kind", "task", "target", "metric", "rows", "columns", "description"):
        assert f" {column} " in header
    assert "Palmer Archipelago" in text
    header, text = header_and_text(80)
    assert " description " not in header and " kind " not in header and " columns " not in header
    body = [line for line in text.splitlines()[4:] if line.startswith("│")]
    assert len(body) == len(entries), text  # one line each: nothing folded
    for entry in entries:
        assert any(line.split("│")[1].strip() == entry.name for line in body)
    assert "nyc_weather_precip" in text and "balanced_accuracy" in text and "26115" in text
    header, _ = header_and_text(100)
    assert " kind " in header and " columns " in header and " description " not in header


def test_the_example_notebooks_are_found_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbench demo` outside a clone runs the quickstart installed with workbench (the wheel's copy is
    checked by `make wheel-check`)."""
    import workbench.api as wb
    from workbench.errors import NotFoundError

    monkeypatch.chdir(tmp_path)
    quickstart = wb.example_notebook()
    assert quickstart.is_absolute() and quickstart.name == "01_quickstart.ipynb"
    assert "parameters" in quickstart.read_text()  # papermill's parameters cell: the demo sets the budget there
    assert wb.example_notebook("03_batch_scoring.ipynb").is_file()
    with pytest.raises(NotFoundError, match="no example notebook"):
        wb.example_notebook("nothing.ipynb")
