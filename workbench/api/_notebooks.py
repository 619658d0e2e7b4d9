"""Notebooks as batch jobs: their parameters, a run as a job of kind "notebook", its progress, and the
values a notebook records into its job."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from workbench._json import to_jsonable
from workbench.api._workspace import WorkspaceLike, resolve_workspace
from workbench.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from workbench.jobs import NotebookParameter
    from workbench.store import Job, Workspace

__all__ = [
    "NotebookJob",
    "NotebookProgress",
    "example_notebook",
    "notebook_job",
    "notebook_parameters",
    "parse_parameters",
    "record",
    "recorded",
    "run_notebook",
]


def example_notebook(name: str = "01_quickstart.ipynb") -> Path:
    """One of the example notebooks that come with workbench (`notebooks/` of the source tree; in the wheel,
    `workbench/_bundled_notebooks`), e.g. the quickstart that `workbench demo` runs."""
    package = Path(__file__).resolve().parent.parent
    for folder in (package / "_bundled_notebooks", package.parent / "notebooks"):
        if (folder / name).is_file():
            return folder / name
    raise NotFoundError(f"There is no example notebook {name!r} in this installation of workbench; reinstall it.")


@dataclass(frozen=True)
class NotebookProgress:
    """Where a notebook job is: its status, the cell running (1-based, of `cells`), its output notebook,
    the values it recorded, and, once failed, why (the error names the cell)."""

    job_id: int
    status: str
    cell: int | None
    cells: int | None
    notebook: str | None
    values: dict[str, Any]
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


@dataclass(frozen=True)
class NotebookJob:
    """A notebook run as a job (running or ended). Every method reads the store, so a handle made in
    another process (`notebook_job(ID)`) sees the same run."""

    workspace: Workspace
    job_id: int

    def job(self) -> Job:
        from workbench.jobs import get_job

        return get_job(self.workspace, self.job_id)

    def progress(self) -> NotebookProgress:
        job = self.job()
        out = job.outputs
        return NotebookProgress(
            job_id=job.id,
            status=job.status,
            cell=out.get("cell"),
            cells=out.get("cells"),
            notebook=out.get("notebook"),
            values=dict(out.get("values", {})),
            error=job.error,
        )

    @property
    def values(self) -> dict[str, Any]:
        """What the notebook recorded with `workbench.api.record(name, value)`."""
        return self.progress().values

    @property
    def output(self) -> Path | None:
        """The executed notebook (written cell by cell, kept when a cell fails)."""
        notebook = self.job().outputs.get("notebook")
        return Path(notebook) if notebook else None

    def wait(self, timeout: float | None = None, poll_s: float = 0.5) -> Job:
        """Block until the job ends (or `timeout` seconds pass: TimeoutError); returns the ended job."""
        from workbench.jobs import wait_for_job

        return wait_for_job(self.workspace, self.job_id, timeout_s=timeout, poll_s=poll_s)

    def follow(self, out: IO[str] | None = None, poll_s: float = 0.25, timeout: float | None = None) -> Job:
        """Write the job's log to `out` (default stdout) as it grows: each cell as it starts and what the
        cell prints; returns the job once it ended."""
        stream = out or sys.stdout
        deadline = None if timeout is None else time.monotonic() + timeout
        offset = 0
        while True:
            job = self.job()
            path = Path(job.log_path) if job.log_path else None
            if path is not None and path.is_file():
                with open(path, "rb") as log:
                    log.seek(offset)
                    chunk = log.read()
                offset += len(chunk)
                if chunk:
                    stream.write(chunk.decode("utf-8", errors="replace"))
                    stream.flush()
            if not job.active:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"notebook job {self.job_id} is still {job.status} after {timeout} s")
            time.sleep(poll_s)

    def cancel(self, grace_s: float = 15.0) -> Job:
        """Cancel the run and the jobs it started (its search): it ends "cancelled"."""
        from workbench.jobs import cancel_job

        return cancel_job(self.workspace, self.job_id, grace_s)

    def log(self, tail: int | None = None) -> str:
        from workbench.jobs import job_log

        return job_log(self.workspace, self.job_id, tail)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "job": self.job().to_dict(), "progress": self.progress().to_dict()}


def notebook_parameters(path: str | Path) -> list[NotebookParameter]:
    """The notebook's parameters (its cell tagged `parameters`, read by papermill): name, type, default."""
    from workbench.jobs import notebook_parameters as read

    return read(path)


def parse_parameters(path: str | Path, pairs: Mapping[str, str]) -> dict[str, Any]:
    """Parameter values given as text (`-p NAME VALUE`) converted to the types the notebook's defaults
    declare; an unknown name is refused with the valid names."""
    from workbench.jobs import coerce_parameter_text

    return coerce_parameter_text(path, pairs)


def run_notebook(
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    output: str | Path | None = None,
    cluster: str | None = None,
    workspace: WorkspaceLike = None,
) -> NotebookJob:
    """Run a notebook headless (papermill) as a background job of kind "notebook"; returns at once.

    Parameters are checked against the notebook's `parameters` cell before anything runs. `output`: the
    executed notebook (default: in the workspace's `jobs/` folder). `cluster`: the notebook's `cluster`
    parameter if it has one, and the default of every search and batch scoring the notebook starts.

    >>> run = run_notebook("notebooks/03_batch_scoring.ipynb", {"model": "penguins@production"})  # doctest: +SKIP
    >>> run.follow().status, run.values  # doctest: +SKIP
    """
    from workbench.jobs import start_notebook

    ws = resolve_workspace(workspace)
    job = start_notebook(ws, path, parameters, output=output, cluster=cluster)
    return NotebookJob(ws, job.id)


def notebook_job(job_id: int, *, workspace: WorkspaceLike = None) -> NotebookJob:
    """The notebook job `job_id`, from any process."""
    from workbench.jobs import get_job

    ws = resolve_workspace(workspace)
    job = get_job(ws, job_id)
    if job.kind != "notebook":
        raise InvalidInputError(f"Job {job_id} is a {job.kind} job, not a notebook job.")
    return NotebookJob(ws, job.id)


_RECORDED: dict[str, Any] = {}


def record(name: str, value: Any) -> Any:
    """Keep `value` under `name` in the job running this notebook (`workbench run`, `run_notebook`), where
    `workbench jobs show` and `NotebookJob.values` read it; outside a job, only in `recorded()`. The value
    must be plain JSON (text, number, bool, list, dict); returns it."""
    import json

    from workbench.jobs import JOB_ENV

    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("Record a value under a name (a non-empty string).")
    try:
        plain = json.loads(json.dumps(to_jsonable(value), allow_nan=False))
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"The value recorded as {name!r} must be plain JSON (text, a finite number, bool, list, dict)."
        ) from None
    _RECORDED[name] = plain
    if os.environ.get(JOB_ENV, "").isdigit():
        from workbench.jobs import current_job_id
        from workbench.store import jobs as job_rows

        ws = resolve_workspace(None)
        job_id = current_job_id(ws)
        if job_id is not None:
            job_rows.merge_outputs(ws.store, job_id, {name: plain}, under="values")
    return value


def recorded() -> dict[str, Any]:
    """The values this process recorded."""
    return dict(_RECORDED)
