"""Step 4, compare: the sortable leaderboard of both engines' candidates and the ensembles; the
score-vs-latency Pareto front, where clicking a point selects that model; two selected models side by side
with the comparison views (ROC/PR or residuals, confusion, calibration, importance, their diff)."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
import traitlets

import workbench.api as wb
from workbench.widgets._common import Step, esc, table
from workbench.widgets._frontend import figure_layout

__all__ = ["CompareStep"]

VIEWS_CLASSIFICATION = ("ROC / PR", "Confusion", "Calibration", "Importance", "Diff")
VIEWS_REGRESSION = ("Residuals", "Importance", "Diff")


class CompareStep(Step):
    """`selected` and `other` are the two models compared (leaderboard keys such as "c12"); `sort_by` the
    leaderboard's column; `view` the comparison view shown."""

    experiment_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    sort_by = traitlets.Unicode("valid").tag(sync=True)
    descending = traitlets.Bool(None, allow_none=True).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    other = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("").tag(sync=True)

    def __init__(self, experiment_id: int | None = None, *, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__("4. Compare", workspace=workspace, **kwargs)
        self.theme = "light"
        self.comparison: wb.Comparison | None = None
        self.sort_picker = widgets.Dropdown(options=list(wb.Leaderboard.COLUMNS), value="valid", description="Sort by")
        self.order = widgets.ToggleButtons(options=[("best first", None), ("ascending", False), ("descending", True)])
        self.board = widgets.HTML()
        self.pareto = go.FigureWidget(layout={**figure_layout(self.theme), "height": 340, "width": 560})
        self.model_a = widgets.Dropdown(description="Model A")
        self.model_b = widgets.Dropdown(description="Model B")
        self.view_picker = widgets.ToggleButtons(options=())
        self.view_area = widgets.Box()
        self.children = [
            self._title,
            widgets.HBox([self.sort_picker, self.order]),
            self.board,
            self.pareto,
            widgets.HBox([self.model_a, self.model_b]),
            self.view_picker,
            self.view_area,
            self._status,
        ]
        self.sort_picker.observe(lambda c: setattr(self, "sort_by", c["new"]), names="value")
        self.order.observe(lambda c: setattr(self, "descending", c["new"]), names="value")
        self.model_a.observe(lambda c: setattr(self, "selected", c["new"] or ""), names="value")
        self.model_b.observe(lambda c: setattr(self, "other", c["new"] or ""), names="value")
        self.view_picker.observe(lambda c: setattr(self, "view", c["new"] or ""), names="value")
        self.observe(lambda _: self._draw_board(), names=["sort_by", "descending", "selected"])
        self.observe(self._selection_changed, names=["selected", "other", "view"])
        if experiment_id is not None:
            self.load(experiment_id)

    def load(self, experiment_id: int) -> None:
        """Read the experiment's models and their stored predictions (in the background)."""
        self.experiment_id = experiment_id
        self.run_background(
            f"comparing the models of experiment {experiment_id}",
            lambda: wb.compare(experiment_id, workspace=self.workspace),
            self._loaded,
        )

    def _loaded(self, comparison: wb.Comparison) -> None:
        self.comparison = comparison
        board = comparison.leaderboard()
        options = [(f"{r.key}: {r.name}", r.key) for r in board.rows]
        self.model_a.options = self.model_b.options = options
        regression = comparison.data.problem_type == "regression"
        self.view_picker.options = VIEWS_REGRESSION if regression else VIEWS_CLASSIFICATION
        if len(board.rows) >= 1:
            self.model_a.value = board.rows[0].key
        if len(board.rows) >= 2:
            self.model_b.value = board.rows[1].key
        self._draw_board()
        self._draw_pareto()
        self.say(f"{len(board.rows)} models of experiment {self.experiment_id}. {board.selection}")

    def _draw_board(self) -> None:
        if self.comparison is None:
            return
        board = self.comparison.leaderboard().sorted(self.sort_by, self.descending)
        header = [
            "rank",
            "key",
            "name",
            "engine",
            "kind",
            f"valid {board.metric}",
            "test",
            "fit s",
            "row ms",
            "size MB",
        ]
        rows = [
            [
                r.rank,
                r.key,
                r.name,
                r.engine,
                r.kind,
                r.valid_score,
                r.test_score,
                r.fit_time_s,
                r.predict_row_ms,
                r.size_mb,
            ]
            for r in board.rows
        ]
        chosen = next((i for i, r in enumerate(board.rows) if r.key == self.selected), None)
        # scores to 4 decimals as the CLI prints them, so that a column's figures line up
        formats = [None, None, None, None, None, ".4f", ".4f", ".1f", ".2f", ".3g"]
        self.board.value = table(header, rows, selected=chosen, formats=formats)

    def _draw_pareto(self) -> None:
        assert self.comparison is not None
        info = self.comparison.pareto()
        with self.pareto.batch_update():
            self.pareto.data = []
            for front, name in ((False, "models"), (True, "Pareto front")):
                idx = [i for i in range(len(info.keys)) if bool(info.latency_front[i]) == front]
                self.pareto.add_scatter(
                    x=[float(info.row_ms[i]) for i in idx],
                    y=[float(info.score[i]) for i in idx],
                    customdata=[info.keys[i] for i in idx],
                    text=[esc(f"{info.keys[i]}: {info.names[i]}") for i in idx],
                    hoverinfo="text+x+y",
                    mode="markers",
                    marker={"size": 11 if front else 8, "symbol": "diamond" if front else "circle"},
                    name=name,
                )
            self.pareto.update_layout(
                title=esc(f"{info.metric} vs single-row latency (click a point to select it)"),
                xaxis={"title": "ms per row", "type": "log"},
                yaxis={"title": esc(f"valid {info.metric}")},
            )
        for trace in self.pareto.data:
            trace.on_click(self._clicked)

    def _clicked(self, trace: Any, points: Any, state: Any) -> None:
        if points.point_inds:
            self.select(str(trace.customdata[points.point_inds[0]]))

    def select(self, key: str) -> None:
        """Select a model, as a click on its point does: it becomes model A, the previous A model B."""
        if self.selected and self.selected != key:
            self.model_b.value = self.selected
        self.model_a.value = key

    def _selection_changed(self, _: Any = None) -> None:
        if self.comparison is None or not self.selected or not self.view:
            return
        comparison, view, a, b = self.comparison, self.view, self.selected, self.other

        def work() -> Any:
            both = [k for k in (a, b) if k]
            if view == "ROC / PR":
                return comparison.roc_pr(both)
            if view == "Confusion":
                return comparison.confusion(a)
            if view == "Calibration":
                return comparison.calibration(both)
            if view == "Residuals":
                return comparison.regression(both)
            if view == "Importance":
                return comparison.importance(a, n_repeats=3, max_rows=500)
            return comparison.diff(a, b or a)

        self.run_background(f"drawing {view} for {a}", work, self._show_view)

    def _show_view(self, info: Any) -> None:
        figure = go.FigureWidget(wb.plot(info))
        figure.update_layout(**figure_layout(self.theme))
        self.view_area.children = [figure]
        self.say(f"{self.view}: {self.selected}" + (f" vs {self.other}" if self.other else ""))

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        self.pareto.update_layout(**figure_layout(theme))
        for figure in self.view_area.children:
            figure.update_layout(**figure_layout(theme))
