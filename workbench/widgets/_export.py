"""Step 6, export: register the chosen model under a name, promote an alias (showing the contract check's
result and the measured p50/p99), serve it on an endpoint with ready-to-paste curl and Python examples built
from a real row, and stop it; save a batch-scoring notebook for it and run that as a job."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

import workbench.api as wb
from workbench.widgets._common import Step, button, esc
from workbench.widgets._jobs import ACTIVE, NotebookJobStatus

__all__ = ["ExportStep"]


class ExportStep(Step):
    """`model` is the leaderboard key to export ("winner": rank 1); `name` and `alias` the registry choices;
    `version`, `endpoint_id` and `endpoint_url` what was made. `input_path`, `output_path` and `cluster`
    are the batch-scoring choices; `batch_notebook` the scoring notebook saved."""

    experiment_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    model = traitlets.Unicode("winner").tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)
    alias = traitlets.Unicode("production").tag(sync=True)
    # Register the model refitted on "all" rows, on "train+valid", or as selected ("none").
    finalize = traitlets.Unicode("all").tag(sync=True)
    version = traitlets.Unicode("").tag(sync=True)  # the registered ref, e.g. penguins@2
    promoted = traitlets.Unicode("").tag(sync=True)  # the alias moved to it, once the contract check passed
    endpoint_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    endpoint_url = traitlets.Unicode("").tag(sync=True)
    input_path = traitlets.Unicode("").tag(sync=True)
    output_path = traitlets.Unicode("predictions.csv").tag(sync=True)
    cluster = traitlets.Unicode("").tag(sync=True)  # "" for WORKBENCH_CLUSTER; the app links the search's
    batch_notebook = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        experiment_id: int | None = None,
        *,
        name: str | None = None,
        alias: str = "production",
        workspace: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__("6. Export and serve", workspace=workspace, **kwargs)
        self.model_picker = widgets.Dropdown(description="Model", layout=widgets.Layout(width="520px"))
        self.name_box = widgets.Text(value=name or "", description="Name")
        self.finalize_picker = widgets.Dropdown(
            options=[
                ("refit on all rows", "all"),
                ("refit on train + valid (test rows stay unseen)", "train+valid"),
                ("as selected (train rows only)", "none"),
            ],
            value="all",
            description="Finalize",
            layout=widgets.Layout(width="520px"),
        )
        self.register_button = button("Register", "archive", button_style="primary")
        self.alias_box = widgets.Text(value=alias, description="Alias")
        self.promote_button = button("Promote (contract check)", "check", disabled=True)
        self.contract = widgets.HTML()
        self.serve_button = button("Start endpoint", "play", disabled=True)
        self.stop_button = button("Stop endpoint", "stop", disabled=True)
        self.endpoint = widgets.HTML()
        self.curl = widgets.Textarea(disabled=True, layout=widgets.Layout(width="720px", height="90px"))
        self.python = widgets.Textarea(disabled=True, layout=widgets.Layout(width="720px", height="140px"))
        self.answer = widgets.HTML()
        self.input_box = widgets.Text(description="Input", placeholder="new-rows.csv or .parquet")
        self.output_box = widgets.Text(value=self.output_path, description="Output")
        self.notebook_box = widgets.Text(description="Notebook", placeholder="score-NAME.ipynb")
        self.save_batch_button = button("Save batch notebook", "file", disabled=True)
        self.run_batch_button = button("Run as job", "forward", disabled=True)
        self.batch_saved = widgets.HTML()
        self.batch_job = NotebookJobStatus(workspace=workspace)
        self.children = [
            self._title,
            self.model_picker,
            self.finalize_picker,
            widgets.HBox([self.name_box, self.register_button]),
            widgets.HBox([self.alias_box, self.promote_button]),
            self.contract,
            widgets.HBox([self.serve_button, self.stop_button]),
            self.endpoint,
            self.curl,
            self.python,
            self.answer,
            widgets.HTML('<div class="wb-note">Batch scoring: a notebook that scores a file on the cluster</div>'),
            widgets.HBox([self.input_box, self.output_box]),
            widgets.HBox([self.notebook_box, self.save_batch_button, self.run_batch_button]),
            self.batch_saved,
            self.batch_job,
            self._status,
        ]
        self.name, self.alias = self.name_box.value, self.alias_box.value
        self.model_picker.observe(lambda c: setattr(self, "model", c["new"] or "winner"), names="value")
        self.name_box.observe(lambda c: setattr(self, "name", c["new"]), names="value")
        self.finalize_picker.observe(lambda c: setattr(self, "finalize", c["new"]), names="value")
        self.observe(lambda c: setattr(self.finalize_picker, "value", c["new"]), names="finalize")
        self.alias_box.observe(lambda c: setattr(self, "alias", c["new"]), names="value")
        self.input_box.observe(lambda c: setattr(self, "input_path", c["new"]), names="value")
        self.output_box.observe(lambda c: setattr(self, "output_path", c["new"]), names="value")
        self.save_batch_button.on_click(lambda _: self.save_batch_notebook())
        self.run_batch_button.on_click(lambda _: self.run_batch_job())
        self.batch_job.observe(self._batch_ended, names="status")
        self.register_button.on_click(lambda _: self.register())
        self.promote_button.on_click(lambda _: self.promote())
        self.serve_button.on_click(lambda _: self.serve())
        self.stop_button.on_click(lambda _: self.stop())
        if experiment_id is not None:
            self.load(experiment_id)

    def load(self, experiment_id: int) -> None:
        self.experiment_id = experiment_id
        experiment = wb.show_experiment(experiment_id, workspace=self.workspace)
        if not self.name_box.value:
            self.name_box.value = experiment.dataset
        board = wb.leaderboard(experiment_id, workspace=self.workspace)
        self.model_picker.options = [("the winner (rank 1)", "winner")] + [
            (f"{r.key}: {r.name} (valid {r.valid_score})", r.key) for r in board.rows
        ]
        self.model_picker.value = self.model if self.model in dict(self.model_picker.options).values() else "winner"

    def register(self) -> None:
        experiment_id, model, name, finalize = self.experiment_id, self.model, self.name.strip(), self.finalize
        if experiment_id is None:
            self.fail("Finish a search first.")
            return

        def work() -> wb.VersionInfo:
            key = wb.choose_model(experiment_id, model, workspace=self.workspace)
            return wb.register_model(
                key, name, description=f"from experiment {experiment_id}", finalize=finalize, workspace=self.workspace
            )

        self.run_background(f"registering {name}", work, self._registered)

    def _registered(self, info: wb.VersionInfo) -> None:
        self.version, self.promoted = info.ref, ""
        self.promote_button.disabled = self.serve_button.disabled = False
        self.save_batch_button.disabled = self.run_batch_button.disabled = False
        self.notebook_box.placeholder = f"score-{info.name}.ipynb"
        trained = info.metrics.get("trained_on") or {}
        rows = (
            f", trained on {trained.get('rows')} rows ({trained.get('mode')}{wb.final_note(trained)})"
            if trained
            else ""
        )
        failed = f"; finalize failed: {info.metrics['finalize_error']}" if info.metrics.get("finalize_error") else ""
        self.say(f"Registered {info.ref} ({info.source.get('kind')} {info.source.get('id')}{rows}){failed}.")

    def promote(self) -> None:
        ref, alias = self.version, self.alias.strip()
        if not ref:
            self.fail("Register the model first.")
            return
        name, _, version = ref.partition("@")
        self.run_background(
            f"checking {ref} against a real server before moving {alias}",
            lambda: wb.promote(name, int(version), alias, workspace=self.workspace),
            self._promoted,
        )

    def _promoted(self, promotion: wb.Promotion) -> None:
        report = promotion.contract
        figures = ""
        if report is not None:
            figures = "; ".join(
                f"{esc(batch)}: p50 {f['p50']:.2f} ms, p99 {f['p99']:.2f} ms" for batch, f in report.latency_ms.items()
            )
        self.contract.value = (
            f'<span class="wb-ok">Contract check passed</span> <span class="wb-note">{figures}</span>'
            if report is not None and report.passed
            else '<span class="wb-note">No contract check was run.</span>'
        )
        self.promoted = promotion.alias
        self.say(f"{promotion.version.name}@{promotion.alias} -> v{promotion.version.version}")

    def exported_ref(self) -> str:
        """What the endpoint and the batch notebook use: NAME@ALIAS once promoted (so a later promotion
        reaches them), else the registered version."""
        return f"{self.version.partition('@')[0]}@{self.promoted}" if self.promoted else self.version

    def serve(self) -> None:
        if not self.version:
            self.fail("Register the model first.")
            return
        ref = self.exported_ref()
        self.run_background(
            f"starting an endpoint for {ref}", lambda: wb.start_endpoint(ref, workspace=self.workspace), self._serving
        )

    def _serving(self, endpoint: wb.Endpoint) -> None:
        self.endpoint_id, self.endpoint_url = endpoint.id, endpoint.url
        self.stop_button.disabled = False
        self.serve_button.disabled = True
        rows = wb.sample_rows(self.experiment_id or 0, 1, workspace=self.workspace)
        body = json.dumps(rows)
        self.curl.value = f"curl -s {endpoint.url}/predict -H 'Content-Type: application/json' -d {shlex.quote(body)}"
        self.python.value = (
            "import json, urllib.request\n"
            f"rows = json.loads({body!r})\n"
            f'request = urllib.request.Request("{endpoint.url}/predict", data=json.dumps(rows).encode(),\n'
            '                                 headers={"Content-Type": "application/json"})\n'
            "print(json.load(urllib.request.urlopen(request)))"
        )
        answer = wb.endpoint_predict(endpoint.id, rows, workspace=self.workspace).to_dict()
        if answer.get("probabilities"):
            answer["probabilities"] = [[round(p, 4) for p in row] for row in answer["probabilities"]]
        self.endpoint.value = (
            f'<span class="wb-ok">Serving {esc(endpoint.model)} at <span class="wb-code">{esc(endpoint.url)}</span>'
            f"</span> (endpoint {endpoint.id}, {esc(endpoint.status)})"
        )
        self.answer.value = f'<div class="wb-note">It answered the example row: <span class="wb-code">{esc(json.dumps(answer))}</span></div>'
        self.say(f"Endpoint {endpoint.id} is ready.")

    def stop(self) -> None:
        endpoint_id = self.endpoint_id
        if endpoint_id is None:
            return
        self.run_background(
            f"stopping endpoint {endpoint_id}",
            lambda: wb.stop_endpoint(endpoint_id, workspace=self.workspace),
            self._stopped,
        )

    def _stopped(self, endpoint: wb.Endpoint) -> None:
        self.endpoint_id = None
        self.serve_button.disabled = False
        self.stop_button.disabled = True
        self.endpoint.value = f'<span class="wb-note">Endpoint {endpoint.id} {esc(endpoint.status)}.</span>'
        self.say(f"Endpoint {endpoint.id} stopped.")

    # batch scoring -------------------------------------------------------------------------------

    def save_batch_notebook(self) -> Path | None:
        """Write the scoring notebook (`workbench.api.write_scoring_notebook`) for the exported model, with
        the input, output and cluster chosen as its parameters' defaults."""
        if not self.version:
            self.fail("Register the model first.")
            return None
        ref = self.exported_ref()
        path = self.notebook_box.value.strip() or self.notebook_box.placeholder
        try:
            written = wb.write_scoring_notebook(
                path,
                ref,
                input_path=self.input_path.strip(),
                output_path=self.output_path.strip(),
                cluster=self.cluster,
            )
        except wb.WorkbenchError as exc:
            self.fail(exc.message)
            return None
        self.batch_notebook = str(written)
        command = f"workbench run {shlex.quote(str(written))} -p input_path FILE"
        self.batch_saved.value = (
            f'<span class="wb-note">Saved {esc(written)} for {esc(ref)}; run it here or with '
            f'<span class="wb-code">{esc(command)}</span></span>'
        )
        self.say(f"Saved {written}.")
        return written

    def run_batch_job(self) -> None:
        """Save the scoring notebook and run it as a job (`workbench.api.run_notebook`), shown live below."""
        if not self.version:
            self.fail("Register the model first.")
            return
        if not self.input_path.strip():
            self.fail("Give the file to score (Input) first.")
            return
        path = self.save_batch_notebook()
        if path is None:
            return
        self.run_background(
            f"starting a job for {path.name}",
            lambda: wb.run_notebook(path, workspace=self.workspace),
            self._batch_started,
        )

    def _batch_started(self, job: wb.NotebookJob) -> None:
        self.say(f"Started job {job.job_id} ({Path(self.batch_notebook).name}).")
        self.batch_job.follow(job)

    def _batch_ended(self, change: dict[str, Any]) -> None:
        # The job's own line says how it ended; a "Started job" line left under it would read as news.
        if change["new"] not in ACTIVE and self.message.startswith(f"Started job {self.batch_job.job_id} "):
            self.message = ""
