"""Step 1, the dataset: pick one (bundled or registered), see its profile, choose target, problem type and
metric; register a file by path or by upload."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
import traitlets

import workbench.api as wb
from workbench.widgets._common import Step, esc, table
from workbench.widgets._frontend import figure_layout

__all__ = ["DatasetStep"]

PROBLEM_TYPES = ("binary", "multiclass", "regression")


def _label(entry: wb.DatasetEntry) -> str:
    shape = f"{entry.rows:,} rows x {entry.columns} columns" if entry.rows and entry.columns else entry.kind
    task = f", {entry.target} ({entry.problem_type})" if entry.target else ""
    return f"{entry.name}: {shape}{task}"


class DatasetStep(Step):
    """Choose what to learn. `dataset`, `target`, `problem_type` and `metric` are the choices (empty: the
    dataset's own or inferred); `profile` is the chosen dataset's profile as plain JSON."""

    dataset = traitlets.Unicode("").tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)
    problem_type = traitlets.Unicode("").tag(sync=True)
    metric = traitlets.Unicode("").tag(sync=True)
    profile = traitlets.Dict().tag(sync=True)

    def __init__(self, dataset: str | None = None, *, target: str | None = None, workspace: Any = None, **kwargs: Any):
        super().__init__("1. Dataset", workspace=workspace, **kwargs)
        self.theme = "light"
        self._wanted_target = target or ""
        self._quiet = False  # set while the step itself updates its controls: no observer reacts
        self.picker = widgets.Dropdown(description="Dataset", layout=widgets.Layout(width="520px"))
        self.target_picker = widgets.Dropdown(description="Target", layout=widgets.Layout(width="320px"))
        self.problem_picker = widgets.Dropdown(description="Problem", options=PROBLEM_TYPES)
        self.metric_picker = widgets.Dropdown(description="Metric")
        self.summary = widgets.HTML()
        self.columns = widgets.HTML()
        self.distribution = go.FigureWidget(layout={**figure_layout(self.theme), "height": 220, "width": 420})
        self.new_name = widgets.Text(description="Name", placeholder="sales")
        self.path = widgets.Text(description="File", placeholder="data/sales.csv", layout=widgets.Layout(width="420px"))
        self.add_path = widgets.Button(
            description="Register file", icon="plus", layout=widgets.Layout(width="fit-content", flex="0 0 auto")
        )
        self.upload = widgets.FileUpload(accept=".csv,.tsv,.parquet,.pq,.xlsx", multiple=False)
        self.add_upload = widgets.Button(
            description="Register upload", icon="upload", layout=widgets.Layout(width="fit-content", flex="0 0 auto")
        )
        self.children = [
            self._title,
            self.picker,
            widgets.HBox([self.target_picker, self.problem_picker, self.metric_picker]),
            self.summary,
            widgets.HBox([self.columns, self.distribution]),
            widgets.HTML('<div class="wb-note">Register your own data (inside WORKBENCH_DATA_ROOTS):</div>'),
            widgets.HBox([self.new_name, self.path, self.add_path]),
            widgets.HBox([self.upload, self.add_upload]),
            self._status,
        ]
        self.picker.observe(lambda change: setattr(self, "dataset", change["new"] or ""), names="value")
        self.target_picker.observe(self._target_chosen, names="value")
        self.problem_picker.observe(self._problem_chosen, names="value")
        self.metric_picker.observe(lambda change: setattr(self, "metric", change["new"] or ""), names="value")
        self.observe(self._on_dataset, names="dataset")
        self.add_path.on_click(lambda _: self.register_path(self.new_name.value, self.path.value))
        self.add_upload.on_click(lambda _: self.register_upload(self.new_name.value))
        self.refresh(select=dataset)

    # the catalog ---------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        entries = wb.list_datasets(workspace=self.workspace)
        self.picker.options = [(_label(e), e.name) for e in entries]
        chosen = select or self.dataset or (entries[0].name if entries else "")
        if chosen in [e.name for e in entries]:
            self.picker.value = chosen

    def register_path(self, name: str, path: str) -> None:
        self.run_background(
            f"registering {name or 'the file'}",
            lambda: wb.add_dataset(name.strip(), path.strip(), workspace=self.workspace),
            self._registered,
        )

    def register_upload(self, name: str) -> None:
        files = list(self.upload.value)
        if not files:
            self.fail("Choose a file to upload first.")
            return
        upload = files[0]
        data = bytes(upload["content"])
        filename = str(upload["name"])
        self.run_background(
            f"registering {filename}",
            lambda: wb.add_dataset_from_bytes(name.strip(), filename, data, workspace=self.workspace),
            self._registered,
        )

    def _registered(self, entry: wb.DatasetEntry) -> None:
        self.refresh(select=entry.name)
        self.say(f"Registered {entry.name} ({entry.rows} rows).")

    # choices -------------------------------------------------------------------------------------

    def _on_dataset(self, change: dict[str, Any]) -> None:
        if self.picker.value != change["new"]:
            self.picker.value = change["new"]
        name = change["new"]
        if not name:
            return
        wanted, self._wanted_target = self._wanted_target, ""
        self.run_background(
            f"profiling {name}",
            lambda: wb.profile_dataset(
                name, target=wanted or wb.suggest_target(name, workspace=self.workspace), workspace=self.workspace
            ),
            lambda profile: self._show(profile, name),
        )

    def _load_profile(self, target: str | None) -> None:
        name = self.dataset
        self.run_background(
            f"profiling {name}",
            lambda: wb.profile_dataset(name, target=target, workspace=self.workspace),
            lambda profile: self._show(profile, name),
        )

    def _target_chosen(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        new = change["new"] or ""
        if new and new != self.profile.get("target") and self.dataset:
            self._load_profile(new)

    def _problem_chosen(self, change: dict[str, Any]) -> None:
        problem = change["new"] or ""
        self.problem_type = problem
        if problem:
            options = wb.metrics_for(problem)
            keep = self.metric_picker.value if self.metric_picker.value in options else options[0]
            self.metric_picker.options = options
            self.metric_picker.value = keep
            self.metric = keep

    def _show(self, profile: wb.Profile, name: str) -> None:
        if name != self.dataset:
            return  # another dataset was chosen meanwhile
        self.profile = profile.to_dict()
        self._quiet = True
        try:
            self.target_picker.options = [c.name for c in profile.column_profiles]
            self.target_picker.value = profile.target
        finally:
            self._quiet = False
        self.target = profile.target or ""
        if profile.problem_type:
            self.problem_picker.value = profile.problem_type
            self._problem_chosen({"new": profile.problem_type})
            if profile.metric in self.metric_picker.options:
                self.metric_picker.value = profile.metric
                self.metric = profile.metric or ""
        warnings = "".join(f"<li>{esc(w)}</li>" for w in profile.warnings)
        self.summary.value = (
            f'<div class="wb-note">{profile.rows:,} rows x {profile.columns} columns, '
            f"{profile.memory_bytes / 1e6:.1f} MB in memory</div>"
            + (f'<ul class="wb-error">{warnings}</ul>' if warnings else "")
        )
        rows = []
        for c in profile.column_profiles:
            flags = [
                f
                for f, on in (
                    ("target", c.name == profile.target),
                    ("constant", c.constant),
                    ("id-like", c.id_like),
                    ("leak?", c.name in profile.leakage),
                )
                if on
            ]
            rows.append([c.name, c.kind, f"{c.missing_share:.0%}", c.n_unique, ", ".join(flags)])
        self.columns.value = table(["column", "kind", "missing", "unique", "flags"], rows)
        self._draw_distribution(profile)
        self.say(f"{name}: profiled.")

    def _draw_distribution(self, profile: wb.Profile) -> None:
        distribution = profile.target_distribution
        with self.distribution.batch_update():
            self.distribution.data = []
            if "classes" in distribution:
                classes = list(distribution["classes"].items())[:20]
                self.distribution.add_bar(x=[esc(k) for k, _ in classes], y=[v for _, v in classes], name="share")
                title = f"{profile.target}: class shares"
            elif "quantiles" in distribution:
                quantiles = distribution["quantiles"]
                self.distribution.add_box(
                    q1=[quantiles["0.25"]],
                    median=[quantiles["0.5"]],
                    q3=[quantiles["0.75"]],
                    lowerfence=[quantiles["0"]],
                    upperfence=[quantiles["1"]],
                    name=esc(profile.target),
                )
                title = f"{profile.target}: distribution"
            else:
                title = "no target"
            self.distribution.layout.title = esc(title)

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        self.distribution.update_layout(**figure_layout(theme))
