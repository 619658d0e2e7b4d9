"""`Workbench()`: the whole flow as steps in one widget, from a dataset to a served endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

import workbench.api as wb
from workbench.widgets._common import Step, button, esc
from workbench.widgets._compare import CompareStep
from workbench.widgets._dataset import DatasetStep
from workbench.widgets._ensemble import EnsembleEditor
from workbench.widgets._export import ExportStep
from workbench.widgets._frontend import ThemeProbe, headless
from workbench.widgets._jobs import NotebookJobStatus
from workbench.widgets._monitor import Monitor
from workbench.widgets._search import SearchStep

__all__ = ["Workbench"]

STEPS = ("Dataset", "Search", "Monitor", "Compare", "Ensemble", "Export")


class Workbench(widgets.VBox):  # type: ignore[misc]
    """Dataset -> Search -> Monitor -> Compare -> Ensemble -> Export, as tabs; each step is its own widget
    (`workbench.dataset`, `.search`, `.monitor`, `.compare`, `.ensemble`, `.export`).

    `parameters()` gives every choice as plain JSON; "Save as notebook" writes a notebook that repeats the
    flow headless from them. `run_headless()` runs the flow without clicks where nobody can click.
    """

    experiment_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    theme = traitlets.Unicode("light").tag(sync=True)

    def __init__(
        self,
        dataset: str | None = None,
        *,
        target: str | None = None,
        engines: tuple[str, ...] = ("autogluon", "optuna"),
        families: tuple[str, ...] | None = None,
        n_trials: int | None = None,
        time_limit_s: float | None = None,
        cluster: str = "auto",
        name: str | None = None,
        alias: str = "production",
        experiment_id: int | None = None,
        workspace: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.probe = ThemeProbe()
        self.dataset = DatasetStep(dataset, target=target, workspace=workspace)
        self.search = SearchStep(
            dataset,
            engines=engines,
            families=families,
            n_trials=n_trials,
            time_limit_s=time_limit_s,
            cluster=cluster,
            workspace=workspace,
        )
        self.search.dataset_picker.layout.display = "none"  # the Dataset step chooses it
        self.monitor = Monitor(workspace=workspace)
        self.compare = CompareStep(workspace=workspace)
        self.ensemble = EnsembleEditor(workspace=workspace)
        self.export = ExportStep(name=name, alias=alias, workspace=workspace)
        self.steps: tuple[Step, ...] = (
            self.dataset,
            self.search,
            self.monitor,
            self.compare,
            self.ensemble,
            self.export,
        )
        for trait in ("dataset", "target", "problem_type", "metric"):
            traitlets.dlink((self.dataset, trait), (self.search, trait))
        traitlets.dlink((self.search, "cluster"), (self.export, "cluster"))
        self.tabs = widgets.Tab(children=list(self.steps), titles=STEPS)
        self.notebook_path = widgets.Text(description="Notebook", placeholder="flow.ipynb")
        self.save_button = button("Save as notebook", "file")
        self.run_button = button("Run as job", "forward")
        self.saved = widgets.HTML()
        self.job = NotebookJobStatus(workspace=workspace)
        self.children = [
            self.probe,
            self.tabs,
            widgets.HBox([self.notebook_path, self.save_button, self.run_button]),
            self.saved,
            self.job,
        ]
        self.add_class("wb-app")
        self.search.on_launch(lambda handle: self.follow(handle.experiment_id))
        self.monitor.observe(self._search_ended, names="job_status")
        self.save_button.on_click(lambda _: self.save_notebook(self.notebook_path.value))
        self.run_button.on_click(lambda _: self.run_as_job(self.notebook_path.value))
        self.probe.observe(lambda change: setattr(self, "theme", change["new"]), names="theme")
        self.observe(self._on_theme, names="theme")
        if experiment_id is not None:
            self.follow(experiment_id)

    # the flow ------------------------------------------------------------------------------------

    def follow(self, experiment_id: int) -> None:
        """Show an experiment: the monitor follows its search; compare, ensemble and export load its models
        once the search has ended."""
        self.experiment_id = experiment_id
        self.monitor.attach(experiment_id)
        self.tabs.selected_index = STEPS.index("Monitor")

    def _search_ended(self, change: dict[str, Any]) -> None:
        if change["new"] in ("finished", "stopped", "cancelled", "failed") and self.experiment_id is not None:
            # Export first: it is quick, and Register must work at once (the ensemble step measures models).
            self.export.load(self.experiment_id)
            self.compare.load(self.experiment_id)
            self.ensemble.load(self.experiment_id)

    def _on_theme(self, change: dict[str, Any]) -> None:
        for step in (self.dataset, self.monitor, self.compare):
            step.set_theme(change["new"])

    def wait_idle(self, timeout: float | None = 120.0) -> bool:
        """Block until every step's background work is done (for scripts and tests)."""
        return all(step.wait_idle(timeout) for step in self.steps)

    # parameters ----------------------------------------------------------------------------------

    def flow_parameters(self) -> wb.FlowParameters:
        """The choices as `workbench.api.FlowParameters`; the chosen model by name (keys differ between
        runs), an edited ensemble by its members' names and weights."""
        model: str = "winner"
        members: dict[str, float] = {}
        chosen = self.export.model
        if chosen not in ("", "winner") and self.experiment_id is not None:
            board = wb.leaderboard(self.experiment_id, workspace=self.workspace)
            if chosen == self.ensemble.saved and self.ensemble.weights:
                model = "ensemble"
                members = {board.row(key).name: weight for key, weight in self.ensemble.weights.items()}
            else:
                model = board.row(chosen).name
        search = self.search
        return wb.FlowParameters(
            dataset=self.dataset.dataset,
            target=self.dataset.target or None,
            problem_type=self.dataset.problem_type or None,
            metric=self.dataset.metric or None,
            engines=tuple(search.engines),
            families=tuple(search.families) if "optuna" in search.engines and search.families else None,
            n_trials=search.n_trials or None,
            time_limit_s=search.time_limit_s or None,
            cluster=search.cluster,
            model=model,
            members=members,
            registry_name=self.export.name or None,
            alias=self.export.alias or None,
            finalize=self.export.finalize,
        )

    def parameters(self) -> dict[str, Any]:
        """Every choice of the flow (dataset, target, metric, engines, families, budget, cluster, the model or
        the ensemble's members, registry name and alias) as plain JSON."""
        return self.flow_parameters().to_dict()

    def save_notebook(self, path: str | Path) -> Path | None:
        """Write a notebook whose `parameters` cell holds `parameters()` and whose code repeats the flow."""
        try:
            written = wb.write_flow_notebook(self.flow_parameters(), path or "flow.ipynb")
        except wb.WorkbenchError as exc:
            self.saved.value = f'<span class="wb-error">{esc(exc.message)}</span>'
            return None
        self.saved.value = (
            f'<span class="wb-note">Saved {esc(written)}: run it with papermill or `workbench run`.</span>'
        )
        return written

    def run_as_job(self, path: str | Path) -> wb.NotebookJob | None:
        """Save the flow notebook and run it as a batch job (`workbench.api.run_notebook`): the search and
        the export repeat in their own process, followed live below the tabs."""
        written = self.save_notebook(path)
        if written is None:
            return None
        try:
            job = wb.run_notebook(written, workspace=self.workspace)
        except wb.WorkbenchError as exc:
            self.saved.value = f'<span class="wb-error">{esc(exc.message)}</span>'
            return None
        self.job.follow(job)
        return job

    # without a front end ---------------------------------------------------------------------------

    def run_headless(self, timeout: float | None = None) -> str | None:
        """Where nobody can click (papermill, `nbconvert --execute`, plain Python): launch the search, follow
        it in plain text, print the leaderboard and register the chosen model. In a live notebook it does
        nothing: use the widget's buttons. Returns the registered ref (None when nothing ran)."""
        if not headless():
            print("A front end is here: use the Launch button above (this cell runs the flow only headless).")
            return None
        for step in (self.dataset, self.search):
            step.wait_idle()
        self.search.launch()
        self.search.wait_idle()
        if self.search.error:
            raise wb.WorkbenchError(self.search.error)
        assert self.search.experiment_id is not None
        experiment_id = self.search.experiment_id
        self.monitor.wait(timeout=timeout)
        for row in wb.leaderboard(experiment_id, workspace=self.workspace).rows[:5]:
            print(f"{row.rank:>3} {row.key:<6} {row.name:<40} valid {row.valid_score}  test {row.test_score}")
        key = wb.choose_model(experiment_id, self.export.model or "winner", workspace=self.workspace)
        name = self.export.name or self.dataset.dataset
        version = wb.register_model(
            key,
            name,
            description=f"from experiment {experiment_id}",
            finalize=self.export.finalize,
            workspace=self.workspace,
        )
        print(f"registered {version.ref} from {key}")
        # Run as a job (`workbench run`), the notebook leaves what it made in the job's outputs.
        wb.record("experiment", experiment_id)
        wb.record("model", version.ref)
        return version.ref
