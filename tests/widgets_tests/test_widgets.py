"""The widgets driven from Python as a user would (set values, click buttons), against real searches,
a real ensemble, a real registry, contract check and endpoint."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from widget_support import wait_until

import workbench.api as wb
import workbench.widgets as wbw

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=140)]
XSS = "<img src=x onerror=alert(1)>"


def test_the_workbench_clicked_through_from_a_dataset_to_an_endpoint(widget_env: dict[str, str]) -> None:
    app = wbw.Workbench()
    app.wait_idle()
    app.dataset.picker.value = "penguins"  # as a user picks it
    app.wait_idle()
    assert (app.dataset.target, app.dataset.problem_type, app.dataset.metric) == ("species", "multiclass", "accuracy")
    assert app.dataset.metric_picker.options[0] == "accuracy" and "roc_auc" not in app.dataset.metric_picker.options
    app.search.engine_boxes["autogluon"].value = False
    app.search.family_picker.value = ("linear", "lightgbm")
    app.search.trials_box.value = 4
    app.search.cluster_mode.value = "local"
    app.search.workers_box.value = 2
    app.wait_idle()
    assert "2 workers, 2 threads, 0 GPUs" in app.search.cluster_note.value  # shown before launching
    app.search.launch_button.click()
    wait_until(lambda: app.experiment_id is not None, what="the launch")
    wait_until(lambda: app.monitor.job_status == "finished", what="the search")
    wait_until(lambda: app.compare.comparison is not None and app.ensemble.comparison is not None, what="loading")
    app.wait_idle()
    experiment_id = app.experiment_id
    assert experiment_id is not None and app.tabs.selected_index == 2  # it showed the monitor
    assert (app.monitor.done, app.monitor.target, app.monitor.status) == (4, 4, "finished")
    points = sum(len(h.figure.data[0].x) for h in app.monitor.engines.values())
    assert points == 4 and list(app.monitor.engines) == ["optuna"]
    board = wb.leaderboard(experiment_id)
    assert app.compare.selected == board.rows[0].key and app.compare.other == board.rows[1].key
    first = board.rows[0]  # the comparison's table prints scores as the CLI does: 4 decimals
    assert f'<td class="num">{first.valid_score:.4f}</td><td class="num">{first.test_score:.4f}</td>' in (
        app.compare.board.value
    )
    app.compare.view_picker.value = "Confusion"
    app.wait_idle()
    assert app.compare.view_area.children  # a figure for the selected model

    keys = [r.key for r in board.rows if r.kind == "candidate"][:2]
    app.ensemble.set_weights({keys[0]: 1.0, keys[1]: 0.5})
    expected = wb.preview_ensemble(experiment_id, {keys[0]: 1.0, keys[1]: 0.5})
    assert app.ensemble.valid_score == pytest.approx(expected.valid_score)  # at once, from stored predictions
    wait_until(lambda: app.ensemble.measured_row_ms is not None, timeout_s=60, what="the measurement")
    app.ensemble.save_button.click()
    app.wait_idle()
    assert app.ensemble.saved.startswith("e") and app.ensemble.saved in [
        r.key for r in wb.leaderboard(experiment_id).rows
    ]

    app.export.load(experiment_id)
    app.export.model_picker.value = app.ensemble.saved
    app.export.name_box.value = "penguins-clicked"
    app.export.register_button.click()
    app.wait_idle()
    assert app.export.version == "penguins-clicked@1"
    assert wb.show_model("penguins-clicked@1").source["kind"] == "ensemble"
    app.export.promote_button.click()
    app.wait_idle()
    assert "Contract check passed" in app.export.contract.value and "p50" in app.export.contract.value
    app.export.serve_button.click()
    app.wait_idle()
    assert app.export.endpoint_id is not None and app.export.endpoint_url.startswith("http://127.0.0.1:")
    assert "curl -s http://127.0.0.1:" in app.export.curl.value and "It answered" in app.export.answer.value
    printed = subprocess.run(
        [sys.executable, "-c", app.export.python.value], capture_output=True, text=True, timeout=60, check=True
    )  # the Python example runs as written
    assert json.loads(printed.stdout.replace("'", '"'))["predictions"][0] in ("Adelie", "Chinstrap", "Gentoo")
    curled = subprocess.run(["sh", "-c", app.export.curl.value], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(curled.stdout)["predictions"][0] in ("Adelie", "Chinstrap", "Gentoo")  # and the curl one
    app.export.stop_button.click()
    app.wait_idle()
    assert app.export.endpoint_id is None and [e.status for e in wb.list_endpoints()] == ["stopped"]
    assert not any(step.error for step in app.steps), [step.error for step in app.steps]


def test_the_monitor_reattaches_and_replays_the_history(widget_env: dict[str, str]) -> None:
    experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=5))
    wb.start_search(experiment.id, wb.search_config(engines=("optuna",), families=("linear",), cluster="local:2"))
    shown = [wbw.Monitor(experiment.id)]
    wait_until(lambda: shown[0].done >= 1, what="a first trial")
    shown[0].detach()
    shown.clear()  # the widget is discarded (a page reload, a kernel restart)
    wb.attach(experiment.id).wait(timeout=240)
    again = wbw.Monitor(experiment.id)
    assert again.wait(timeout=60) == "finished"
    finished = [t for t in wb.list_trials(experiment.id) if t.state == "COMPLETE"]
    history = again.engines["optuna"]
    assert sorted(history.figure.data[0].x) == sorted(t.number for t in finished)
    assert again.done == 5 and again.status == "finished" and again.finish_button.disabled
    assert again.finish_button.layout.display == again.cancel_button.layout.display == "none"  # nothing to stop
    values = list(history.figure.data[0].y)
    assert list(history.figure.data[1].y) == list(np.maximum.accumulate(values))  # best so far, accuracy


def test_widget_parameters_saved_as_a_notebook_reproduce_the_search_run_as_a_job(
    widget_env: dict[str, str], tmp_path: Path
) -> None:
    app = wbw.Workbench(
        "penguins", engines=("optuna",), families=("linear",), n_trials=3, cluster="local:2", name="again", alias=""
    )
    app.wait_idle()
    app.dataset.metric_picker.value = "balanced_accuracy"
    parameters = app.parameters()
    assert json.loads(json.dumps(parameters)) == parameters  # plain JSON
    assert (parameters["dataset"], parameters["metric"], parameters["n_trials"]) == ("penguins", "balanced_accuracy", 3)
    app.notebook_path.value = str(tmp_path / "flow.ipynb")
    app.run_button.click()  # saves the notebook, then runs it as a job of its own
    assert "Saved" in app.saved.value and app.job.job_id is not None
    assert app.job.wait(timeout=600) == "finished", app.job.summary()
    (job,) = [j for j in wb.list_jobs() if j.kind == "notebook"]
    assert job.id == app.job.job_id and job.status == "finished"
    assert app.job.values == {"experiment": 1, "model": "again@1"}  # what the flow recorded in its job
    assert f"Job {job.id} finished" in app.job.text.value and app.job.cancel_button.layout.display == "none"
    (experiment,) = wb.list_experiments()
    assert (experiment.dataset, experiment.target, experiment.metric) == ("penguins", "species", "balanced_accuracy")
    assert experiment.budget == wb.Budget(None, 3)
    assert experiment.search is not None
    assert (experiment.search["engines"], experiment.search["families"], experiment.search["cluster"]) == (
        ["optuna"],
        ["linear"],
        "local:2",
    )
    assert wb.show_model("again").version == 1  # the export ran too, headless
    search_job = wb.list_jobs(parent_id=job.id)  # the search ran as the notebook job's child
    assert [j.kind for j in search_job] == ["search"]
    output = wb.notebook_job(job.id).output
    assert output is not None
    text = json.dumps(json.loads(output.read_text()))
    assert "search finished" in text and "registered again@1" in text


def test_export_saves_a_batch_notebook_and_runs_it_as_a_job(widget_env: dict[str, str], tmp_path: Path) -> None:
    experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=2))
    wb.start_search(experiment.id, wb.search_config(engines=("optuna",), families=("linear",), cluster="local:2"))
    wb.attach(experiment.id).wait(timeout=240)
    rows = pd.read_csv(Path(widget_env["WORKBENCH_DATASETS_DIR"]) / "penguins.csv").drop(columns=["species"])
    rows.to_csv(tmp_path / "new rows.csv", index=False)
    export = wbw.ExportStep(experiment.id)
    export.cluster = "local:1"
    export.run_batch_button.click()
    assert export.error == "Register the model first."
    export.register_button.click()
    export.wait_idle()
    assert export.version == "penguins@1" and not export.save_batch_button.disabled
    export.run_batch_button.click()
    assert export.error == "Give the file to score (Input) first." and export.batch_job.job_id is None
    export.input_box.value = str(tmp_path / "new rows.csv")
    export.output_box.value = str(tmp_path / "scored.parquet")
    export.notebook_box.value = str(tmp_path / "score.ipynb")
    export.run_batch_button.click()
    export.wait_idle()
    assert export.batch_notebook == str(tmp_path / "score.ipynb") and "workbench run" in export.batch_saved.value
    defaults = {p.name: ast.literal_eval(p.default) for p in wb.notebook_parameters(tmp_path / "score.ipynb")}
    assert defaults == {
        "model": "penguins@1",
        "input_path": str(tmp_path / "new rows.csv"),
        "output_path": str(tmp_path / "scored.parquet"),
        "keep": "",
        "cluster": "local:1",
    }
    assert export.batch_job.wait(timeout=300) == "finished", export.batch_job.summary()
    assert export.batch_job.values["rows"] == len(rows) and export.batch_job.values["model"] == "penguins@1"
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert list(scored["prediction"]) == list(wb.predict("penguins@1", rows))
    assert "recorded" in export.batch_job.text.value and "scored.parquet" in export.batch_job.text.value
    assert not export.error and not export.message  # no "Started job" line left under the job's "finished"


def test_user_text_is_shown_as_text(widget_env: dict[str, str]) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({XSS: rng.normal(size=60), "y": rng.choice(["<b>bold</b>", "plain"], size=60)})
    wb.add_dataset_from_frame("xss", frame, target="y")
    step = wbw.DatasetStep("xss")
    step.wait_idle()
    html_shown = step.columns.value + step.summary.value
    assert XSS not in html_shown and "&lt;img src=x onerror=alert(1)&gt;" in html_shown
    labels = list(step.distribution.data[0].x)
    assert "<b>bold</b>" not in labels and "&lt;b&gt;bold&lt;/b&gt;" in labels
    assert XSS in step.target_picker.options  # a dropdown shows its options as text


def test_bad_choices_say_what_to_fix(widget_env: dict[str, str]) -> None:
    with pytest.raises(wb.WorkbenchError, match="Unknown model families"):
        wbw.SearchStep("penguins", families=("boosted-unicorns",))
    search = wbw.SearchStep("penguins", engines=("optuna",))
    search.wait_idle()
    search.launch()  # no budget
    search.wait_idle()
    assert "Give a budget" in search.error and wb.list_experiments() == []
    dataset = wbw.DatasetStep("penguins")
    dataset.register_path("mine", "/etc/passwd")
    dataset.wait_idle()
    assert "outside the folders" in dataset.error


def test_headless_is_detected_and_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_HEADLESS", raising=False)
    assert wbw.headless()  # plain Python: nobody to click
    monkeypatch.setenv("WORKBENCH_HEADLESS", "0")
    assert not wbw.headless()


def test_register_a_file_by_upload_and_by_path(widget_env: dict[str, str], tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=40), "label": rng.choice(["a", "b"], size=40)})
    data = frame.to_csv(index=False).encode()
    step = wbw.DatasetStep("penguins")
    step.wait_idle()
    step.upload.value = (
        {
            "name": "sales.csv",
            "type": "text/csv",
            "size": len(data),
            "content": memoryview(data),
            "last_modified": datetime.now(UTC),
        },
    )
    step.new_name.value = "sales"
    step.add_upload.click()
    step.wait_idle()
    assert step.error == "" and step.dataset == "sales"
    assert wb.show_dataset("sales").kind == "workspace" and step.target == "label"  # the suggested target
    (tmp_path / "more.csv").write_bytes(data)
    step.new_name.value = "more"
    step.path.value = str(tmp_path / "more.csv")
    step.add_path.click()
    step.wait_idle()
    assert step.dataset == "more" and "more" in [name for _, name in step.picker.options]
