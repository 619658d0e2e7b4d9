"""Step 3, the monitor: a running search (a background job), followed from the store by a thread of its own.

The display keeps updating while the kernel runs other cells: the thread reads the progress summary and the
new events every `poll_s` seconds and updates the widget's traitlets and its figures in place. Built again
for the same experiment (after a kernel restart or a page reload), it replays the history from the store.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
import traitlets

import workbench.api as wb
from workbench.widgets._common import Step, esc, score, table
from workbench.widgets._frontend import figure_layout, headless

__all__ = ["Monitor"]


class _EngineHistory:
    """One engine's trials as points (number, value, state) and its best-so-far line, in a FigureWidget."""

    def __init__(self, engine: str, greater_is_better: bool, theme: str) -> None:
        self.engine = engine
        self.greater = greater_is_better
        self.points: dict[int, tuple[float | None, str]] = {}
        self.figure = go.FigureWidget(
            data=[
                go.Scatter(x=[], y=[], mode="markers", name="trials", text=[], hoverinfo="x+y+text"),
                go.Scatter(x=[], y=[], mode="lines", name="best so far", line={"shape": "hv"}),
            ],
            layout={
                **figure_layout(theme),
                "title": esc(f"{engine}: optimisation history"),
                "height": 280,
                "width": 460,
                "xaxis": {"title": "trial"},
                "showlegend": False,
                "modebar": {"orientation": "v"},
            },
        )

    def add(self, number: int, value: float | None, state: str) -> None:
        self.points[number] = (value, state)

    def draw(self) -> None:
        numbers = sorted(self.points)
        scored = [(n, self.points[n][0]) for n in numbers if self.points[n][0] is not None]
        best: list[float] = []
        for _, value in scored:
            assert value is not None
            best.append(value if not best else (max if self.greater else min)(best[-1], value))
        with self.figure.batch_update():  # only these traces' data change: the figure is not redrawn
            self.figure.data[0].x = [n for n, _ in scored]
            self.figure.data[0].y = [v for _, v in scored]
            self.figure.data[0].text = [self.points[n][1].lower() for n, _ in scored]
            self.figure.data[1].x = [n for n, _ in scored]
            self.figure.data[1].y = best


class Monitor(Step):
    """Follow an experiment's search. The summary traitlets mirror `workbench.api.SearchProgress`;
    `workers` maps each worker to the trials it runs now."""

    experiment_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    job_status = traitlets.Unicode("").tag(sync=True)
    shown_status = traitlets.Unicode("").tag(sync=True)  # `SearchProgress.shown_status`: what the view says
    done = traitlets.Int(0).tag(sync=True)
    target = traitlets.Int(None, allow_none=True).tag(sync=True)
    running = traitlets.Int(0).tag(sync=True)
    failed = traitlets.Int(0).tag(sync=True)
    pruned = traitlets.Int(0).tag(sync=True)
    best_name = traitlets.Unicode("").tag(sync=True)
    best_score = traitlets.Float(None, allow_none=True).tag(sync=True)
    elapsed_s = traitlets.Float(None, allow_none=True).tag(sync=True)
    time_left_s = traitlets.Float(None, allow_none=True).tag(sync=True)
    workers = traitlets.Dict().tag(sync=True)
    last_event_id = traitlets.Int(0).tag(sync=True)

    def __init__(self, experiment_id: int | None = None, *, poll_s: float = 0.5, workspace: Any = None, **kwargs: Any):
        super().__init__("3. Monitor", workspace=workspace, **kwargs)
        self.poll_s = poll_s
        self.theme = "light"
        self.engines: dict[str, _EngineHistory] = {}
        self._follower: threading.Thread | None = None
        self._quit = threading.Event()
        self._finished = threading.Event()
        self.bar = widgets.IntProgress(min=0, max=1, description="Trials", layout=widgets.Layout(width="520px"))
        self.summary = widgets.HTML()
        self.worker_table = widgets.HTML()
        self.figures = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.finish_button = widgets.Button(
            description="Stop (finish running)",
            icon="stop",
            disabled=True,
            layout=widgets.Layout(width="fit-content", flex="0 0 auto"),
        )
        self.cancel_button = widgets.Button(
            description="Cancel now",
            icon="times",
            button_style="danger",
            disabled=True,
            layout=widgets.Layout(width="fit-content", flex="0 0 auto"),
        )
        self.children = [
            self._title,
            self.bar,
            self.summary,
            widgets.HBox([self.finish_button, self.cancel_button]),
            self.worker_table,
            self.figures,
            self._status,
        ]
        self.finish_button.on_click(lambda _: self.stop("finish"))
        self.cancel_button.on_click(lambda _: self.stop("cancel"))
        self.observe(
            self._render,
            names=[
                "done",
                "target",
                "running",
                "failed",
                "pruned",
                "best_name",
                "best_score",
                "status",
                "job_status",
                "shown_status",
                "elapsed_s",
                "time_left_s",
                "workers",
            ],
        )
        if experiment_id is not None:
            self.attach(experiment_id)

    # following -----------------------------------------------------------------------------------

    def attach(self, experiment_id: int) -> None:
        """Follow `experiment_id`'s newest search, its history replayed from the store."""
        self.detach()
        experiment = wb.show_experiment(experiment_id, workspace=self.workspace)
        self._greater = wb.METRICS[experiment.metric].greater_is_better
        self.engines = {}
        self.figures.children = []
        self.last_event_id = 0
        self.experiment_id = experiment.id
        self._quit.clear()
        self._finished.clear()
        self._follower = threading.Thread(target=self._follow, name=f"monitor-{experiment.id}", daemon=True)
        self._follower.start()

    def detach(self) -> None:
        self._quit.set()
        if self._follower is not None and self._follower is not threading.current_thread():
            self._follower.join(timeout=10)
        self._follower = None

    def _follow(self) -> None:
        experiment_id = self.experiment_id
        assert experiment_id is not None
        while not self._quit.is_set():
            try:
                active = self._poll(experiment_id)
            except wb.WorkbenchError as exc:
                self.fail(exc.message)
                active = True
            except Exception as exc:  # never let the display thread die silently
                self.fail(f"monitor: {type(exc).__name__}: {exc}")
                active = True
            if not active:
                self._finished.set()
                return
            self._quit.wait(self.poll_s)

    def _poll(self, experiment_id: int) -> bool:
        """One update from the store; False once the search has ended (and everything is shown)."""
        events = wb.search_events(experiment_id, after=self.last_event_id, workspace=self.workspace)
        touched = set()
        for event in events:
            payload = event.payload
            if event.kind == "search_started":
                for engine in payload.get("engines", []):
                    self._engine(engine)
            elif event.kind in ("trial_finished", "trial_failed"):
                values = payload.get("values") or []
                value = float(values[0]) if values and payload.get("state") == "COMPLETE" else None
                history = self._engine(str(payload["engine"]))
                history.add(int(payload["number"]), value, str(payload["state"]))
                touched.add(history.engine)
        for engine in touched:
            self.engines[engine].draw()
        if events:
            self.last_event_id = events[-1].id or self.last_event_id
        try:
            progress = wb.search_progress(experiment_id, workspace=self.workspace)
        except wb.WorkbenchError:  # no search of it yet
            self.status = self.shown_status = wb.show_experiment(experiment_id, workspace=self.workspace).status
            return True
        running: dict[str, list[str]] = {}
        for trial in wb.list_trials(experiment_id, workspace=self.workspace):
            if trial.state == "RUNNING":
                running.setdefault(trial.worker or "?", []).append(f"{trial.engine}-{trial.number}")
        self.workers = running
        with self.hold_trait_notifications():  # one render for the whole update
            self.done, self.target = progress.done, progress.target
            self.running, self.failed, self.pruned = progress.running, progress.failed, progress.pruned
            self.best_name, self.best_score = progress.best_name or "", progress.best_score
            self.elapsed_s, self.time_left_s = progress.elapsed_s, progress.time_left_s
            self.job_status, self.status = progress.job_status or "", progress.status
            self.shown_status = progress.shown_status
        self._render()
        self.finish_button.disabled = self.cancel_button.disabled = not progress.active
        # a search that has ended has nothing to stop: its buttons go (a disabled red button still looked live)
        for stop_button in (self.finish_button, self.cancel_button):
            stop_button.layout.display = "" if progress.active else "none"
        return progress.active

    def _engine(self, name: str) -> _EngineHistory:
        if name not in self.engines:
            self.engines[name] = _EngineHistory(name, self._greater, self.theme)
            self.figures.children = [h.figure for h in self.engines.values()]
        return self.engines[name]

    def _render(self, _: Any = None) -> None:
        target = self.target or max(self.done, 1)
        self.bar.max = max(target, 1)
        self.bar.value = min(self.done, self.bar.max)
        self.bar.description = f"{self.done}/{self.target}" if self.target else f"{self.done} trials"
        best = f"best {esc(self.best_name)} ({score(self.best_score)})" if self.best_name else "no candidate yet"
        elapsed = f", {self.elapsed_s:.0f} s elapsed" if self.elapsed_s is not None else ""
        ended = self.job_status in ("finished", "stopped", "cancelled", "failed") or self.status in (
            "finished",
            "stopped",
            "failed",
            "interrupted",
        )
        left = f", {self.time_left_s:.0f} s left" if self.time_left_s is not None and not ended else ""
        self.summary.value = (
            f'<div class="wb-note">experiment {self.experiment_id}: <b>{esc(self.shown_status or self.status)}</b>; '
            f"{self.running} running, {self.failed} failed, {self.pruned} pruned; {best}{elapsed}{left}</div>"
        )
        rows = [[worker, len(trials), ", ".join(trials)] for worker, trials in sorted(self.workers.items())]
        self.worker_table.value = table(["worker", "running", "trials"], rows) if rows else ""

    # control -------------------------------------------------------------------------------------

    def stop(self, mode: wb.StopMode = "finish") -> None:
        """Stop the search ("finish": let running trials finish; "cancel": now). A store write: quick."""
        if self.experiment_id is None:
            self.fail("Nothing to stop: no search is followed.")
            return
        wb.stop_search(self.experiment_id, mode, workspace=self.workspace)
        self.say(f"Stop requested ({mode}).")

    def wait(self, timeout: float | None = None) -> str:
        """Block until the search ends; headless, print a plain-text progress line per change. Returns the
        experiment's status."""
        if self.experiment_id is None:
            raise wb.WorkbenchError("Nothing to wait for: no search is followed.")
        if headless():
            status = wb.follow_search(self.experiment_id, timeout_s=timeout, workspace=self.workspace)
            self._finished.wait(30)
            return status
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._finished.wait(0.5):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the search of experiment {self.experiment_id} is still running")
        return self.status

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        for history in self.engines.values():
            history.figure.update_layout(**figure_layout(theme))
