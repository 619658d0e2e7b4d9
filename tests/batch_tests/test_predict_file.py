"""Batch scoring: files scored in partitions on a real Dask cluster, answers equal to the served endpoint's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from batch_support import Scoring, penguin_rows
from fastapi.testclient import TestClient

import workbench.api as wb
from workbench.registry import RegistrySource
from workbench.serve import create_app

WORKBENCH = [sys.executable, "-m", "workbench"]
REPO = Path(__file__).resolve().parents[2]


def _served(scoring: Scoring, rows: pd.DataFrame) -> dict:
    """What the model server answers for `rows` (JSON records), served in-process from the registry."""
    records = json.loads(rows.to_json(orient="records"))
    with TestClient(
        base_url="http://127.0.0.1", app=create_app(RegistrySource(scoring.home, "peng@production"))
    ) as client:
        for _ in range(200):
            if client.get("/v2/health/ready").status_code == 200:
                break
            import time

            time.sleep(0.05)
        response = client.post("/predict", json=records)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_scoring_notebook_writes_what_the_served_endpoint_answers(scoring: Scoring) -> None:
    rows = penguin_rows(3000)
    source = scoring.data / "to-score.csv"
    rows.to_csv(source, index=False)
    out = scoring.data / "scored.csv"
    done = subprocess.run(
        [
            *WORKBENCH, "run", str(REPO / "notebooks" / "03_batch_scoring.ipynb"),
            "-p", "model", "peng@production",
            "-p", "input_path", str(source),
            "-p", "output_path", str(out),
            "-p", "keep", "island",
            "--cluster", scoring.cluster,
            "--output", str(scoring.data / "scoring-run.ipynb"),
        ],
        env=scoring.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3000 rows in" in done.stdout and "finished" in done.stdout
    written = pd.read_csv(
        out, float_precision="round_trip"
    )  # the file holds every digit; pandas' default parser drops some
    assert list(written.columns) == ["island", "prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert written["island"].tolist() == rows["island"].tolist()  # input order kept
    served = _served(scoring, rows)
    assert written["prediction"].tolist() == served["predictions"]
    probabilities = written[[f"proba_{c}" for c in served["classes"]]].to_numpy()
    assert np.array_equal(probabilities, np.asarray(served["probabilities"]))  # the same fast path, bit for bit
    job = wb.list_jobs(kind="notebook")[-1]
    assert job.status == "finished" and job.outputs["values"]["rows"] == 3000
    assert job.outputs["values"]["model"] == scoring.model
    assert Path(job.outputs["notebook"]) == scoring.data / "scoring-run.ipynb"


def test_a_bad_value_names_its_partition_and_row_and_leaves_no_file(scoring: Scoring) -> None:
    import dask.dataframe as dd

    rows = penguin_rows(4000)
    rows["bill_length_mm"] = rows["bill_length_mm"].astype(object)
    rows.loc[3100, "bill_length_mm"] = "oops"
    source = scoring.data / "bad.csv"
    rows.to_csv(source, index=False)
    out = scoring.data / "bad-out.csv"
    with pytest.raises(wb.BatchInputError) as raised:
        wb.predict_file(scoring.model, source, out, cluster=scoring.cluster, blocksize=40_000)
    message = str(raised.value)
    assert "column 'bill_length_mm' holds 'oops', not a number" in message
    partition, row = (int(x) for x in message.split(":")[0].replace("Partition ", "").split(", row "))
    frame = dd.read_csv(str(source), blocksize=40_000, dtype=str)
    assert frame.npartitions > 2 and partition > 0
    assert frame.get_partition(partition).compute().iloc[row]["bill_length_mm"] == "oops"
    leftovers = [p.name for p in scoring.data.iterdir() if p.name.startswith((".bad-out", "bad-out"))]
    assert leftovers == []


def test_bad_requests_are_refused_before_the_cluster_works(scoring: Scoring, tmp_path: Path) -> None:
    rows = penguin_rows(10)
    source = scoring.data / "no-island.csv"
    rows.drop(columns=["island"]).to_csv(source, index=False)
    with pytest.raises(wb.WorkbenchError, match="no column 'island'"):
        wb.predict_file(scoring.model, source, scoring.data / "x.csv", cluster=scoring.cluster)
    with pytest.raises(wb.WorkbenchError, match=r"must be a \.csv or \.parquet"):
        wb.predict_file(scoring.model, source, scoring.data / "x.json", cluster=scoring.cluster)
    outside = tmp_path / "elsewhere.csv"
    rows.to_csv(outside, index=False)
    with pytest.raises(wb.WorkbenchError, match="outside the folders"):
        wb.predict_file(scoring.model, outside, scoring.data / "x.csv", cluster=scoring.cluster)
    with pytest.raises(wb.WorkbenchError, match=r"nope"):
        wb.predict_file("nope", source, scoring.data / "x.csv", cluster=scoring.cluster)
    with pytest.raises(wb.WorkbenchError, match="does not exist"):
        wb.predict_file(scoring.model, source, scoring.data / "no" / "x.csv", cluster=scoring.cluster)
    assert not (scoring.data / "x.csv").exists()


def test_parquet_in_and_out_in_partitions_with_progress_and_the_cli(scoring: Scoring) -> None:
    rows = penguin_rows(6000)
    source = scoring.data / "many.parquet"
    rows.to_parquet(source, row_group_size=1000)
    out = scoring.data / "many-scored.parquet"
    seen: list[tuple[int, int]] = []
    result = wb.predict_file(
        "peng", source, out, cluster=scoring.cluster, keep=["year"], progress=lambda d, n: seen.append((d, n))
    )
    assert result.rows == 6000 and result.model == scoring.model and result.output == out
    assert seen and seen[-1] == (result.partitions, result.partitions)
    written = pd.read_parquet(out)
    assert len(written) == 6000 and written["year"].tolist() == rows["year"].tolist()
    in_process = wb.predict(scoring.model, rows.head(500))
    assert written["prediction"].head(500).tolist() == list(in_process)
    cli_out = scoring.data / "cli.csv"
    done = subprocess.run(
        [*WORKBENCH, "predict", "peng@production", str(source), "-o", str(cli_out), "--cluster", scoring.cluster, "--json"],
        env=scoring.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 6000 and report["model"] == scoring.model
    assert pd.read_csv(cli_out)["prediction"].tolist() == written["prediction"].tolist()
    refused = subprocess.run(
        [*WORKBENCH, "predict", "peng", str(scoring.data / "none.csv"), "-o", str(cli_out)],
        env=scoring.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "There is no file" in refused.stderr and "Traceback" not in refused.stderr
