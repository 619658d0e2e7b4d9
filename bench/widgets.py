"""The widgets' two speed goals, measured on real objects (nothing here asserts; it prints ratios):

- Ensemble editor: from ticking a member in to the updated valid score, 20 candidates, 2,000 valid rows
  (goal <= 100 ms).
- Monitor: from a trial finishing in the search driver (its event's time) to the monitor widget showing
  it (goal <= 1 s), over a real background search.

    .venv/bin/python bench/widgets.py
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def _home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="wb-bench-widgets-"))
    os.environ.update(
        WORKBENCH_HOME=str(home / "home"),
        WORKBENCH_DATA_ROOTS=str(home),
        WORKBENCH_DATASETS_DIR=str(REPO / "datasets"),
        WORKBENCH_GPUS="none",
        WORKBENCH_HEADLESS="1",
    )
    return home


def editor(candidates: int = 20, valid_rows: int = 2000, toggles: int = 40) -> list[float]:
    """Milliseconds from a toggle to the editor's updated valid score."""
    import workbench.api as wb
    import workbench.widgets as wbw
    from workbench.store import trials as records

    rng = np.random.default_rng(0)
    n = valid_rows * 5  # valid is 20% of the rows
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.choice(["a", "b", "c"], size=n)})
    wb.add_dataset_from_frame("editor-bench", frame, target="y")
    experiment = wb.create_experiment("editor-bench", split=wb.SplitSpec(cv_folds=1))  # 2,000 valid rows
    ws = wb.open_workspace()
    targets = ws.targets(experiment)
    assert len(targets.y_valid) == valid_rows, len(targets.y_valid)
    for number in range(candidates):
        buffer = io.BytesIO()
        valid = rng.dirichlet([1, 1, 1], len(targets.y_valid))
        np.savez(buffer, valid=valid, test=rng.dirichlet([1, 1, 1], len(targets.y_test)))
        key = ws.store.put_artifact(f"experiments/{experiment.id}/p{number}.npz", buffer.getvalue()).key
        trial = records.create_trial(ws.store, experiment.id, "bench", number, {})
        score = float((valid.argmax(axis=1) == 0).mean())
        row = {
            "engine": "bench", "name": f"m{number}", "model_type": "m", "valid_score": score, "test_score": score,
            "fit_time_s": 1.0, "predict_row_ms": 1.0, "predict_batch_ms": 1.0, "size_bytes": 1,
            "params": {}, "artifact_key": None, "predictions_key": key,
        }  # fmt: skip
        records.finish_trial(ws.store, trial.id, "COMPLETE", [score], candidates=[row])
    edit = wbw.EnsembleEditor(experiment.id, measure=False)
    edit.wait_idle()
    ticks = [tick for tick, _ in edit.rows.values()]
    for tick in ticks:  # all 20 in: the largest ensemble the editor scores
        tick.value = True
    times = []
    for i in range(toggles):
        tick = ticks[i % len(ticks)]
        before = edit.valid_score
        start = time.perf_counter()
        tick.value = not tick.value
        times.append((time.perf_counter() - start) * 1e3)
        assert edit.valid_score is not None and (edit.valid_score != before or len(edit.weights) == len(ticks))
        if not tick.value:
            tick.value = True
    return times


def monitor(trials: int = 12) -> list[float]:
    """Seconds from each trial's finish in the driver to the monitor showing it."""
    import workbench.api as wb
    import workbench.widgets as wbw

    experiment = wb.create_experiment("penguins", budget=wb.Budget(n_trials=trials))
    seen: dict[int, float] = {}
    view = wbw.Monitor(poll_s=0.5)

    def shown(change: dict) -> None:
        for done in range(change["old"] + 1, change["new"] + 1):
            seen.setdefault(done, time.time())

    view.observe(shown, names="done")
    wb.start_search(experiment.id, wb.search_config(engines=("optuna",), families=("linear",), cluster="local:2"))
    view.attach(experiment.id)
    view.wait(timeout=600)
    finished = [e for e in wb.search_events(experiment.id) if e.kind == "trial_finished"]
    return [seen[i + 1] - event.time for i, event in enumerate(finished) if i + 1 in seen]


def main() -> None:
    _home()
    times = editor()
    median, worst = statistics.median(times), max(times)
    print(f"ensemble editor, 20 members x 2,000 valid rows: toggle -> valid score median {median:.1f} ms, "
          f"max {worst:.1f} ms; ratio to the 100 ms goal {median / 100:.3f} (max {worst / 100:.3f})")  # fmt: skip
    lags = monitor()
    median, worst = statistics.median(lags), max(lags)
    print(f"monitor, {len(lags)} trials: driver finish -> widget median {median:.2f} s, max {worst:.2f} s; "
          f"ratio to the 1 s goal {median:.2f} (max {worst:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
