"""`workbench predict MODEL INPUT --output OUT`: score a file on the cluster, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import workbench.api as wb
from workbench.cli._util import JSON_OPTION, console, print_json, split_list

__all__ = ["predict_command"]


def predict_command(
    model: str = typer.Argument(..., help="Registered model: NAME, NAME@VERSION or NAME@ALIAS."),
    input: Path = typer.Argument(..., help="CSV or Parquet file to score."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the predictions (.csv or .parquet)."),
    cluster: str | None = typer.Option(
        None, help="auto, local:N, tcp://HOST:PORT or a scheduler file [WORKBENCH_CLUSTER, else auto]."
    ),
    keep: str | None = typer.Option(None, help="Input columns to copy in front of the predictions, comma-separated."),
    blocksize: str = typer.Option(
        "auto", help="Bytes of a CSV input per partition (one task each), e.g. 16MB; auto: at most 32MB, 4 per thread."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Score a file in partitions on a Dask cluster; the output appears only when every partition succeeded."""
    progress = Progress(
        TextColumn("partitions", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
        disable=as_json,
    )
    task = progress.add_task("score", total=None)

    def advance(done: int, total: int) -> None:
        if not progress.live.is_started:  # shown from the first partition: a refused input prints no bar
            progress.start()
        progress.update(task, completed=done, total=total)

    try:
        result = wb.predict_file(
            model,
            input,
            output,
            cluster=cluster,
            keep=split_list(keep) or (),
            blocksize=None if blocksize == "auto" else blocksize,
            progress=advance,
        )
    finally:
        if progress.live.is_started:
            progress.stop()
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"{result.rows:,} rows scored by {result.model} in {result.partitions} "
        f"partition{'' if result.partitions == 1 else 's'}, "
        f"{result.seconds:.1f} s ({result.rows_per_s:,.0f} rows/s) -> {result.output}",
        highlight=False,
    )
