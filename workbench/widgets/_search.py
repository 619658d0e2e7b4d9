"""Step 2, the search: engines, model families, budget and cluster (its workers, threads and GPUs shown
before launching); Launch starts a background job whose driver outlives the kernel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import traitlets

import workbench.api as wb
from workbench.errors import InvalidInputError
from workbench.widgets._common import Step, esc

__all__ = ["SearchStep"]


class SearchStep(Step):
    """Configure and launch a search. `experiment_id` is set once launched; `on_launch(handle)` callbacks
    run then (the Workbench attaches its monitor)."""

    dataset = traitlets.Unicode("").tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)
    problem_type = traitlets.Unicode("").tag(sync=True)
    metric = traitlets.Unicode("").tag(sync=True)
    engines = traitlets.List(traitlets.Unicode(), default_value=["autogluon", "optuna"]).tag(sync=True)
    families = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_trials = traitlets.Int(0).tag(sync=True)  # 0: no trial budget
    time_limit_s = traitlets.Float(0.0).tag(sync=True)  # 0: no time budget
    cluster = traitlets.Unicode("auto").tag(sync=True)
    experiment_id = traitlets.Int(None, allow_none=True).tag(sync=True)

    def __init__(
        self,
        dataset: str | None = None,
        *,
        engines: tuple[str, ...] = ("autogluon", "optuna"),
        families: tuple[str, ...] | None = None,
        n_trials: int | None = None,
        time_limit_s: float | None = None,
        cluster: str = "auto",
        workspace: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__("2. Search", workspace=workspace, **kwargs)
        self._launched: list[Callable[[wb.SearchHandle], None]] = []
        all_families = wb.model_families()
        unknown = [f for f in families or () if f not in all_families]
        if unknown or isinstance(families, str):
            raise InvalidInputError(
                f"Unknown model families {unknown or families!r}; use some of: {', '.join(all_families)}."
            )
        self.dataset_picker = widgets.Dropdown(
            description="Dataset", options=[d.name for d in wb.list_datasets(workspace=workspace)]
        )
        self.engine_boxes = {
            name: widgets.Checkbox(
                description=label,
                value=name in engines,
                indent=False,
                layout=widgets.Layout(width="fit-content", flex="0 0 auto"),
            )
            for name, label in (("autogluon", "AutoGluon"), ("optuna", "Optuna"))
        }
        self.family_picker = widgets.SelectMultiple(
            options=all_families,
            value=tuple(families or all_families),
            description="Families",
            rows=len(all_families),
        )
        self.trials_box = widgets.BoundedIntText(value=n_trials or 0, min=0, max=100_000, description="Trials")
        self.time_box = widgets.BoundedFloatText(value=time_limit_s or 0.0, min=0, max=7 * 86400, description="Seconds")
        mode, workers, address = _cluster_parts(cluster)
        self.cluster_mode = widgets.Dropdown(
            options=[("auto (GPUs if found)", "auto"), ("local workers", "local"), ("an address", "address")],
            value=mode,
            description="Cluster",
        )
        self.workers_box = widgets.BoundedIntText(value=workers, min=1, max=512, description="Workers")
        self.address_box = widgets.Text(value=address, description="Address", placeholder="tcp://127.0.0.1:8786")
        self.cluster_note = widgets.HTML()
        self.launch_button = widgets.Button(
            description="Launch",
            button_style="primary",
            icon="rocket",
            layout=widgets.Layout(width="fit-content", flex="0 0 auto"),
        )
        self.children = [
            self._title,
            self.dataset_picker,
            widgets.HBox([widgets.Label("Engines"), *self.engine_boxes.values()]),
            self.family_picker,
            widgets.HBox([self.trials_box, self.time_box]),
            widgets.HBox([self.cluster_mode, self.workers_box, self.address_box]),
            self.cluster_note,
            self.launch_button,
            self._status,
        ]
        self.engines, self.families = list(engines), list(self.family_picker.value)
        self.n_trials, self.time_limit_s = int(self.trials_box.value), float(self.time_box.value)
        for box in self.engine_boxes.values():
            box.observe(self._engines_chosen, names="value")
        self.family_picker.observe(lambda c: setattr(self, "families", list(c["new"])), names="value")
        self.trials_box.observe(lambda c: setattr(self, "n_trials", int(c["new"])), names="value")
        self.time_box.observe(lambda c: setattr(self, "time_limit_s", float(c["new"])), names="value")
        for control in (self.cluster_mode, self.workers_box, self.address_box):
            control.observe(self._cluster_chosen, names="value")
        self.dataset_picker.observe(lambda c: setattr(self, "dataset", c["new"] or ""), names="value")
        self.observe(self._on_dataset, names="dataset")
        self.launch_button.on_click(lambda _: self.launch())
        if dataset:
            self.dataset = dataset
        self._cluster_chosen()

    def on_launch(self, callback: Callable[[wb.SearchHandle], None]) -> None:
        self._launched.append(callback)

    def _on_dataset(self, change: dict[str, Any]) -> None:
        if change["new"] in self.dataset_picker.options and self.dataset_picker.value != change["new"]:
            self.dataset_picker.value = change["new"]

    def _engines_chosen(self, _: Any = None) -> None:
        self.engines = [name for name, box in self.engine_boxes.items() if box.value]
        self.family_picker.disabled = "optuna" not in self.engines

    def _cluster_chosen(self, _: Any = None) -> None:
        mode = self.cluster_mode.value
        self.workers_box.layout.display = "" if mode == "local" else "none"
        self.address_box.layout.display = "" if mode == "address" else "none"
        if mode == "local":
            self.cluster = f"local:{self.workers_box.value}"
        elif mode == "address":
            self.cluster = self.address_box.value.strip()
        else:
            self.cluster = "auto"
        if not self.cluster:
            self.cluster_note.value = '<span class="wb-note">Give the address of a Dask scheduler.</span>'
            return
        spec = self.cluster
        self.run_background(f"reading cluster {spec}", lambda: wb.cluster_info(spec), self._show_cluster)

    def _show_cluster(self, info: wb.ClusterInfo) -> None:
        if info.spec != self.cluster:
            return
        where = "running at " + esc(info.address) if info.started else "started for the search"
        self.cluster_note.value = (
            f'<span class="wb-note">{info.workers} workers, {info.threads} threads, '
            f"{info.gpus:g} GPUs ({where}): {esc(info.description)}</span>"
        )
        self.say("Ready to launch.")

    def config(self) -> wb.SearchConfig:
        if not self.engines:
            raise InvalidInputError("Tick at least one engine.")
        families = self.families if "optuna" in self.engines else None
        return wb.search_config(
            engines=self.engines,
            families=families or None,
            n_trials=self.n_trials or None,
            time_limit_s=self.time_limit_s or None,
            cluster=self.cluster,
        )

    def launch(self) -> None:
        """What the Launch button does: create the experiment and start its search in the background."""
        dataset = self.dataset

        def work() -> wb.SearchHandle:
            if not dataset:
                raise InvalidInputError("Choose a dataset first.")
            config = self.config()
            if config.budget is None:
                raise InvalidInputError("Give a budget: a number of trials, a time limit in seconds, or both.")
            experiment = wb.create_experiment(
                dataset,
                target=self.target or None,
                problem_type=self.problem_type or None,
                metric=self.metric or None,
                budget=config.budget,
                workspace=self.workspace,
            )
            return wb.start_search(experiment.id, config, workspace=self.workspace)

        self.run_background(f"launching a search of {dataset}", work, self._started)

    def _started(self, handle: wb.SearchHandle) -> None:
        self.experiment_id = handle.experiment_id
        self.say(f"Experiment {handle.experiment_id}: search running as job {handle.job_id}.")
        for callback in self._launched:
            callback(handle)


def _cluster_parts(spec: str) -> tuple[str, int, str]:
    text = spec.strip()
    if text.startswith("local"):
        count = text.partition(":")[2]
        return "local", int(count) if count.isdigit() else 2, ""
    if text in ("", "auto"):
        return "auto", 2, ""
    return "address", 2, text
