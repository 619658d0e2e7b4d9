"""What the panel shows and does, the CLI does too: a search notebook for a dataset, a model's input
columns, an endpoint's request and error counts."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

import workbench.api as wb
from workbench.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def home(populated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(populated_home))
    return populated_home


def test_datasets_notebook_writes_a_search_notebook_and_never_overwrites(home: Path, tmp_path: Path) -> None:
    first = runner.invoke(app, ["datasets", "notebook", "penguins", "--path", str(tmp_path), "--cluster", "local:1"])
    second = runner.invoke(app, ["datasets", "notebook", "penguins", "--path", str(tmp_path)])
    assert first.exit_code == second.exit_code == 0, first.output
    assert (tmp_path / "search-penguins.ipynb").is_file() and (tmp_path / "search-penguins-2.ipynb").is_file()
    notebook = nbformat.read(tmp_path / "search-penguins.ipynb", as_version=4)
    assert "local:1" in notebook.cells[1].source and "parameters" in notebook.cells[1].metadata["tags"]
    taken = runner.invoke(app, ["datasets", "notebook", "penguins", "--path", str(tmp_path / "search-penguins.ipynb")])
    unknown = runner.invoke(app, ["datasets", "notebook", "no-such-table", "--path", str(tmp_path)])
    assert (taken.exit_code, unknown.exit_code) == (2, 2)
    assert "already exists" in taken.stderr and "no-such-table" in unknown.stderr and "Traceback" not in unknown.output


def test_models_schema_and_endpoint_counts(home: Path) -> None:
    shown = runner.invoke(app, ["models", "schema", "penguins@1", "--json"])
    assert shown.exit_code == 0, shown.output
    columns = {c["name"]: c for c in json.loads(shown.stdout)["columns"]}
    assert columns["island"]["categories"] == ["Biscoe", "Dream", "Torgersen"] and columns["year"]["required"]
    table = runner.invoke(app, ["models", "schema", "penguins@1"])
    assert table.exit_code == 0 and "Torgersen" in table.stdout and "categorical" in table.stdout
    endpoint = wb.start_endpoint("penguins@1", workspace=home)
    try:
        row = {"island": "Dream", "bill_length_mm": 50.0, "bill_depth_mm": 19.0, "flipper_length_mm": 196.0}
        row |= {"body_mass_g": 3900.0, "sex": "male", "year": 2009}
        wb.endpoint_predict(endpoint.id, [row, row], workspace=home)
        with pytest.raises(wb.WorkbenchError):
            wb.endpoint_predict(endpoint.id, [{"island": "Dream"}], workspace=home)
        listed = runner.invoke(app, ["endpoints", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        item = next(e for e in json.loads(listed.stdout) if e["id"] == endpoint.id)
        assert item["metrics"] == {"requests": 2, "errors": 1}
    finally:
        wb.stop_endpoint(endpoint.id, workspace=home)
    assert wb.endpoint_metrics(endpoint.id, workspace=home) is None  # a stopped endpoint has no counts
