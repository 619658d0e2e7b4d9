"""Notebooks as batch jobs: any notebook run headless by papermill in a job of kind "notebook".

`start_notebook` checks the parameters against the notebook's `parameters` cell (papermill's own
inspection) before anything runs, then starts the job runner, which executes the notebook cell by cell:

- every cell's start goes to the job (outputs `cell` / `cells`) and to its log, with what the cell prints;
- the output notebook is saved after every cell, so a failing or cancelled run keeps its partial output;
- the kernel runs with WORKBENCH_JOB_ID set, so a search it starts is a child job of the notebook's
  (cancelling the notebook cancels it) and `workbench.api.record` writes values into the notebook's job;
- a cancel request (from any process) cancels the children, interrupts the running cell and runs no
  other; the job ends "cancelled". A failing cell ends it "failed", the error naming the cell.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.jobs._process import spawn_job
from workbench.store import Job, StopSignal, Workspace
from workbench.store import jobs as job_rows

__all__ = [
    "NotebookParameter",
    "coerce_parameter_text",
    "notebook_parameters",
    "run_notebook_job",
    "start_notebook",
]

CLUSTER_ENV = "WORKBENCH_CLUSTER"
# How often the runner looks for a stop request, and how long a cancelled cell gets between interrupts.
STOP_POLL_S = 1.0
INTERRUPT_EVERY_S = 5.0
# How long the runner waits, after a cancel, for the jobs the notebook started to end.
CHILDREN_GRACE_S = 60.0


@dataclass(frozen=True)
class NotebookParameter:
    """A name of the notebook's `parameters` cell: its default as written, the type papermill infers from
    it ("int", "float", "str", "bool", "None", ...) and the comment beside it."""

    name: str
    type: str
    default: str
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


def _notebook_path(path: str | Path) -> Path:
    notebook = Path(path).expanduser().absolute()
    if notebook.suffix != ".ipynb":
        raise InvalidInputError(f"{str(path)!r} is not a notebook; give the path of an .ipynb file.")
    if not notebook.is_file():
        raise NotFoundError(f"There is no notebook at {str(path)!r}; check the path.")
    return notebook


def notebook_parameters(path: str | Path) -> list[NotebookParameter]:
    """The notebook's parameters, read by papermill from its cell tagged `parameters` (none: no such cell)."""
    import papermill

    notebook = _notebook_path(path)
    try:
        found = papermill.inspect_notebook(str(notebook))
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{notebook.name} is not a readable notebook ({exc}).") from None
    return [
        NotebookParameter(
            name=str(p["name"]),
            type=_type_of(p),
            default=str(p.get("default") or ""),
            help=str(p.get("help") or ""),
        )
        for p in found.values()
    ]


def _type_of(parameter: Mapping[str, Any]) -> str:
    """The annotated type (`n: int = 3`), else the type of the default when it is a literal (`n = 3`)."""
    declared = str(parameter.get("inferred_type_name") or "None")
    if declared != "None":
        return declared
    try:
        value = ast.literal_eval(str(parameter.get("default") or ""))
    except (ValueError, SyntaxError):
        return "None"
    return "None" if value is None else type(value).__name__


def _names(parameters: list[NotebookParameter]) -> str:
    return ", ".join(p.name for p in parameters) or "(none: the notebook has no cell tagged 'parameters')"


def _declared(path: str | Path, names: Iterable[str]) -> dict[str, NotebookParameter]:
    """The notebook's parameters by name; a name in `names` that is not one of them is refused."""
    declared = {p.name: p for p in notebook_parameters(path)}
    unknown = [name for name in names if name not in declared]
    if unknown:
        raise InvalidInputError(
            f"{Path(path).name} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {_names(list(declared.values()))}."
        )
    return declared


def check_parameters(path: str | Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` checked against the notebook's parameters: an unknown name, or a value of another type than
    a number or flag parameter's default, is refused with the valid names."""
    declared = _declared(path, values)
    checked: dict[str, Any] = {}
    for name, value in values.items():
        kind = declared[name].type
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
        }.get(kind, True)
        if not ok:
            raise InvalidInputError(
                f"Parameter {name!r} takes {_KINDS.get(kind, kind)} (its default is {declared[name].default})."
            )
        try:
            checked[name] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            raise InvalidInputError(f"Parameter {name!r} must be a plain value (text, number, list, dict).") from None
    return checked


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
_KINDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}


def coerce_parameter_text(path: str | Path, pairs: Mapping[str, str]) -> dict[str, Any]:
    """Values given as text (`workbench run -p NAME VALUE`) converted to their parameter's type, as the
    notebook's defaults declare it: "3" for an int parameter is 3; a text parameter keeps the text."""
    declared = _declared(path, pairs)
    values: dict[str, Any] = {}
    for name, text in pairs.items():
        kind = declared[name].type
        try:
            if kind == "int":
                values[name] = int(text)
            elif kind == "float":
                values[name] = float(text)
            elif kind == "bool":
                if text.strip().lower() not in _TRUE | _FALSE:
                    raise ValueError(text)
                values[name] = text.strip().lower() in _TRUE
            elif kind == "str":
                values[name] = text
            else:  # None or a container: a Python literal, else the text itself
                try:
                    values[name] = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    values[name] = text
        except ValueError:
            raise InvalidInputError(
                f"Parameter {name!r} takes {_KINDS.get(kind, kind)}, not {text!r} (its default is "
                f"{declared[name].default})."
            ) from None
    return check_parameters(path, values)


def start_notebook(
    workspace: Workspace,
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    output: str | Path | None = None,
    cluster: str | None = None,
) -> Job:
    """Check the parameters, then run the notebook as a background job; returns the job, running.

    output: where the executed notebook goes (default: the workspace's `jobs/` folder). cluster: the
    notebook's `cluster` parameter when it has one, and the default cluster of every call it makes.
    """
    notebook = _notebook_path(path)
    values = check_parameters(notebook, dict(parameters or {}))
    if cluster is not None:
        from workbench.compute import plan_cluster

        plan_cluster(cluster)  # a malformed spec is refused here, not in the notebook's first search
        if any(p.name == "cluster" for p in notebook_parameters(notebook)):
            values.setdefault("cluster", cluster)
    target = None
    if output is not None:
        target = Path(output).expanduser().absolute()
        if target.suffix != ".ipynb":
            raise InvalidInputError(f"The output {str(output)!r} must be an .ipynb file.")
        if not target.parent.is_dir():
            raise InvalidInputError(f"The folder {target.parent} does not exist; create it first.")
        if target == notebook:
            raise InvalidInputError("The output would overwrite the notebook; give another output path.")
    params = {
        "notebook": str(notebook),
        "parameters": values,
        "output": str(target) if target else None,
        "cluster": cluster,
        "cwd": os.getcwd(),
    }
    env = {CLUSTER_ENV: cluster} if cluster else None
    return spawn_job(workspace, "notebook", params, env=env)


# --- in the job runner -------------------------------------------------------------------------------


class NotebookCancelled(Exception):
    """Raised before the next cell once the job was asked to cancel."""


class _Run:
    """One notebook run's state, shared by the executing client, the stop watcher and the runner."""

    def __init__(self, workspace: Workspace, job: Job, stop: StopSignal, say: Callable[[str], None]) -> None:
        self.workspace = workspace
        self.job = job
        self.stop = stop
        self.say = say
        self.cancelled = threading.Event()
        self._cancelling = threading.Lock()
        self.kernel: Any = None  # the kernel manager, once the kernel runs
        self.cells = 0
        self.current = -1

    def cancel_requested(self) -> bool:
        """Whether the job was asked to cancel, looked up now: a cancel reaches the notebook's search at
        the same moment, and a search that ends at once must not let the next cell run before the
        watcher's next poll."""
        if not self.cancelled.is_set():
            with contextlib.suppress(Exception):  # a busy store: the watcher sees the request later
                if (self.stop.mode or job_rows.stop_request(self.workspace.store, self.job.id)) == "cancel":
                    self.cancel()
        return self.cancelled.is_set()

    def cancel(self) -> None:
        """Mark the run cancelled (said once in the log, whichever thread sees the request first)."""
        with self._cancelling:
            if not self.cancelled.is_set():
                self.say("cancel requested: the notebook's jobs are cancelled and the running cell interrupted")
                self.cancelled.set()

    def cell_started(self, index: int, cell: Any, client: Any) -> None:
        self.kernel = client.km
        if self.cancel_requested():
            raise NotebookCancelled
        self.cells = len(client.nb.cells)
        self.current = index
        if cell.cell_type != "code":
            return
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        self.say(f"cell {index + 1}/{self.cells}: {first[:100]}")
        # A busy store must not stop the notebook: the next cell records its progress again.
        with contextlib.suppress(Exception):
            job_rows.merge_outputs(self.workspace.store, self.job.id, {"cell": index + 1, "cells": self.cells})

    def interrupt(self) -> None:
        """SIGINT to the kernel: the running cell raises KeyboardInterrupt, as Jupyter's interrupt does."""
        pid = getattr(getattr(self.kernel, "provisioner", None), "pid", None)
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGINT)


def _engine(run: _Run) -> str:
    """Register (once) and name the papermill engine that tells `run` about each cell."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class Client(PapermillNotebookClient):  # type: ignore[misc]
        def execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
            run.cell_started(cell_index, cell, self)
            return super().execute_cell(cell, cell_index, *args, **kwargs)

    class Engine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs.pop("input_path", None)
            client = Client(
                nb_man,
                # The kernel's own log (its transport, the interrupt sent before shutdown) is not the
                # notebook's output; what a cell raises is in the notebook and the job.
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                kernel_name=kernel_name,
                startup_timeout=start_timeout,
                timeout=execution_timeout,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **kwargs,
            )
            return client.execute()

    name = f"workbench-job-{run.job.id}"
    papermill_engines.register(name, Engine)
    return name


def _watch(run: _Run, stop: StopSignal, done: threading.Event) -> None:
    """Honour stop requests: "finish" is passed to the notebook's jobs (their running work finishes, the
    notebook goes on); "cancel" cancels them, interrupts the running cell and runs no other."""
    store = run.workspace.store
    forwarded: str | None = None
    last_interrupt = 0.0
    while not done.wait(STOP_POLL_S):
        try:
            mode = stop.mode or job_rows.stop_request(store, run.job.id)
        except Exception:
            continue
        if mode is None:
            continue
        if mode != forwarded:
            for child in job_rows.list_jobs(store, parent_id=run.job.id, statuses=job_rows.ACTIVE):
                job_rows.request_stop(store, child.id, mode)
            forwarded = mode
        if mode == "cancel":
            run.cancel()
            if time.monotonic() - last_interrupt >= INTERRUPT_EVERY_S:
                run.interrupt()
                last_interrupt = time.monotonic()


def _wait_for_children(run: _Run, timeout_s: float) -> None:
    from workbench.jobs._control import list_jobs

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        active = [j for j in list_jobs(run.workspace, active=True) if j.parent_id == run.job.id]
        if not active:
            return
        time.sleep(0.5)


def _failed_cell(notebook: Path, error: Any) -> tuple[str, dict[str, Any]]:
    """What failed, in one sentence naming the cell, and the same as JSON for the job's outputs."""
    index = int(getattr(error, "cell_index", -1))
    source = str(getattr(error, "source", "") or "")
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    ename, evalue = str(getattr(error, "ename", "")), str(getattr(error, "evalue", ""))
    count = getattr(error, "exec_count", None)
    where = f"cell {index + 1}" + (f" (In [{count}])" if count is not None else "")
    message = f"{where} of {notebook.name} failed: {ename}: {evalue}".rstrip(": ")
    if first:
        message += f" (the cell starts {first[:80]!r})"
    details = {"index": index + 1, "execution_count": count, "source": source, "ename": ename, "evalue": evalue}
    return message, details


def run_notebook_job(workspace: Workspace, job: Job, stop: StopSignal, say: Callable[[str], None]) -> str:
    """The runner of a notebook job: execute it, cell by cell, into its output notebook."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = job.params
    notebook = Path(params["notebook"])
    output = Path(params["output"] or workspace.settings.home / "jobs" / f"notebook-{job.id}-{notebook.stem}.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    job_rows.merge_outputs(workspace.store, job.id, {"notebook": str(output)})
    if params.get("cluster"):
        os.environ[CLUSTER_ENV] = params["cluster"]
    run = _Run(workspace, job, stop, say)
    done = threading.Event()
    threading.Thread(target=_watch, args=(run, stop, done), name="notebook-stop", daemon=True).start()
    say(f"notebook {notebook} -> {output}")
    for name, value in params.get("parameters", {}).items():
        say(f"  {name} = {value!r}")
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=params.get("parameters", {}),
            engine_name=_engine(run),
            progress_bar=False,
            stdout_file=sys.stdout,
            stderr_file=sys.stderr,
            cwd=params.get("cwd"),
        )
    except NotebookCancelled:
        return _cancelled(run)
    except PapermillExecutionError as exc:
        if run.cancel_requested():
            return _cancelled(run)
        message, details = _failed_cell(notebook, exc)
        job_rows.merge_outputs(workspace.store, job.id, {"failed_cell": details})
        raise WorkbenchError(message) from None
    finally:
        done.set()
    if run.cancel_requested():
        return _cancelled(run)
    say(f"notebook finished: {output}")
    return "finished"


def _cancelled(run: _Run) -> str:
    _wait_for_children(run, CHILDREN_GRACE_S)
    run.say("notebook cancelled")
    return "cancelled"
