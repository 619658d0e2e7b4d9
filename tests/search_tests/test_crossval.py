"""Cross-validated selection: every candidate is scored out of fold on the same train and valid rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from workbench.config import Settings
from workbench.data import SplitSpec
from workbench.model import loads_model, score_predictions
from workbench.search._protocol import WorkerResources
from workbench.search.families import LocalReporter, fit_candidate
from workbench.store import Budget, ExperimentSpec, TrialData, Workspace, trial_data

REPO = Path(__file__).resolve().parents[2]
CPU = WorkerResources(cpus=1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = tmp_path_factory.mktemp("crossval")
    with Workspace(Settings(home=home / "home", data_roots=(home,), datasets_dir=REPO / "datasets")) as ws:
        yield ws


def _rows(workspace: Workspace, dataset: str, **split: int) -> TrialData:
    return trial_data(workspace, workspace.create_experiment(ExperimentSpec(dataset, split=SplitSpec(**split))))


def test_an_experiment_chooses_its_folds_and_states_them(workspace: Workspace) -> None:
    experiment = workspace.create_experiment(ExperimentSpec("penguins"))
    sizes = experiment.split_sizes
    assert experiment.cv_folds == 4 and experiment.split.cv_folds == 4
    assert experiment.to_dict()["cv_folds"] == 4
    assert f"4-fold cross-validated over the {sizes['train'] + sizes['valid']} train and valid rows" in (
        experiment.selection_note()
    )
    data = trial_data(workspace, experiment)
    assert data.cv_folds == 4
    # the stored targets are the selection rows: train then valid
    targets = workspace.targets(experiment)
    np.testing.assert_array_equal(targets.y_valid, np.concatenate([data.y_train, data.y_valid]))
    single = workspace.create_experiment(ExperimentSpec("penguins", split=SplitSpec(cv_folds=1)))
    assert single.cv_folds == 1 and single.selection_note() == f"Valid scores: the {sizes['valid']} valid rows."
    # a time limit too short for the table's cells keeps the valid rows only
    short = workspace.create_experiment(ExperimentSpec("flights", budget=Budget(time_limit_s=1.0)))
    assert short.cv_folds == 1


def test_folds_partition_the_selection_rows(workspace: Workspace) -> None:
    data = _rows(workspace, "penguins", cv_folds=4)
    n = len(data.y_train) + len(data.y_valid)
    held = np.zeros(n, dtype=int)
    folds = data.selection_folds()
    for number in range(4):
        rows = data.fold(number)
        assert len(rows.y_train) + len(rows.y_valid) == n
        assert len(rows.y_test) == len(data.y_test)
        held[folds == number] += 1
        if number:
            np.testing.assert_array_equal(rows.y_valid, data.y_selection[folds == number])
    assert (held == 1).all()
    fold0 = data.fold(0)
    assert fold0.cv_folds == 1 and fold0.X_train.equals(data.X_train)
    with pytest.raises(ValueError, match="not one of"):
        data.fold(4)


@pytest.mark.parametrize(
    ("dataset", "family"), [("penguins", "lightgbm"), ("grunfeld", "lightgbm"), ("breast_cancer", "forest")]
)
def test_candidates_are_scored_out_of_fold_on_the_train_and_valid_rows(
    workspace: Workspace, dataset: str, family: str
) -> None:
    data = _rows(workspace, dataset, cv_folds=4)
    reporter = LocalReporter()
    candidate, blob = fit_candidate(family, {}, data, CPU, reporter, seed=0)
    n = len(data.y_train) + len(data.y_valid)
    assert len(candidate.valid_pred) == n
    assert candidate.valid_score == pytest.approx(
        score_predictions(data.metric, data.problem_type, data.y_selection, candidate.valid_pred, data.classes)
    )
    model = loads_model(blob)
    # the kept model is fold 0's: trained on the train rows, so its valid predictions are the stored ones
    np.testing.assert_allclose(model.prediction(data.X_valid), candidate.valid_pred[len(data.y_train) :])
    np.testing.assert_allclose(model.prediction(data.X_test), candidate.test_pred)
    # the train rows' predictions come from the folds that held them out, not from the kept model
    in_sample = model.prediction(data.X_train)
    out_of_fold = candidate.valid_pred[: len(data.y_train)]
    assert not np.allclose(in_sample, out_of_fold)
    greater = data.problem_type != "regression" and data.metric != "log_loss"
    fit_score = score_predictions(data.metric, data.problem_type, data.y_train, in_sample, data.classes)
    held_score = score_predictions(data.metric, data.problem_type, data.y_train, out_of_fold, data.classes)
    assert (held_score <= fit_score) if greater or data.metric == "r2" else (held_score >= fit_score)
    # reports come from fold 0 only: one increasing run of steps
    steps = [step for step, _ in reporter.values]
    assert steps == sorted(set(steps))


def test_the_same_candidate_scores_the_same_on_the_valid_rows_only(workspace: Workspace) -> None:
    """With cv_folds=1 a candidate is exactly fold 0 of the cross-validated one."""
    cross = _rows(workspace, "penguins", cv_folds=4, seed=5)
    single = _rows(workspace, "penguins", cv_folds=1, seed=5)
    a, _ = fit_candidate("lightgbm", {}, cross, CPU, LocalReporter(), seed=3)
    b, _ = fit_candidate("lightgbm", {}, single, CPU, LocalReporter(), seed=3)
    np.testing.assert_allclose(a.valid_pred[len(cross.y_train) :], b.valid_pred)
    np.testing.assert_allclose(a.test_pred, b.test_pred)
    assert len(b.valid_pred) == len(single.y_valid)
