"""The dataset catalog's other doors (a DataFrame, uploaded bytes), deletion, the profile cache, deleting
experiments, and the progress summary."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataFormatError, FileTooLargeError, InvalidInputError, NotFoundError, UnsafePathError
from workbench.store import ExperimentSpec, FinalRow, Workspace, final_note, how_made, search_progress
from workbench.store import _workspace as workspace_module
from workbench.store import experiments as experiment_rows
from workbench.store import jobs as job_rows
from workbench.store import trials as records


def _table(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {"x": rng.normal(size=n), "k": rng.choice(["a", "b"], size=n), "y": rng.choice(["no", "yes"], size=n)}
    )


def test_a_dataframe_is_kept_under_the_workspace(workspace: Workspace) -> None:
    entry = workspace.add_dataset_frame("frame", _table(), target="y")
    assert (entry.kind, entry.rows, entry.columns, entry.problem_type) == ("workspace", 80, 3, "binary")
    path = Path(entry.location)
    assert path.is_relative_to(workspace.settings.home / "datasets") and path.suffix == ".parquet"
    pd.testing.assert_frame_equal(workspace.load("frame"), _table())
    assert workspace.dataset("frame").problem_type == "binary"
    with pytest.raises(DataFormatError, match="Parquet"):
        workspace.add_dataset_frame("mixed", pd.DataFrame({"a": [1, "x", 2.5]}))
    assert not (workspace.settings.home / "datasets" / "mixed").exists()  # nothing half-written is left


def test_uploaded_bytes_are_kept_and_bad_uploads_leave_nothing(workspace: Workspace) -> None:
    data = _table().to_csv(index=False).encode()
    entry = workspace.add_dataset_bytes("upload", "sales.csv", data, target="y")
    assert entry.kind == "workspace" and Path(entry.location).name == "sales.csv" and entry.rows == 80
    for name, filename, payload, error, message in (
        ("u2", "../evil.csv", data, InvalidInputError, "not a file name"),
        ("u2", "notes.txt", data, DataFormatError, "unknown file type"),
        ("u2", "broken.parquet", b"not parquet", DataFormatError, "could not be read"),
        ("u2", "s.csv", data, InvalidInputError, "target"),
        ("upload", "again.csv", data, InvalidInputError, "already registered"),
        ("penguins", "p.csv", data, InvalidInputError, "bundled"),
    ):
        target = "nope" if message == "target" else None
        with pytest.raises(error, match=message):
            workspace.add_dataset_bytes(name, filename, payload, target=target)
    assert sorted(p.name for p in (workspace.settings.home / "datasets").iterdir()) == ["upload"]
    assert [d.name for d in workspace.datasets() if d.kind != "bundled"] == ["upload"]


def test_an_upload_over_the_size_cap_is_refused_before_it_is_written(settings: object, tmp_path: Path) -> None:
    from dataclasses import replace

    small = Workspace(replace(settings, max_file_bytes=100))  # type: ignore[type-var]
    with pytest.raises(FileTooLargeError, match="cap"):
        small.add_dataset_bytes("big", "big.csv", b"x" * 101)
    assert not (small.settings.home / "datasets").exists()
    small.close()


def test_delete_a_dataset(workspace: Workspace, data_dir: Path) -> None:
    workspace.add_dataset_frame("kept", _table(), target="y")
    _table().to_csv(data_dir / "t.csv", index=False)
    workspace.add_dataset("file", str(data_dir / "t.csv"), target="y")
    experiment = workspace.create_experiment(ExperimentSpec("kept"))
    with pytest.raises(InvalidInputError, match=f"Experiments {experiment.id} use dataset"):
        workspace.delete_dataset("kept")
    with pytest.raises(InvalidInputError, match="bundled"):
        workspace.delete_dataset("penguins")
    workspace.delete_experiment(experiment.id)
    workspace.delete_dataset("kept")
    workspace.delete_dataset("file")
    assert not (workspace.settings.home / "datasets" / "kept").exists()
    assert (data_dir / "t.csv").is_file()  # a user's own file is never removed
    with pytest.raises(NotFoundError):
        workspace.dataset("kept")


def test_a_profile_is_not_read_again_while_its_file_is_unchanged(
    workspace: Workspace, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = data_dir / "t.csv"
    _table().to_csv(path, index=False)
    workspace.add_dataset("t", str(path), target="y")
    reads: list[str] = []
    real = workspace_module.load_entry

    def counting(entry: object, settings: object) -> pd.DataFrame:
        reads.append(entry.name)  # type: ignore[attr-defined]
        return real(entry, settings)  # type: ignore[arg-type]

    monkeypatch.setattr(workspace_module, "load_entry", counting)
    first = workspace.profile("t")
    assert workspace.profile("t") == first and reads == ["t"]
    assert Workspace(workspace.settings).profile("t") == first and reads == ["t"]  # kept in the store
    workspace.profile("t", target="k")  # other options: computed once for them
    assert reads == ["t", "t"]
    changed = _table(90)
    changed.to_csv(path, index=False)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = workspace.profile("t")
    assert again.rows == 90 and again.content_hash != first.content_hash and reads == ["t", "t", "t"]


def test_a_kept_profile_lists_values_and_classes_most_frequent_first(workspace: Workspace, data_dir: Path) -> None:
    path = data_dir / "counts.csv"
    pd.DataFrame({"k": ["z"] * 5 + ["a"] * 2 + ["m"] * 3, "y": ["yes"] * 7 + ["no"] * 3}).to_csv(path, index=False)
    workspace.add_dataset("counts", str(path), target="y")
    fresh = workspace.profile("counts")
    kept = Workspace(workspace.settings).profile("counts")  # read back from the store's JSON
    for profile in (fresh, kept):
        column = next(c for c in profile.column_profiles if c.name == "k")
        assert list(column.top_values.items()) == [("z", 5), ("m", 3), ("a", 2)]
        assert list(profile.target_distribution["classes"]) == ["yes", "no"]


def test_delete_an_experiment_with_its_rows_and_artifacts(workspace: Workspace) -> None:
    keep = workspace.create_experiment(ExperimentSpec("penguins"))
    gone = workspace.create_experiment(ExperimentSpec("penguins", name="gone"))  # the same split as `keep`
    store = workspace.store
    trial = records.create_trial(store, gone.id, "fn", 0, {})
    store.put_artifact(f"experiments/{gone.id}/model.pkl", b"bytes")
    records.finish_trial(
        store,
        trial.id,
        "COMPLETE",
        [0.5],
        candidates=[
            {
                "engine": "fn",
                "name": "m",
                "model_type": "m",
                "valid_score": 0.5,
                "test_score": 0.5,
                "fit_time_s": 1.0,
                "predict_row_ms": 1.0,
                "predict_batch_ms": 1.0,
                "size_bytes": 5,
                "params": {},
                "artifact_key": f"experiments/{gone.id}/model.pkl",
            }
        ],
    )
    job = job_rows.create_job(store, "search", {}, experiment_id=gone.id)
    with pytest.raises(InvalidInputError, match="has a search running"):
        workspace.delete_experiment(gone.id)
    job_rows.finish_job(store, job.id, "finished")
    workspace.delete_experiment(gone.id)
    assert [e.id for e in workspace.experiments()] == [keep.id]
    assert records.list_trials(store, gone.id) == [] and records.list_candidates(store, gone.id) == []
    assert job_rows.get_job(store, job.id) is None
    assert store.list_artifacts(f"experiments/{gone.id}/") == []
    assert not (store.artifact_root / "experiments" / str(gone.id)).exists()
    assert workspace.split(keep).hash == keep.split_hash  # a split another experiment uses stays
    assert workspace.targets(keep).classes == ("Adelie", "Chinstrap", "Gentoo")
    workspace.delete_experiment(keep.id)
    assert store.list_artifacts("splits/") == []


def test_progress_is_one_summary_of_the_store(workspace: Workspace) -> None:
    experiment = workspace.create_experiment(ExperimentSpec("penguins"))
    store = workspace.store
    job = job_rows.create_job(
        store, "search", {"budget": {"n_trials": 5, "time_limit_s": 60.0}}, experiment_id=experiment.id
    )
    job_rows.mark_running(store, job.id, os.getpid(), "here", None)
    for number, state in enumerate(["COMPLETE", "COMPLETE", "PRUNED", "FAILED", "RUNNING", "QUEUED"]):
        trial = records.create_trial(store, experiment.id, "fn", number, {})
        if state == "RUNNING":
            records.start_trial(store, trial.id, "w")
        elif state != "QUEUED":
            rows = []
            if state == "COMPLETE":
                score = 0.7 + number / 10
                rows = [
                    {
                        "engine": "fn", "name": f"m{number}", "model_type": "m", "valid_score": score, "test_score": score,
                        "fit_time_s": 1.0, "predict_row_ms": 1.0, "predict_batch_ms": 1.0, "size_bytes": 1,
                        "params": {}, "artifact_key": None,
                    }
                ]  # fmt: skip
            records.finish_trial(store, trial.id, state, [0.5], candidates=rows)
    progress = search_progress(store, experiment.id, greater_is_better=True)
    assert progress is not None
    assert (progress.done, progress.target, progress.trials_left) == (3, 5, 2)
    assert (progress.complete, progress.pruned, progress.failed, progress.running, progress.queued) == (2, 1, 1, 1, 1)
    assert (progress.best_name, progress.best_score) == ("m1", pytest.approx(0.8))
    assert progress.job_status == "running" and progress.time_limit_s == 60.0
    assert progress.elapsed_s is not None and 0 <= progress.elapsed_s < 60 and progress.time_left_s is not None
    assert search_progress(store, experiment.id, greater_is_better=False).best_name == "m0"  # type: ignore[union-attr]
    job_rows.request_stop(store, job.id, "finish")
    job_rows.request_stop(store, job.id, "cancel")
    job_rows.request_stop(store, job.id, "finish")  # "cancel" is never downgraded
    assert search_progress(store, experiment.id, True).stop_requested == "cancel"  # type: ignore[union-attr]
    assert progress.shown_status == progress.status  # the trials run: the experiment's own status
    experiment_rows.set_status(store, experiment.id, "stopped")  # the trials ended, the job goes on (finalize)
    wrapping = search_progress(store, experiment.id, True)
    assert wrapping is not None and wrapping.to_dict()["shown_status"] == "stopped, wrapping up"
    job_rows.finish_job(store, job.id, "cancelled")
    ended = search_progress(store, experiment.id, True)
    assert ended is not None and ended.job_status == "cancelled" and ended.time_left_s == 0.0
    assert ended.shown_status == "stopped"
    assert ended.to_dict()["trials_left"] == 2
    assert search_progress(store, 999, True) is None
    with pytest.raises(UnsafePathError):
        workspace.add_dataset_frame("../x", _table())


def test_the_best_candidates_are_ranked_by_the_store(workspace: Workspace) -> None:
    experiment = workspace.create_experiment(ExperimentSpec("penguins"))
    store = workspace.store
    scores = {"a": 0.6, "nan": float("nan"), "inf": float("inf"), "b": 0.9, "tie": 0.6, "bare": 0.99, "c": 0.1}
    for number, (name, score) in enumerate(scores.items()):
        trial = records.create_trial(store, experiment.id, "fn", number, {})
        key = None if name == "bare" else f"experiments/{experiment.id}/{name}.pkl"
        if key:
            store.put_artifact(key, b"model")
        row = {
            "engine": "fn", "name": name, "model_type": "m", "valid_score": score, "test_score": score,
            "fit_time_s": 1.0, "predict_row_ms": 1.0, "predict_batch_ms": 1.0, "size_bytes": 5, "params": {},
            "artifact_key": key,
        }  # fmt: skip
        records.finish_trial(store, trial.id, "FAILED" if name == "c" else "COMPLETE", [score], candidates=[row])
    # Not finite or without an artifact: never ranked. Equal scores: the older first.
    assert [c.name for c in records.best_candidates(store, experiment.id, 3, True)] == ["b", "a", "tie"]
    assert [c.name for c in records.best_candidates(store, experiment.id, 9, False)] == ["c", "a", "tie", "b"]
    assert records.count_trials(store, experiment.id, "fn", records.ENDED_STATES) == 7
    assert records.count_trials(store, experiment.id, "fn", ("FAILED",)) == 1
    assert records.count_trials(store, experiment.id, "autogluon", records.ENDED_STATES) == 0


def test_a_final_note_says_how_the_final_was_made() -> None:
    assert final_note({}) == "" and final_note({"seeds": 1, "bag_folds": 1}) == ""  # one refit on its rows
    assert final_note({"seeds": 5}) == ", 5 seeds averaged"
    assert final_note({"rows": 344, "bag_folds": 4}) == ", bagged over 4 folds"
    final = FinalRow(1, "all", 1, 344, "key", "LightGBM_BAG_L1_FULL", 2.0, 0.0, seeds=1, bag_folds=4)
    assert final_note(final.to_dict()) == ", bagged over 4 folds"
    # a model's finals, one per candidate: the most of each, only when more than one
    two = [final, FinalRow(2, "all", 1, 344, "key", None, 1.0, 0.0, seeds=5)]
    assert how_made(two) == {"seeds": 5, "bag_folds": 4} and how_made([two[1]]) == {"seeds": 5}
    assert how_made([]) == {} and final_note(how_made(two)) == ", 5 seeds averaged, bagged over 4 folds"
