"""A rich progress view of a search, driven by its events."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from workbench.api import SearchEvent

__all__ = ["SearchProgress"]


class SearchProgress:
    """Subscribe `on_event` to a search's EventBus; use as a context manager around the search."""

    def __init__(self, console: Console, total: int | None) -> None:
        self.console = console
        self.total = total
        self.progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}", markup=False),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("trials", total=total, status="starting")
        self.running = 0
        self.failed = 0
        self.best = ""

    def __enter__(self) -> SearchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def _status(self) -> str:
        parts = [f"{self.running} running"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.best:
            parts.append(f"best {self.best}")
        return ", ".join(parts)

    def on_event(self, event: SearchEvent) -> None:
        p = event.payload
        if event.kind == "cluster":
            self.console.print(
                f"cluster: {p['workers']} workers, {p['threads']} threads, {p['gpus']} GPUs", highlight=False
            )
        elif event.kind == "trial_started":
            self.running += 1
        elif event.kind == "trial_finished":
            self.running = max(0, self.running - 1)
            self.progress.advance(self.task)
        elif event.kind == "trial_failed":
            self.running = max(0, self.running - 1)
            if p.get("state") == "FAILED":
                self.failed += 1
                failed = Text.assemble((f"trial {p['engine']}-{p['number']} failed:", "red"), f" {p.get('error')}")
                self.console.print(failed, highlight=False)
        elif event.kind == "best":
            self.best = f"{p['name']} valid {p['valid_score']:.4g}"
        self.progress.update(self.task, status=self._status())
