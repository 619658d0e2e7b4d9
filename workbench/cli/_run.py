"""`workbench run NOTEBOOK -p NAME VALUE ...`: a notebook run headless as a recorded job."""

from __future__ import annotations

import io
from pathlib import Path

import typer

import workbench.api as wb
from workbench.cli._util import JSON_OPTION, console, print_json, styled
from workbench.errors import InvalidInputError

__all__ = ["run_command"]


PARAMETER_FLAGS = ("-p", "--parameter")
# `-p NAME VALUE` takes two values per use, which typer cannot declare: the command takes its extra
# arguments and reads the pairs here.
RUN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def _pairs(args: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    i = 0
    while i < len(args):
        flag = args[i]
        if flag not in PARAMETER_FLAGS:
            raise InvalidInputError(f"Unexpected argument {flag!r}; give parameters as -p NAME VALUE.")
        if i + 2 >= len(args):
            raise InvalidInputError(f"{flag} takes a NAME and a VALUE: -p NAME VALUE.")
        name, text = args[i + 1], args[i + 2]
        if name in pairs:
            raise InvalidInputError(f"Parameter {name!r} is given twice; give each once.")
        pairs[name] = text
        i += 3
    return pairs


def run_command(
    ctx: typer.Context,
    notebook: Path = typer.Argument(..., help="The notebook (.ipynb) to run."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Where to write the executed notebook."),
    cluster: str | None = typer.Option(
        None, help="auto, local:N, tcp://HOST:PORT or a scheduler file: the cluster of the notebook's searches."
    ),
    background: bool = typer.Option(False, "--background", help="Start the job and return at once."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a notebook headless (papermill) as a job: cells stream here; a failing cell exits 1 and names it.

    Give parameters as -p NAME VALUE (repeat for more); values take the type of the notebook's defaults. Unknown parameters are refused before anything runs.

    `workbench jobs show ID` has the parameters, the status, the output notebook and the values the notebook recorded.
    """
    values = wb.parse_parameters(notebook, _pairs(list(ctx.args)))
    run = wb.run_notebook(notebook, values, output=output, cluster=cluster)
    if background:
        if as_json:
            print_json(run.to_dict())
        else:
            console.print(f"notebook {notebook.name} running as job {run.job_id}", highlight=False)
            typer.echo(run.job_id)
        return
    try:
        job = run.follow(out=io.StringIO() if as_json else None)  # with --json, stdout carries only the JSON
    except KeyboardInterrupt:
        console.print(f"\ncancelling job {run.job_id} ...", highlight=False)
        job = run.cancel()
    progress = run.progress()
    if as_json:
        print_json(run.to_dict())
    elif job.status == "finished":
        console.print(styled((f"job {job.id} finished", "green"), f": {progress.notebook}"), highlight=False)
    else:
        reason = f": {job.error}" if job.error else ""
        console.print(styled((f"job {job.id} {job.status}", "red"), reason), highlight=False)
        if progress.notebook:
            console.print(f"partial output: {progress.notebook}", highlight=False)
    if job.status != "finished":
        raise typer.Exit(code=1)
