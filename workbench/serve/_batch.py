"""Batch scoring: a CSV or Parquet file predicted in partitions as Dask tasks, by a registered model.

Each partition is read on a worker (`dask.dataframe` over the file), validated and converted column by
column exactly as the model server converts a request (so the answers equal the served endpoint's for the
same rows), predicted through the same verified fast path, and written to a part file. The parts are joined
into the output only when every partition succeeded: a bad value stops the job with its partition and row,
and no output file, half-written or not, is left. Memory stays bounded: no partition passes through the
driver, and a worker holds one partition at a time per thread.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError, WorkbenchError
from workbench.model import ColumnSpec, InputSchema

__all__ = ["BatchInputError", "BatchPlan", "BatchPrediction", "plan_batch", "score_file", "score_partition"]

# The request row limit of the model server does not apply to a partition: any size is taken.
MAX_PARTITION_ROWS = 50_000_000
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


class BatchInputError(InvalidInputError):
    """A row of the input that the model cannot take: its partition, row and column are in the message."""


@dataclass(frozen=True)
class BatchPrediction:
    """A scored file: where the predictions are, how many rows and partitions, and how long it took."""

    output: Path
    rows: int
    partitions: int
    seconds: float
    model: str  # the exact version scored with, e.g. penguins@3

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        data["rows_per_s"] = self.rows_per_s
        return data


def _format(path: Path, what: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(f"{what} {path.name!r} must be a .csv or .parquet file.")
    return fmt


# --- on the worker ------------------------------------------------------------------------------------

_PREPARED: dict[tuple[str, str], Any] = {}  # (home, name@version) -> the prepared model, per worker process
_PREPARING = threading.Lock()  # a worker's threads load and verify the model once between them


def _prepared(home: str, ref: str) -> Any:
    key = (home, ref)
    with _PREPARING:
        if key not in _PREPARED:
            from workbench.registry import RegistrySource
            from workbench.serve._state import prepare

            _PREPARED[key] = prepare(RegistrySource(Path(home), ref).load(), MAX_PARTITION_ROWS)
        return _PREPARED[key]


def _bad(partition: int, row: int, column: str, value: Any, expected: str) -> BatchInputError:
    shown = str(value)[:40]
    return BatchInputError(
        f"Partition {partition}, row {row}: column {column!r} holds {shown!r}, not {expected}; fix the input file."
    )


def _missing_mask(series: pd.Series) -> np.ndarray:
    """Missing values: an empty CSV field, NaN or null (what JSON sends as null)."""
    mask: np.ndarray = series.isna().to_numpy()
    return mask


def _column(spec: ColumnSpec, series: pd.Series, partition: int) -> Any:
    """One column as the server's FrameBuilder makes it from JSON (see `workbench.model.Columns`)."""
    missing = _missing_mask(series)
    if spec.required and missing.any():
        row = int(np.argmax(missing))
        raise BatchInputError(
            f"Partition {partition}, row {row}: column {spec.name!r} is required and empty; fix the input file."
        )
    if spec.kind == "numeric":
        numbers = pd.to_numeric(series.where(~missing), errors="coerce")
        bad = numbers.isna().to_numpy() & ~missing
        if bad.any():
            row = int(np.argmax(bad))
            raise _bad(partition, row, spec.name, series.iloc[row], "a number")
        values = numbers.to_numpy()
        if spec.dtype.startswith(("int", "Int")) and not missing.any() and np.all(np.mod(values, 1) == 0):
            return values.astype(np.int64)
        floats = values.astype(np.float64)
        limit = float(np.finfo(np.float32).max)
        over = np.abs(np.nan_to_num(floats)) > limit
        if over.any():
            row = int(np.argmax(over))
            raise _bad(partition, row, spec.name, series.iloc[row], "a number between -3.4e38 and 3.4e38")
        return floats
    if spec.kind == "boolean":
        if pd.api.types.is_bool_dtype(series):
            return series.to_numpy(dtype=bool)
        text = series.astype(str).str.strip().str.lower()
        truth = text.isin(_TRUE).to_numpy()
        falsity = text.isin(_FALSE).to_numpy()
        bad = ~(truth | falsity | missing)
        if bad.any():
            row = int(np.argmax(bad))
            raise _bad(partition, row, spec.name, series.iloc[row], "true or false")
        if missing.any():
            return np.array([None if m else bool(t) for m, t in zip(missing, truth, strict=True)], dtype=object)
        return truth
    if spec.kind == "datetime":
        text = series.where(~missing).astype(object)
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy() & ~missing
        if bad.any():
            row = int(np.argmax(bad))
            raise _bad(partition, row, spec.name, series.iloc[row], "an ISO 8601 date")
        return parsed.reset_index(drop=True)
    values = series.astype(object).to_numpy(copy=True)
    values[missing] = None
    return np.array([v if v is None else str(v) for v in values], dtype=object)


def score_partition(
    frame: pd.DataFrame, partition: int, home: str, ref: str, staging: str, fmt: str, keep: Sequence[str] = ()
) -> int | str:
    """Validate, predict and write one partition (on a worker); returns its number of rows, or what is wrong
    with its input (returned, not raised: a user's bad row is not a worker error to log)."""
    try:
        return _score_partition(frame, partition, home, ref, staging, fmt, keep)
    except BatchInputError as exc:
        return exc.message


def score_block(
    frame: pd.DataFrame,
    home: str,
    ref: str,
    staging: str,
    fmt: str,
    keep: Sequence[str] = (),
    partition_info: dict[str, Any] | None = None,
) -> pd.Series:
    """`score_partition` as a `map_partitions` function: its answer in a one-value Series."""
    number = int(partition_info["number"]) if partition_info else 0
    return pd.Series([score_partition(frame, number, home, ref, staging, fmt, keep)], dtype=object)


def _score_partition(
    frame: pd.DataFrame, partition: int, home: str, ref: str, staging: str, fmt: str, keep: Sequence[str]
) -> int:
    from workbench.serve._errors import RequestError
    from workbench.serve._schema import Batch

    prepared = _prepared(home, ref)
    schema: InputSchema = prepared.loaded.input_schema
    absent = [c.name for c in schema.columns if c.required and c.name not in frame.columns]
    if absent:
        raise BatchInputError(f"Partition {partition}: the input has no column {', '.join(map(repr, absent))}.")
    n = len(frame)
    columns = {}
    for spec in schema.columns:
        series = frame[spec.name].reset_index(drop=True) if spec.name in frame.columns else pd.Series([None] * n)
        columns[spec.name] = _column(spec, series, partition)
    try:
        result = prepared.predict(Batch(columns, n)) if n else None
    except RequestError as exc:
        raise BatchInputError(f"Partition {partition}: {exc.message}") from None
    out = pd.DataFrame({name: frame[name].reset_index(drop=True) for name in keep}, index=range(n))
    if result is not None and result.labels is not None and result.proba is not None:
        out["prediction"] = result.labels
        for j, name in enumerate(prepared.class_names):
            out[f"proba_{name}"] = result.proba[:, j]
    elif result is not None:
        out["prediction"] = result.values
    _write_part(out, Path(staging) / f"part-{partition:06d}.{fmt}", fmt)
    return n


def _write_part(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if fmt == "csv":
        from pyarrow import csv

        # Arrow writes CSV several times faster than pandas; floats as their shortest round-trip text.
        options = csv.WriteOptions(include_header=False, quoting_style="needed")  # type: ignore[attr-defined]
        csv.write_csv(table, path, options)  # type: ignore[attr-defined]
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)


# --- on the driver ------------------------------------------------------------------------------------


MAX_BLOCK_BYTES = 32_000_000
MIN_BLOCK_BYTES = 1_000_000


def auto_blocksize(file_bytes: int, threads: int) -> int:
    """Partitions small enough that every worker thread gets several (one per thread would leave the last,
    largest, partition running alone), large enough that per-task overhead stays small, and at most 32 MB
    so that a partition's frame stays far below a worker's memory."""
    wanted = file_bytes // max(1, 4 * threads)
    return max(MIN_BLOCK_BYTES, min(MAX_BLOCK_BYTES, wanted))


def _read(path: Path, fmt: str, blocksize: str | int) -> Any:
    import dask.dataframe as dd

    if fmt == "csv":
        # Read as text: each column is checked and converted as the server converts JSON values.
        return dd.read_csv(str(path), blocksize=blocksize, dtype=str, keep_default_na=True)
    return dd.read_parquet(str(path))


def _join(staging: Path, parts: int, target: Path, fmt: str, header: list[str]) -> None:
    """Join the part files into `target`, atomically (a temp file renamed into place)."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        if fmt == "csv":
            with open(partial, "w", encoding="utf-8", newline="") as out:
                out.write(",".join(_csv_field(h) for h in header) + "\n")
                for i in range(parts):
                    with open(staging / f"part-{i:06d}.csv", encoding="utf-8") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
        else:
            import pyarrow.parquet as pq

            writer = None
            try:
                for i in range(parts):
                    table = pq.read_table(staging / f"part-{i:06d}.parquet")
                    if writer is None:
                        writer = pq.ParquetWriter(partial, table.schema)
                    writer.write_table(table)
            finally:
                if writer is not None:
                    writer.close()
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _csv_field(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


@dataclass(frozen=True)
class BatchPlan:
    """A checked scoring job: the exact model version, the files, their formats, the output's columns."""

    home: Path
    ref: str  # name@VERSION, resolved once so that every partition is scored by the same version
    input_path: Path
    output_path: Path
    input_format: str
    output_format: str
    header: tuple[str, ...]
    required: tuple[str, ...]  # the columns the model cannot do without
    keep: tuple[str, ...] = ()


def plan_batch(
    home: Path, ref: str, input_path: Path, output_path: Path, data_roots: Sequence[Path], keep: Sequence[str] = ()
) -> BatchPlan:
    """Check everything a scoring job needs before a cluster starts: the model loads (a missing or damaged
    one is refused), the input is a CSV or Parquet file inside `data_roots`, the output's folder exists."""
    from workbench.data import resolve_within
    from workbench.registry import RegistrySource

    in_fmt, out_fmt = _format(input_path, "The input"), _format(output_path, "The output")
    real_input = resolve_within(input_path, data_roots)
    target = output_path.expanduser().absolute()
    if not target.parent.is_dir():
        raise InvalidInputError(f"The folder {target.parent} does not exist; create it first.")
    if target.resolve() == real_input:
        raise InvalidInputError("The output would overwrite the input; give another output path.")
    loaded = RegistrySource(home, ref).load()
    header = [*keep, "prediction"]
    if loaded.problem_type != "regression":
        header += [f"proba_{c}" for c in to_jsonable(list(loaded.classes or ()))]
    if len(set(header)) != len(header):
        raise InvalidInputError(
            f"Keep columns named otherwise than the output's own ({', '.join(header[len(keep) :])})."
        )
    return BatchPlan(
        home=Path(home),
        ref=f"{loaded.name}@{loaded.version}",
        input_path=real_input,
        output_path=target,
        input_format=in_fmt,
        output_format=out_fmt,
        header=tuple(header),
        required=tuple(c.name for c in loaded.input_schema.columns if c.required),
        keep=tuple(keep),
    )


def _scoring_tasks(plan: BatchPlan, staging: Path, blocksize: str | int) -> list[Any]:
    """One task per partition that reads it and scores it (map_partitions fuses with the read), so a worker
    holds one partition at a time instead of read partitions waiting for their scoring task."""
    import dask

    # Text stays Python str: converting every column to Arrow strings first costs a copy of the partition.
    with dask.config.set({"dataframe.convert-string": False}):
        frame = _read(plan.input_path, plan.input_format, blocksize)
        absent = [c for c in plan.keep if c not in frame.columns]
        if absent:
            raise InvalidInputError(f"The input has no column {', '.join(map(repr, absent))} to keep.")
        absent = [c for c in plan.required if c not in frame.columns]
        if absent:
            raise InvalidInputError(
                f"The input has no column {', '.join(map(repr, absent))}; the model needs {', '.join(plan.required)}."
            )
        scored = frame.map_partitions(
            score_block,
            str(plan.home),
            plan.ref,
            str(staging),
            plan.output_format,
            plan.keep,
            meta=pd.Series(dtype=object),
            enforce_metadata=False,
        )
        tasks: list[Any] = scored.to_delayed()
    return tasks


def score_file(
    client: Any,
    plan: BatchPlan,
    *,
    blocksize: str | int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchPrediction:
    """Score `plan` on the cluster of `client`; `progress(done, total)` is called as partitions finish.
    `blocksize`: bytes of a CSV input per partition (default: `auto_blocksize` for the cluster's threads).

    The workers read the input, the model and the staging folder beside the output from the same file
    system as this process.
    """
    from distributed import as_completed

    start = time.perf_counter()
    if blocksize is None:
        threads = sum(client.nthreads().values())
        blocksize = auto_blocksize(plan.input_path.stat().st_size, threads)
    output = plan.output_path
    staging = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.parts")
    try:
        tasks = _scoring_tasks(plan, staging, blocksize)
        staging.mkdir()
        futures = client.compute(tasks)
        rows = 0
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                if future.status == "error":
                    error = future.exception()
                    if isinstance(error, WorkbenchError):
                        raise BatchInputError(error.message) from None
                    raise BatchInputError(f"Scoring failed: {type(error).__name__}: {error}") from None
                result = future.result().iloc[0]
                if isinstance(result, str):
                    raise BatchInputError(result)
                rows += result
                if progress is not None:
                    progress(done, len(futures))
        finally:
            client.cancel(futures)
        _join(staging, len(tasks), output, plan.output_format, list(plan.header))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BatchPrediction(output, int(rows), len(tasks), time.perf_counter() - start, plan.ref)
