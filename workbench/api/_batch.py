"""Batch scoring: a CSV or Parquet file scored by a registered model, in partitions on a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.api._workspace import WorkspaceLike, resolve_workspace

if TYPE_CHECKING:
    from workbench.serve import BatchPrediction

__all__ = ["default_cluster", "predict_file"]


def default_cluster() -> str:
    """The cluster a call uses when none is named: WORKBENCH_CLUSTER (set by `workbench run --cluster`), else
    "auto" (the GPUs found, else a LocalCluster of this machine's cores)."""
    from workbench.config import Settings

    return Settings.from_env().cluster


def predict_file(
    model: str,
    input: str | Path,
    output: str | Path,
    *,
    cluster: str | None = None,
    keep: Sequence[str] = (),
    blocksize: str | int | None = None,
    progress: Callable[[int, int], None] | None = None,
    workspace: WorkspaceLike = None,
) -> BatchPrediction:
    """Score the file `input` with the registered model `model` (`name`, `name@3`, `name@production`) and
    write `output` (.csv or .parquet): a `prediction` column, and `proba_<class>` columns for classifiers,
    after the input columns named in `keep`, one row per input row in input order.

    The file is read in partitions (CSV: of about `blocksize` bytes; by default at most 32 MB and at least
    four per worker thread), each validated and predicted on a worker of
    `cluster` exactly as the model server answers a request (same conversions, same fast path), so a file
    larger than memory works. A bad value stops the job with its partition and row; the output is written
    only when every partition succeeded. `progress(done, total)` is called as partitions finish.

    >>> result = predict_file("penguins@production", "new.csv", "scored.csv", cluster="local:2")  # doctest: +SKIP
    >>> result.rows, result.rows_per_s  # doctest: +SKIP
    """
    from workbench.compute import cluster as open_cluster
    from workbench.serve import plan_batch, score_file

    ws = resolve_workspace(workspace)
    plan = plan_batch(ws.settings.home, model, Path(input), Path(output), ws.settings.data_roots, keep)
    with open_cluster(cluster or default_cluster()) as client:
        return score_file(client, plan, blocksize=blocksize, progress=progress)
