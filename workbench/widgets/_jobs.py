"""A notebook job shown live: its status, the cell it runs, what it recorded, and a Cancel button; followed by
a thread reading the store, so the kernel stays free while the job runs in its own process."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets
import traitlets

import workbench.api as wb
from workbench.widgets._common import button, esc, log
from workbench.widgets._frontend import headless

__all__ = ["ACTIVE", "NotebookJobStatus"]

POLL_S = 0.5
ACTIVE = ("starting", "running")  # a job's statuses before it ends


class NotebookJobStatus(widgets.HBox):  # type: ignore[misc]
    """`job_id`, `status`, `cell` / `cells`, `values` (what the notebook recorded) and `error` of the notebook
    job last given to `follow()`; the view renders from them."""

    job_id = traitlets.Int(None, allow_none=True).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    cell = traitlets.Int(None, allow_none=True).tag(sync=True)
    cells = traitlets.Int(None, allow_none=True).tag(sync=True)
    values = traitlets.Dict().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    output = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.text = widgets.HTML()
        self.cancel_button = button("Cancel job", "stop")
        self.cancel_button.layout.display = "none"
        self.children = [self.text, self.cancel_button]
        self._handle: wb.NotebookJob | None = None
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._ended.set()
        self.cancel_button.on_click(lambda _: self.cancel())
        self.observe(self._render, names=["job_id", "status", "cell", "cells", "values", "error", "output"])

    def follow(self, job: wb.NotebookJob) -> None:
        """Show `job` and follow it in a thread until it ends (a job followed before is let go)."""
        self._stop.set()
        self._stop = stop = threading.Event()
        self._ended.clear()
        self._handle = job
        self.job_id = job.job_id
        self._update(job.progress())
        threading.Thread(target=self._poll, args=(job, stop), name=f"workbench-job-{job.job_id}", daemon=True).start()

    def _poll(self, job: wb.NotebookJob, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                progress = job.progress()
                self._update(progress)
                if progress.status not in ACTIVE:
                    if headless():
                        print(self.summary(), flush=True)
                    return
                stop.wait(POLL_S)
        except Exception:  # the store went away (workspace deleted): stop following, say so in the log
            log.exception("following notebook job %s failed", job.job_id)
        finally:
            if stop is self._stop:
                self._ended.set()

    def _update(self, progress: wb.NotebookProgress) -> None:
        self.cell, self.cells = progress.cell, progress.cells
        self.values = progress.values
        self.error = progress.error or ""
        self.output = progress.notebook or ""
        self.status = progress.status

    def cancel(self) -> None:
        handle = self._handle
        if handle is None or self.status not in ACTIVE:
            return
        self.cancel_button.disabled = True
        threading.Thread(target=handle.cancel, name=f"workbench-cancel-{handle.job_id}", daemon=True).start()

    def wait(self, timeout: float | None = 600.0) -> str:
        """Block until the job followed has ended (for scripts and tests); its final status."""
        if not self._ended.wait(timeout):
            raise TimeoutError(f"notebook job {self.job_id} is still {self.status} after {timeout} s")
        return self.status

    def summary(self) -> str:
        """The view as one line of plain text."""
        if self.job_id is None:
            return ""
        where = f", cell {self.cell}/{self.cells}" if self.cell and self.cells and self.status == "running" else ""
        line = f"Job {self.job_id} {self.status}{where}"
        if self.values:
            line += ": " + ", ".join(f"{name} {value}" for name, value in self.values.items())
        if self.error:
            line += f". {self.error}"
        return line

    def _render(self, _: Any = None) -> None:
        running = self.status in ACTIVE
        self.cancel_button.layout.display = "" if running else "none"
        self.cancel_button.disabled = not running
        if self.job_id is None:
            self.text.value = ""
            return
        css = {"finished": "wb-ok", "failed": "wb-error"}.get(self.status, "wb-note")
        where = f" cell {self.cell} of {self.cells}" if running and self.cell and self.cells else ""
        parts = [f'<span class="{css}">Job {self.job_id} {esc(self.status)}</span><span class="wb-note">{where}</span>']
        if self.values:
            recorded = ", ".join(f"{esc(k)} <span class='wb-code'>{esc(v)}</span>" for k, v in self.values.items())
            parts.append(f'<span class="wb-note">recorded {recorded}</span>')
        if self.error:
            parts.append(f'<span class="wb-error">{esc(self.error)}</span>')
        if self.output and not running:
            parts.append(f'<span class="wb-note">output <span class="wb-code">{esc(self.output)}</span></span>')
        parts.append(f'<span class="wb-note">(<span class="wb-code">workbench jobs show {self.job_id}</span>)</span>')
        self.text.value = " · ".join(parts)
