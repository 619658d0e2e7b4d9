"""`workbench jobs ...`: searches, endpoints and notebooks running in the background, alike."""

from __future__ import annotations

import json
import time

import typer
from rich.table import Table

import workbench.api as wb
from workbench.cli._table import Column, print_table
from workbench.cli._util import JSON_OPTION, console, print_json, user_errors

__all__ = ["jobs_app"]

jobs_app = typer.Typer(help="List, show, cancel and read the logs of background jobs.", no_args_is_help=True)


def _when(at: float | None) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(at)) if at else ""


@jobs_app.command("list")
@user_errors
def jobs_list(
    kind: str | None = typer.Option(None, help="Only jobs of this kind: search, endpoint or notebook."),
    active: bool = typer.Option(False, "--active", help="Only jobs still running."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List jobs, oldest first."""
    jobs = wb.list_jobs(kind=kind, active=active)
    if as_json:
        print_json([j.to_dict() for j in jobs])
        return
    columns = [
        Column("id", right=True),
        *(Column(name) for name in ("kind", "status")),
        *(Column(name, right=True) for name in ("experiment", "parent")),
        Column("started"),
        Column("duration", right=True),
        Column("host", fold_to=16),
        Column("pid", right=True),
    ]
    rows = [
        (
            str(j.id),
            j.kind,
            j.status,
            str(j.experiment_id or ""),
            str(j.parent_id or ""),
            _when(j.started_at),
            f"{j.duration_s:.0f} s" if j.duration_s is not None else "",
            j.host or "",
            str(j.pid or ""),
        )
        for j in jobs
    ]
    # `jobs show ID` has the process and the parent.
    print_table(console, "Jobs", columns, rows, optional=("pid", "host", "parent", "experiment"))


@jobs_app.command("show")
@user_errors
def jobs_show(job_id: int = typer.Argument(..., metavar="ID", help="Job id."), as_json: bool = JSON_OPTION) -> None:
    """Show one job: its parameters, process, status, outputs and log."""
    job = wb.show_job(job_id)
    if as_json:
        print_json(job.to_dict())
        return
    table = Table(title=f"Job {job.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in job.to_dict().items():
        if key.endswith("_at") and isinstance(value, float):
            value = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
        if value not in (None, {}, ""):
            text = (
                json.dumps(value, indent=1, sort_keys=True, default=str)
                if isinstance(value, dict | list)
                else str(value)
            )
            table.add_row(key, text)
    console.print(table)


@jobs_app.command("cancel")
@user_errors
def jobs_cancel(job_id: int = typer.Argument(..., metavar="ID", help="Job id.")) -> None:
    """Cancel a running job and the jobs it started (a search keeps what it found); waits until they ended."""
    job = wb.cancel_job(job_id)
    console.print(f"Job {job.id} {job.status}.", highlight=False)


@jobs_app.command("log")
@user_errors
def jobs_log(
    job_id: int = typer.Argument(..., metavar="ID", help="Job id."),
    tail: int = typer.Option(0, help="Lines from the end (0 for all)."),
) -> None:
    """Print a job's log."""
    typer.echo(wb.job_log(job_id, tail or None))
