"""Step 5, the ensemble editor: tick candidates in or out and set their weights; the valid score updates at
once from stored predictions, the edited ensemble's single-row latency and size are measured on the built
model in the background and shown as soon as they are known; "Save ensemble" stores it as a model."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets
import traitlets

import workbench.api as wb
from workbench.widgets._common import Step, esc, score

__all__ = ["EnsembleEditor"]

# Edits coming faster than this are measured once, for the last of them.
MEASURE_AFTER_S = 0.3


class EnsembleEditor(Step):
    """`weights`: candidate key -> weight of the members ticked in. The preview traitlets follow every edit;
    `measured_row_ms` / `measured_size_bytes` follow once the built model was measured (None meanwhile)."""

    experiment_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    weights = traitlets.Dict().tag(sync=True)
    valid_score = traitlets.Float(None, allow_none=True).tag(sync=True)
    test_score = traitlets.Float(None, allow_none=True).tag(sync=True)
    estimated_row_ms = traitlets.Float(None, allow_none=True).tag(sync=True)
    measured_row_ms = traitlets.Float(None, allow_none=True).tag(sync=True)
    measured_size_bytes = traitlets.Int(None, allow_none=True).tag(sync=True)
    saved = traitlets.Unicode("").tag(sync=True)  # the key of the last saved ensemble

    def __init__(
        self, experiment_id: int | None = None, *, measure: bool = True, workspace: Any = None, **kwargs: Any
    ) -> None:
        super().__init__("5. Ensemble editor", workspace=workspace, **kwargs)
        self.measure = measure
        self.comparison: wb.Comparison | None = None
        self.rows: dict[str, tuple[widgets.Checkbox, widgets.FloatSlider]] = {}
        self._generation = 0
        self._timer: threading.Timer | None = None
        self.members = widgets.VBox(layout=widgets.Layout(max_height="360px", overflow="auto"))
        self.preview = widgets.HTML()
        self.save_button = widgets.Button(
            description="Save ensemble",
            icon="save",
            button_style="primary",
            layout=widgets.Layout(width="fit-content", flex="0 0 auto"),
        )
        self.children = [self._title, self.members, self.preview, self.save_button, self._status]
        self.save_button.on_click(lambda _: self.save())
        self.observe(self._render_preview, names=["valid_score", "measured_row_ms", "measured_size_bytes"])
        if experiment_id is not None:
            self.load(experiment_id)

    def load(self, experiment_id: int) -> None:
        self.experiment_id = experiment_id
        self.run_background(
            f"reading the candidates of experiment {experiment_id}",
            lambda: wb.compare(experiment_id, workspace=self.workspace),
            self._loaded,
        )

    def _loaded(self, comparison: wb.Comparison) -> None:
        self.comparison = comparison
        candidates = [r for r in comparison.leaderboard().rows if r.kind == "candidate" and r.valid_score is not None]
        self.rows = {}
        children = []
        for row in candidates:
            tick = widgets.Checkbox(value=False, indent=False, layout=widgets.Layout(width="30px"))
            weight = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, readout_format=".2f")
            label = widgets.HTML(
                f'<span class="wb-code">{esc(row.key)}</span> {esc(row.name)} '
                f'<span class="wb-note">valid {score(row.valid_score)}, {_ms(row.predict_row_ms)}</span>'
            )
            tick.observe(lambda _: self._edited(), names="value")
            weight.observe(lambda _: self._edited(), names="value")
            self.rows[row.key] = (tick, weight)
            children.append(widgets.HBox([tick, weight, label]))
        self.members.children = children
        if candidates:
            self.rows[candidates[0].key][0].value = True  # start from the best candidate alone
        self.say(f"{len(candidates)} candidates; tick members in or out and set their weights.")

    def set_weights(self, weights: dict[str, float]) -> None:
        """Tick exactly these members with these weights (as a user would, one edit)."""
        with self.hold_trait_notifications():
            for key, (tick, weight) in self.rows.items():
                if key in weights:
                    weight.value = float(weights[key])
                tick.value = key in weights
        self._edited()

    def _edited(self) -> None:
        chosen = {key: weight.value for key, (tick, weight) in self.rows.items() if tick.value}
        self.weights = chosen
        self.measured_row_ms = self.measured_size_bytes = None
        if self.comparison is None or not chosen or not any(w > 0 for w in chosen.values()):
            self.valid_score = self.test_score = self.estimated_row_ms = None
            self.preview.value = '<span class="wb-note">Tick at least one member with a weight above 0.</span>'
            return
        try:
            preview = wb.preview_ensemble(self.experiment_id or 0, chosen, comparison=self.comparison)
        except wb.WorkbenchError as exc:
            self.fail(exc.message)
            return
        with self.hold_trait_notifications():
            self.valid_score, self.test_score = preview.valid_score, preview.test_score
            self.estimated_row_ms = preview.estimated_row_ms
        self._render_preview()
        if self.measure:
            self._schedule_measurement(chosen)

    def _schedule_measurement(self, weights: dict[str, float]) -> None:
        self._generation += 1
        generation = self._generation
        if self._timer is not None:
            self._timer.cancel()

        def measure() -> None:
            if generation != self._generation:
                return
            self.run_background(
                "measuring the edited ensemble",
                lambda: wb.measure_ensemble(self.experiment_id or 0, weights, comparison=self.comparison),
                lambda built: self._measured(built, generation),
            )

        self._timer = threading.Timer(MEASURE_AFTER_S, measure)
        self._timer.daemon = True
        self._timer.start()

    def _measured(self, built: wb.BuiltEnsemble, generation: int) -> None:
        if generation == self._generation:  # a newer edit replaces this measurement
            self.measured_row_ms = built.predict_row_ms
            self.measured_size_bytes = built.size_bytes
            self.say("Measured on the built model.")

    def _render_preview(self, _: Any = None) -> None:
        if self.valid_score is None:
            return
        if self.measured_row_ms is not None and self.measured_size_bytes is not None:
            cost = f"{self.measured_row_ms:.2f} ms per row, {self.measured_size_bytes / 1e6:.1f} MB (measured)"
        else:
            estimate = f"about {self.estimated_row_ms:.2f} ms per row" if self.estimated_row_ms is not None else ""
            cost = f"{estimate} (measuring the built model ...)" if self.measure else estimate
        self.preview.value = (
            f"<div>valid <b>{score(self.valid_score)}</b>, test {score(self.test_score)}; "
            f'<span class="wb-note">{esc(cost)}</span></div>'
        )

    def save(self) -> None:
        weights = dict(self.weights)
        experiment_id = self.experiment_id
        if experiment_id is None or not weights:
            self.fail("Tick at least one member first.")
            return
        self.run_background(
            "saving the ensemble",
            lambda: wb.save_ensemble(experiment_id, weights, workspace=self.workspace),
            self._saved,
        )

    def _saved(self, built: wb.BuiltEnsemble) -> None:
        self.saved = f"e{built.id}"
        self.say(f"Saved {built.name}: valid {score(built.valid_score)}, {built.predict_row_ms:.2f} ms per row.")


def _ms(value: float | None) -> str:
    return "latency not measured" if value is None else f"{value:.2f} ms"
