"""Cross-engine ensembles built from a real (small) search's candidates, saved, loaded and constrained."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

from workbench.compare import (
    EnsembleConstraints,
    build_ensemble,
    delete_ensemble,
    ensemble_step,
    load_comparison,
    load_ensemble_model,
    ranking_key,
    save_ensemble,
)
from workbench.compare._search_step import POOL_SIZE
from workbench.config import Settings
from workbench.errors import InvalidInputError
from workbench.model import score_predictions
from workbench.search import OptunaEngine, SearchDriver, SearchOptions
from workbench.store import EnsembleRow, Experiment, ExperimentSpec, Workspace, trial_data
from workbench.store import ensembles as ensemble_rows
from workbench.store import trials as records

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, dict[str, Experiment]]]:
    home = tmp_path_factory.mktemp("home")
    ws = Workspace(Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets"))
    experiments = {}
    # Workers as processes, as the search's own `local:2` makes them: two LightGBM trials in threads of one
    # process crashed it once (a segmentation fault in LightGBM's OpenMP threads, fit beside predict).
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        for dataset in ("breast_cancer", "penguins", "grunfeld"):
            experiment = ws.create_experiment(ExperimentSpec(dataset))
            engine = OptunaEngine(
                f"sqlite:///{home / 'optuna.db'}",
                f"experiment-{experiment.id}",
                experiment.metric,
                experiment.problem_type,
                families=("linear", "lightgbm", "forest"),
            )
            SearchDriver(ws, experiment, [engine], client, SearchOptions(n_trials=6)).run()
            engine.close()
            experiments[dataset] = experiment
    yield ws, experiments
    ws.close()


@pytest.mark.parametrize("dataset", ["breast_cancer", "penguins", "grunfeld"])
def test_ensemble_is_kept_only_if_better_out_of_fold_and_round_trips(
    searched: tuple[Workspace, dict[str, Experiment]], dataset: str
) -> None:
    ws, experiments = searched
    experiment = experiments[dataset]
    data = load_comparison(ws, experiment)
    built = build_ensemble(ws, experiment, methods=("greedy",), comparison=data)
    sign = 1 if data.greater_is_better else -1
    selection = built.selection
    assert selection is not None and selection.method == "greedy" and selection.folds == 5
    assert selection.oof_score is not None and selection.member_oof_score is not None
    if selection.kept:
        assert sign * selection.oof_score > sign * selection.member_oof_score
    else:  # the best single candidate, as a one-member ensemble
        assert len(built.member_ids) == 1 and built.weights == [1.0]
        member = next(m for m in data.candidates() if m.id == built.member_ids[0])
        assert built.valid_score == pytest.approx(member.valid_score)
    assert built.to_dict()["selection"]["reason"] == selection.reason
    assert built.predict_row_ms > 0 and built.size_bytes > 0
    assert abs(sum(built.weights) - 1) < 1e-9
    saved = save_ensemble(ws, experiment, built)
    loaded = load_ensemble_model(ws, saved.id or 0)
    rows = trial_data(ws, experiment)
    np.testing.assert_array_equal(loaded.prediction(rows.X_test), built.model.prediction(rows.X_test))
    # The stored predictions were made on a worker; float32 model internals differ in the last digits.
    np.testing.assert_allclose(loaded.prediction(rows.X_test), built.test_pred, rtol=1e-4, atol=1e-6)
    # Cross-validated selection: the stored valid predictions are out of fold over the train rows then the
    # valid rows; on the valid rows (fold 0) they are the kept models' own.
    assert len(built.valid_pred) == len(rows.y_selection)
    valid_part = built.valid_pred[len(built.valid_pred) - len(rows.y_valid) :]
    np.testing.assert_allclose(built.model.prediction(rows.X_valid), valid_part, rtol=1e-4, atol=1e-6)
    again = load_comparison(ws, experiment)
    assert any(m.kind == "ensemble" and m.id == saved.id for m in again.models)


def test_stacking_ensemble_round_trips(searched: tuple[Workspace, dict[str, Experiment]]) -> None:
    ws, experiments = searched
    experiment = experiments["penguins"]
    built = build_ensemble(ws, experiment, methods=("stacking",))
    assert built.method == "stacking" and built.meta is not None
    saved = save_ensemble(ws, experiment, built)
    loaded = load_ensemble_model(ws, saved.id or 0)
    rows = trial_data(ws, experiment)
    # Kept or not was decided out of fold; its valid score is the meta-model's, fitted on every selection
    # row, scored on them (as greedy weights are): its valid predictions are the saved model's own.
    assert built.selection is not None and built.selection.oof_score is not None
    data = load_comparison(ws, experiment)
    members = [next(m for m in data.models if m.id == i) for i in built.member_ids]
    fitted = loaded.combine([m.valid for m in members])
    np.testing.assert_allclose(built.valid_pred, fitted, rtol=1e-6, atol=1e-9)
    assert built.valid_score == pytest.approx(
        score_predictions(data.metric, data.problem_type, data.y_valid, fitted, data.classes)
    )
    np.testing.assert_array_equal(loaded.prediction(rows.X_test), built.model.prediction(rows.X_test))
    np.testing.assert_allclose(loaded.prediction(rows.X_test), built.test_pred, rtol=1e-4, atol=1e-6)


def test_constraints_are_respected(searched: tuple[Workspace, dict[str, Experiment]]) -> None:
    ws, experiments = searched
    experiment = experiments["breast_cancer"]
    data = load_comparison(ws, experiment)
    capped = build_ensemble(ws, experiment, EnsembleConstraints(max_members=2), comparison=data)
    assert len(capped.member_ids) <= 2
    fastest = min(m.predict_row_ms or np.inf for m in data.candidates())
    limit = max(fastest * 3, 0.5)
    quick = build_ensemble(ws, experiment, EnsembleConstraints(max_latency_ms=limit), comparison=data)
    assert quick.predict_row_ms <= limit
    smallest = min(m.size_bytes or 0 for m in data.candidates())
    small = build_ensemble(ws, experiment, EnsembleConstraints(max_size_bytes=smallest * 2), comparison=data)
    assert small.size_bytes <= smallest * 2 + 10_000  # members' artifacts plus a small meta-model
    with pytest.raises(InvalidInputError, match="No candidate meets"):
        build_ensemble(ws, experiment, EnsembleConstraints(max_latency_ms=1e-6), comparison=data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", EnsembleConstraints()),
        ("max_latency_ms=2", EnsembleConstraints(max_latency_ms=2)),
        ("max_members=3, max_size_mb=1.5", EnsembleConstraints(max_members=3, max_size_bytes=1_500_000)),
    ],
)
def test_constraints_parse(text: str, expected: EnsembleConstraints) -> None:
    assert EnsembleConstraints.parse(text) == expected


@pytest.mark.parametrize("text", ["max_latency_ms", "speed=3", "max_members=abc", "max_latency_ms=0"])
def test_bad_constraints(text: str) -> None:
    with pytest.raises(InvalidInputError):
        EnsembleConstraints.parse(text)


@pytest.mark.parametrize("dataset", ["breast_cancer", "penguins", "grunfeld"])
def test_the_search_step_saves_an_ensemble_only_when_it_helps_and_its_refit_fits(
    searched: tuple[Workspace, dict[str, Experiment]], dataset: str
) -> None:
    ws, experiments = searched
    experiment = experiments[dataset]
    asked: list[list[int]] = []

    def too_slow(member_ids: Sequence[int], after_s: float) -> bool:
        asked.append(list(member_ids))
        return False

    before = {e.id for e in ensemble_rows.list_ensembles(ws.store, experiment.id)}  # other tests' ensembles

    refused = ensemble_step(ws, experiment, too_slow)
    assert refused["kept"] is False and _added(ws, experiment, before) == []
    report = ensemble_step(ws, experiment, lambda member_ids, after_s: True)
    saved = _added(ws, experiment, before)
    try:
        if not report["kept"]:  # no better than its best member out of fold: nothing saved, and the refit not asked
            assert saved == [] and asked == [] and "Not kept" in report["reason"]
            data = load_comparison(ws, experiment)
            scored = [m for m in data.candidates() if m.valid_score is not None]
            first = min(scored, key=lambda m: ranking_key(m.valid_score, m.kind, m.id, data.greater_is_better))
            assert report["reason"].endswith(f"the best candidate, {first.name}, stays the winner.")
            return
        assert asked and "would not fit the time left" in refused["reason"]
        # what the out-of-fold check found, then why nothing was saved: no "Kept" for an ensemble not kept
        assert refused["reason"].startswith("Not saved: ") and "Kept" not in refused["reason"], refused["reason"]
        assert [e.id for e in saved] == [int(report["key"][1:])] and saved[0].name == report["name"]
        greater = load_comparison(ws, experiment).greater_is_better
        gain = report["oof_score"] - report["member_oof_score"]
        assert (gain if greater else -gain) > 0 and len(report["member_ids"]) >= 2
        members = {c.id: c for c in records.list_candidates(ws.store, experiment.id)}
        # saved only as the leaderboard's first row: the winner that registering takes
        scores = [c.valid_score for c in members.values() if c.valid_score is not None]
        assert saved[0].valid_score is not None
        assert saved[0].valid_score > max(scores) if greater else saved[0].valid_score < min(scores)
        # not timed in the step: the members' measured latencies added up, an upper bound
        expected = sum(members[i].predict_row_ms or 0.0 for i in report["member_ids"])
        assert saved[0].predict_row_ms == pytest.approx(expected)
        model = load_ensemble_model(ws, saved[0].id)
        rows = ws.rows(experiment)
        assert len(model.prediction(rows.X_test)) == len(rows.X_test)
    finally:
        for row in saved:
            delete_ensemble(ws, experiment, row.id)


def test_the_search_step_builds_again_without_a_candidate_whose_refit_does_not_fit(
    searched: tuple[Workspace, dict[str, Experiment]],
) -> None:
    ws, _ = searched
    rebuilt = 0
    for experiment, before, members in _kept_when_every_refit_fits(searched):
        slow = min(members, key=lambda m: m["weight"])["candidate_id"]  # the member that matters least
        asked: list[list[int]] = []

        def fits(member_ids: Sequence[int], after_s: float, slow: int = slow, asked: list[list[int]] = asked) -> bool:
            asked.append(list(member_ids))
            return slow not in member_ids

        report = ensemble_step(ws, experiment, fits)
        again = _added(ws, experiment, before)
        try:
            assert "would not fit the time left" in report["reason"]
            assert "Built again of the" in report["reason"] and "whose refits fit the time left" in report["reason"]
            assert [slow] in asked or any(slow in ids for ids in asked[1:])  # asked about, then passed over
            if report["kept"]:
                rebuilt += 1
                assert [e.id for e in again] == [int(report["key"][1:])]
                assert slow not in report["member_ids"] and len(report["member_ids"]) >= 2
                assert asked[-1] == report["member_ids"]  # its refit was asked for and fits
                greater = load_comparison(ws, experiment).greater_is_better
                gain = report["oof_score"] - report["member_oof_score"]
                assert (gain if greater else -gain) > 0
            else:
                assert again == []
        finally:
            for row in again:
                delete_ensemble(ws, experiment, row.id)
    assert rebuilt >= 1  # without its least-weighted member, some ensemble is still worth saving


def test_the_search_step_builds_again_of_the_best_candidates_whose_refits_fit_together(
    searched: tuple[Workspace, dict[str, Experiment]],
) -> None:
    ws, _ = searched
    rebuilt = 0
    for experiment, before, members in _kept_when_every_refit_fits(searched):
        together = {m["candidate_id"] for m in members}
        asked: list[list[int]] = []
        after: list[float] = []

        def apart(
            member_ids: Sequence[int],
            after_s: float,
            asked: list[list[int]] = asked,
            after: list[float] = after,
            together: set[int] = together,
        ) -> bool:
            asked.append(list(member_ids))
            after.append(after_s)
            return not together <= set(member_ids)  # each alone fits; all of them together do not

        report = ensemble_step(ws, experiment, apart)
        again = _added(ws, experiment, before)
        try:
            data = load_comparison(ws, experiment)
            scored = [m for m in data.candidates() if m.valid_score is not None]
            greater = data.greater_is_better
            board = [m.id for m in sorted(scored, key=lambda m: ranking_key(m.valid_score, m.kind, m.id, greater))]
            pool = board[:POOL_SIZE]
            # asked: the first ensemble's members, then the pool's candidates one by one in rank order, each with
            # those taken before it; the member that would complete the first ensemble is passed over
            assert [ids[-1] for ids in asked[1 : 1 + len(pool)]] == pool and asked[1] == [pool[0]]
            # a saved ensemble's refit starts now; the rebuilt one's only after another build, counted for it
            assert after[0] == 0.0 and all(a > 0.0 for a in after[1 : 1 + len(pool)])
            last = max(together, key=board.index)
            assert f"Built again of the {len(pool) - 1} of the {len(pool)} best candidates" in report["reason"]
            rebuilt += 1
            if report["kept"]:
                assert last not in report["member_ids"] and len(report["member_ids"]) >= 2
                assert [e.id for e in again] == [int(report["key"][1:])]
            else:
                assert again == []
        finally:
            for row in again:
                delete_ensemble(ws, experiment, row.id)
    assert rebuilt >= 1  # some experiment kept an ensemble of its candidates


def _added(ws: Workspace, experiment: Experiment, before: set[int]) -> list[EnsembleRow]:
    """The experiment's ensembles saved since `before` (the ids it had)."""
    return [e for e in ensemble_rows.list_ensembles(ws.store, experiment.id) if e.id not in before]


def _kept_when_every_refit_fits(
    searched: tuple[Workspace, dict[str, Experiment]],
) -> Iterator[tuple[Experiment, set[int], list[dict]]]:
    """Each experiment whose search step keeps an ensemble when every refit fits: the experiment, the ids of
    the ensembles it had before (other tests'), and that ensemble's members ({candidate_id, name, weight}).
    The ensemble is deleted again before it is yielded."""
    ws, experiments = searched
    for experiment in experiments.values():
        before = {e.id for e in ensemble_rows.list_ensembles(ws.store, experiment.id)}
        report = ensemble_step(ws, experiment, lambda member_ids, after_s: True)
        added = _added(ws, experiment, before)
        for row in added:
            delete_ensemble(ws, experiment, row.id)
        if not report["kept"]:
            assert added == []
            continue
        (saved,) = added
        yield experiment, before, list(saved.spec["members"])
