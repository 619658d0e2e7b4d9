"""What every step widget shares: its status line, its background work, and escaped text."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from workbench.errors import WorkbenchError
from workbench.widgets._frontend import STYLE, headless

__all__ = ["Step", "button", "esc", "number", "table"]

log = logging.getLogger("workbench.widgets")


def esc(value: Any) -> str:
    """User data (column names, labels, file names) as text inside the widgets' HTML, never as markup."""
    return html.escape(str(value), quote=True)


def button(description: str, icon: str, *, disabled: bool = False, **kwargs: Any) -> widgets.Button:
    """A button as wide as its text (the default width cuts longer labels)."""
    layout = widgets.Layout(width="fit-content", flex="0 0 auto")
    return widgets.Button(description=description, icon=icon, disabled=disabled, layout=layout, **kwargs)


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}"


def score(value: float | None) -> str:
    """A score as the CLI and the tables print it: 4 decimals, so that scores side by side line up."""
    return "-" if value is None else f"{value:.4f}"


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    selected: int | None = None,
    formats: Sequence[str | None] = (),
) -> str:
    """An HTML table with every cell escaped; numbers right-aligned, each column's in its format of `formats`
    (a format spec such as ".4f"; None or missing: 4 significant digits for a float)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{esc(_formatted(v, formats[j] if j < len(formats) else None))}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{esc('' if v is None else v)}</td>"
            for j, v in enumerate(row)
        )
        marker = ' class="wb-selected"' if i == selected else ""
        body.append(f"<tr{marker}>{cells}</tr>")
    return f'<table class="wb-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _formatted(value: float, spec: str | None) -> str:
    if spec is not None:
        return format(value, spec)
    return number(value) if isinstance(value, float) else str(value)


class Step(widgets.VBox):  # type: ignore[misc]
    """A step of the flow: a box of controls, a status line (`message` / `error`) and background work.

    Long work runs in a thread (`run_background`), never on the kernel's main thread, so a click returns
    at once and the display stays live. Headless (no front end), messages are printed as well.
    """

    busy = traitlets.Bool(False).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, title: str, *, workspace: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self._tasks = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._title = widgets.HTML(f'{STYLE}<div class="wb-title">{esc(title)}</div>')
        self._status = widgets.HTML()
        self.add_class("wb-app")
        self.observe(self._render_status, names=["message", "error", "busy"])

    def _render_status(self, _: Any = None) -> None:
        if self.error:
            self._status.value = f'<span class="wb-error">{esc(self.error)}</span>'
        elif self.message:
            working = " ..." if self.busy else ""
            self._status.value = f'<span class="wb-note">{esc(self.message)}{working}</span>'
        else:
            self._status.value = ""

    def say(self, text: str) -> None:
        """Show `text`; an error shown meanwhile stays until the next piece of work starts."""
        self.message = text
        if headless():
            print(text, flush=True)

    def fail(self, text: str) -> None:
        self.error = text
        if headless():
            print(f"Error: {text}", flush=True)

    def run_background(
        self, what: str, work: Callable[[], Any], done: Callable[[Any], None] | None = None
    ) -> threading.Thread:
        """Run `work` in a thread; `done(result)` runs there too. A user mistake shows as one sentence."""
        with self._lock:
            self._tasks += 1
            self._idle.clear()
        self.busy = True
        self.error = ""
        self.message = what

        def target() -> None:
            try:
                result = work()
                if done is not None:
                    done(result)
            except WorkbenchError as exc:
                self.fail(exc.message)
            except Exception as exc:  # a bug: logged with its traceback, shown as one line
                log.exception("%s failed", what)
                self.fail(f"{what} failed: {type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._tasks -= 1
                    idle = self._tasks == 0
                if idle:
                    self.busy = False
                    self._render_status()
                    self._idle.set()

        thread = threading.Thread(target=target, name=f"workbench-{what}", daemon=True)
        thread.start()
        return thread

    def wait_idle(self, timeout: float | None = 120.0) -> bool:
        """Block until this step's background work is done (for scripts and tests); True if it is."""
        return self._idle.wait(timeout)
