"""Finalize: after selection the winner is refitted with the same hyperparameters on more rows; the search
does it inside its time limit, registering does it for any other model, and whatever fails leaves the model
as selected registered and usable."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import workbench.api as wb
from workbench.compare._data import trained_on_text
from workbench.metrics import get_metric
from workbench.model import loads_model
from workbench.registry import Registry
from workbench.search._finalize import (
    AUTOGLUON_BOOSTED_REFIT_SHARE,
    AUTOGLUON_REFIT_SHARE,
    REBAG_S,
    REFIT_OVERHEAD_S,
    estimated_refit_s,
    rebags,
)
from workbench.search.families import refit_size
from workbench.store import finals as final_rows
from workbench.store import trials as records

pytestmark = [pytest.mark.slow, pytest.mark.long(seconds=130)]

REPO = Path(__file__).resolve().parents[2]
PENGUINS_ROWS = 344


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A 45 s search of both engines on a copy of penguins registered as a file (so that it can change)."""
    root = tmp_path_factory.mktemp("finalize")
    shutil.copy(REPO / "datasets" / "penguins.csv", root / "pens.csv")
    patch = pytest.MonkeyPatch()
    for key, value in {
        "WORKBENCH_HOME": str(root / "home"),
        "WORKBENCH_DATA_ROOTS": str(root),
        "WORKBENCH_DATASETS_DIR": str(REPO / "datasets"),
        "WORKBENCH_GPUS": "none",
    }.items():
        patch.setenv(key, value)
    patch.chdir(root)
    wb.add_dataset("pens", root / "pens.csv", target="species")
    config = wb.search_config(
        engines=("autogluon", "optuna"), families=("lightgbm", "linear"), time_limit_s=45, cluster="local:2"
    )
    experiment = wb.prepare_search("pens", config)
    summary = wb.run_search(experiment.id, config)
    yield {"root": root, "experiment": experiment, "summary": summary}
    patch.undo()


def _split_sizes(experiment_id: int) -> tuple[int, int, int]:
    ws = wb.open_workspace()
    split = ws.split(ws.experiment(experiment_id))
    return len(split.train), len(split.valid), len(split.test)


def test_the_search_finalizes_its_winner_and_the_leaderboard_says_so(searched: dict[str, Any]) -> None:
    summary, experiment = searched["summary"], searched["experiment"]
    finalized = summary.finalized
    assert finalized is not None and finalized["finalized"], summary.to_dict()
    assert finalized["rows"] == PENGUINS_ROWS and finalized["mode"] == "all"
    assert summary.to_dict()["finalized"] == finalized
    # after the trials an ensemble was tried: kept (and then the winner) only if it beat its best member
    ensemble = summary.ensemble
    assert ensemble is not None and ensemble["reason"] and ensemble["seconds"] >= 0, summary.to_dict()
    board = wb.leaderboard(experiment.id)
    winner = board.best
    assert winner is not None and winner.key == finalized["key"]
    assert winner.trained_on.startswith(f"all: {PENGUINS_ROWS} rows")  # then how, if not one refit: seeds, bags
    if ensemble["kept"]:
        assert winner.key == ensemble["key"] and winner.kind == "ensemble"
        assert ensemble["oof_score"] > ensemble["member_oof_score"]
        refitted = set(ensemble["member_ids"])
    else:
        assert winner.kind == "candidate" and not any(r.kind == "ensemble" for r in board.rows)
        refitted = {winner.id}
    candidates = [r for r in board.rows if r.kind == "candidate"]
    assert {r.trained_on for r in candidates if r.id not in refitted} == {"train"}
    assert all(r.trained_on.startswith(f"all: {PENGUINS_ROWS} rows") for r in candidates if r.id in refitted)
    # the scores on the board stay those measured at selection
    best = min(candidates, key=lambda r: r.rank)
    candidate = records.get_candidate(wb.open_workspace().store, best.id)
    assert candidate is not None and best.valid_score == candidate.valid_score


def test_the_time_kept_for_finalize_follows_the_best_candidate(searched: dict[str, Any]) -> None:
    from workbench.search._finalize import best_candidate, best_candidates
    from workbench.search._run import finalize_reserve

    summary, experiment = searched["summary"], searched["experiment"]
    ws = wb.open_workspace()
    experiment = ws.experiment(experiment.id)
    config = wb.search_config(time_limit_s=45)
    budget = config.budget_for(experiment)
    reserve = finalize_reserve(ws, experiment, config, budget)
    assert reserve is not None
    winner = best_candidate(ws, experiment)
    assert winner is not None
    floor = max(2.0, 0.05 * 45)
    assert reserve() == pytest.approx(max(floor, 1.2 * estimated_refit_s(ws, winner, "all") + 2.0))
    assert finalize_reserve(ws, experiment, wb.search_config(time_limit_s=45, finalize="none"), budget) is None
    # an ensemble step adds the time building it is expected to take: the least, on these few rows
    with_ensemble = finalize_reserve(ws, experiment, config, budget, ensemble=True)
    members = estimated_refit_s(ws, best_candidates(ws, experiment, 3), "all")
    assert with_ensemble is not None and with_ensemble() == pytest.approx(max(floor, 1.2 * members + 2.0) + 1.5)
    # the trials stopped before the limit to leave that time, and the summary says how much, naming the limit
    # as given (not what was left of it once the cluster had started)
    assert summary.message.startswith("time limit of 45 s reached ("), summary.message
    assert "kept to finalize the winner" in summary.message, summary.message
    assert summary.elapsed_s < 45


def test_the_time_kept_for_the_ensemble_follows_the_rows_it_selects_on() -> None:
    from workbench.data import Split
    from workbench.search._run import ensemble_reserve

    def split(n_train: int, n_valid: int, folds: int) -> Split:
        train_folds = np.arange(n_train) % (folds - 1) + 1 if folds > 1 else None
        rows = np.arange(n_train + 2 * n_valid)
        return Split(
            rows[:n_train], rows[n_train : n_train + n_valid], rows[n_train + n_valid :], "random", "h", train_folds
        )

    assert ensemble_reserve(split(150, 50, 4), 300) == 1.5  # a small table: the least
    assert ensemble_reserve(split(15_000, 5_000, 4), 300) == pytest.approx(8.0)  # 4e-4 s a selection row
    assert ensemble_reserve(split(15_000, 5_000, 1), 300) == pytest.approx(2.0)  # the valid rows only
    assert ensemble_reserve(split(15_000, 5_000, 4), 100) == pytest.approx(6.0)  # at most 6% of the limit
    assert ensemble_reserve(split(15_000, 5_000, 4), 20) == 1.5  # and at least 1.5 s


def test_a_refit_estimate_counts_an_autogluon_model_inside_another_once(searched: dict[str, Any]) -> None:
    ws = wb.open_workspace()
    rows = records.list_candidates(ws.store, searched["experiment"].id)
    base = next(c for c in rows if c.engine == "autogluon")
    # a weighted ensemble built on `base` in the same fit: AutoGluon's fit time holds its ancestors'
    stacked = replace(
        base,
        id=base.id + 10_000,
        model_in_artifact="WeightedEnsemble_L2",
        params={**base.params, "ag_ancestors": [base.model_in_artifact]},
        fit_time_s=(base.fit_time_s or 0.0) + 1.0,
    )
    alone = estimated_refit_s(ws, stacked, "all", scale=1.5)
    assert estimated_refit_s(ws, [stacked, base], "all", scale=1.5) == alone  # refitting it refits `base`
    other_fit = replace(stacked, trial_id=(base.trial_id or 0) + 1)  # a different fit: counted on its own
    assert estimated_refit_s(ws, [other_fit, base], "all", scale=1.5) > alone


def first_autogluon_candidate(searched: dict[str, Any]) -> records.CandidateRow:
    ws = wb.open_workspace()
    return next(c for c in records.list_candidates(ws.store, searched["experiment"].id) if c.engine == "autogluon")


def refit_estimate_s(candidate: records.CandidateRow, scale: float) -> float:
    """The refit expected of `candidate` on `scale` times its rows, less loading and storing artifacts."""
    return estimated_refit_s(wb.open_workspace(), candidate, "all", scale=scale) - REFIT_OVERHEAD_S


def test_a_refit_estimate_counts_the_rounds_an_autogluon_boosting_model_adds(searched: dict[str, Any]) -> None:
    base = first_autogluon_candidate(searched)
    # bags too slow to refit as bags (`test_a_quick_autogluon_bag_is_refitted_as_a_bag`): one child each
    forest = replace(
        base,
        model_in_artifact="RandomForest_BAG_L1",
        params={**base.params, "ag_ancestors": [], "ag_cv_folds": 4},
        fit_time_s=60.0,
    )
    boosted = replace(forest, model_in_artifact="LightGBMXT_BAG_L1")
    # a weighted ensemble of a boosting model refits that model's scaled rounds too
    stacked = replace(
        forest, model_in_artifact="WeightedEnsemble_L2", params={**forest.params, "ag_ancestors": ["CatBoost_BAG_L1"]}
    )

    for scale in (1.25, 1.67, 2.0):
        ratio = refit_estimate_s(boosted, scale) / refit_estimate_s(forest, scale)
        assert ratio == pytest.approx(AUTOGLUON_BOOSTED_REFIT_SHARE * scale / AUTOGLUON_REFIT_SHARE)
        assert refit_estimate_s(stacked, scale) == pytest.approx(refit_estimate_s(boosted, scale))


def test_a_quick_autogluon_bag_is_refitted_as_a_bag(searched: dict[str, Any]) -> None:
    base = first_autogluon_candidate(searched)
    scale = 1.25
    quick_s = REBAG_S / scale / AUTOGLUON_REFIT_SHARE * 0.9  # a fit time whose refit as a bag is within REBAG_S
    bag = replace(
        base,
        model_in_artifact="LightGBM_BAG_L1",
        params={**base.params, "ag_ancestors": [], "ag_cv_folds": 4},
        fit_time_s=quick_s,
    )
    slow = replace(bag, fit_time_s=quick_s * 2)
    unbagged = replace(bag, params={**bag.params, "ag_cv_folds": 1})
    assert rebags(bag, scale) and not rebags(slow, scale) and not rebags(unbagged, scale)
    ws = wb.open_workspace()
    optuna = next(c for c in records.list_candidates(ws.store, searched["experiment"].id) if c.engine != "autogluon")
    assert not rebags(replace(optuna, fit_time_s=0.1), scale)
    # all 4 children on the new rows: the fit time (every child's) times the rows' scale
    assert refit_estimate_s(bag, scale) == pytest.approx(quick_s * scale * AUTOGLUON_REFIT_SHARE)
    assert refit_estimate_s(slow, scale) < refit_estimate_s(bag, scale)  # a slower bag refits one child of its 4


def test_the_reserve_keeps_the_refit_of_an_autogluon_trials_winner_until_the_trial_ends(
    searched: dict[str, Any],
) -> None:
    from workbench.search import SearchConfig
    from workbench.search._finalize import refit_scale
    from workbench.search._run import AUTOGLUON_WINNER_SHARE, REFIT_MARGIN, autogluon_pending_refit_s, finalize_reserve
    from workbench.search.engines._autogluon import FIT_SHARE

    ws = wb.open_workspace()
    base = next(c for c in records.list_candidates(ws.store, searched["experiment"].id) if c.engine == "autogluon")
    limit = 60.0
    budget = wb.Budget(time_limit_s=limit)
    for folds in (1, 4):
        for scale in (1.33, 1.67):
            pending = autogluon_pending_refit_s(folds, SearchConfig(), budget, scale)
            seconds = limit - REFIT_MARGIN * pending  # the trial's time: the limit less what is kept for its refit
            # a winner built on boosting models, fitted in its share of the trial's fit
            winner = replace(
                base,
                model_in_artifact="WeightedEnsemble_L2",
                params={**base.params, "ag_cv_folds": folds, "ag_ancestors": ["LightGBM_BAG_L1"]},
                fit_time_s=AUTOGLUON_WINNER_SHARE * FIT_SHARE * seconds,
            )
            refit_s = estimated_refit_s(ws, winner, "all", scale=scale) - REFIT_OVERHEAD_S
            assert refit_s == pytest.approx(pending)
    assert autogluon_pending_refit_s(4, SearchConfig(finalize="none"), budget, 1.67) == 0.0
    # A new search of both engines keeps it from the start, until its AutoGluon trial ends (the searched
    # experiment's has: its reserve follows its candidates); a search without AutoGluon does not.
    config = wb.search_config(time_limit_s=limit, seed=7)
    fresh = ws.experiment(wb.prepare_search("pens", config).id)
    split = ws.split(fresh)
    pending = autogluon_pending_refit_s(split.cv_folds, config, config.budget_for(fresh), refit_scale(split, "all"))
    floor = max(2.0, 0.05 * limit)
    reserve = finalize_reserve(ws, fresh, config, config.budget_for(fresh))
    assert reserve is not None and pending > 0
    assert reserve() == pytest.approx(max(floor, REFIT_MARGIN * pending + 2.0))
    optuna_only = wb.search_config(time_limit_s=limit, seed=7, engines=("optuna",))
    alone = finalize_reserve(ws, fresh, optuna_only, optuna_only.budget_for(fresh))
    assert alone is not None and alone() == pytest.approx(floor)


@pytest.mark.timeout(240)
def test_a_stop_request_cancels_a_refit_on_the_cluster_and_records_nothing(searched: dict[str, Any]) -> None:
    from workbench.compute import cluster
    from workbench.search import RefitStopped, finalize_candidate
    from workbench.store import finals as final_rows

    experiment = searched["experiment"]
    ws = wb.open_workspace()
    board = wb.leaderboard(experiment.id)
    autogluon = [r for r in board.rows if r.kind == "candidate" and r.engine == "autogluon"]
    # (this runs before the tests that make train+valid finals)
    chosen = next(r for r in autogluon if final_rows.get_final(ws.store, r.id, "train+valid") is None)
    asked: list[float] = []

    def stop() -> bool:
        asked.append(time.monotonic())
        return True

    with cluster("local:2") as client:
        with pytest.raises(RefitStopped, match="stopped by request"):
            finalize_candidate(ws, chosen.id, "train+valid", client=client, stop=stop)
        assert len(asked) == 1  # asked once, after half a second of an AutoGluon refit
        assert final_rows.get_final(ws.store, chosen.id, "train+valid") is None
        final = finalize_candidate(ws, chosen.id, "train+valid", client=client)  # nothing was left half made
    n_train, n_valid, _ = _split_sizes(experiment.id)
    assert final.rows == n_train + n_valid


def test_registering_uses_the_final_and_records_its_rows(searched: dict[str, Any]) -> None:
    experiment = searched["experiment"]
    version = wb.register_winner(experiment.id, "pens-final")
    assert version.metrics["trained_on"] == {"mode": "all", "rows": PENGUINS_ROWS}
    assert "before finalize" in version.metrics["scores_measured"]
    best = wb.leaderboard(experiment.id).best
    assert best is not None and version.metrics["valid_score"] == best.valid_score
    promotion = wb.promote("pens-final", version.version, "production")  # the contract check, on the final
    assert promotion.contract is not None and promotion.contract.latency_ms
    rows = wb.sample_rows(experiment.id, 20)
    served = wb.predict("pens-final@production", rows)
    assert len(served) == 20 and set(served) <= {"Adelie", "Chinstrap", "Gentoo"}


def test_each_engine_refits_with_the_same_hyperparameters_on_more_rows(searched: dict[str, Any]) -> None:
    experiment = searched["experiment"]
    ws = wb.open_workspace()
    n_train, n_valid, _ = _split_sizes(experiment.id)
    board = wb.leaderboard(experiment.id)
    by_engine = {r.model_type: r for r in board.rows if r.kind == "candidate" and r.engine == "optuna"}
    lightgbm = by_engine["lightgbm"]
    scale = (n_train + n_valid) / n_train
    # AutoGluon's best boosted model
    autogluon = next(
        r for r in board.rows if r.engine == "autogluon" and r.model_type in ("lightgbm", "xgboost", "catboost")
    )

    final = wb.finalize_model(lightgbm.key, "train+valid")
    assert final.rows == n_train + n_valid and final.to_dict()["mode"] == "train+valid"
    assert wb.finalize_model(lightgbm.key, "train+valid").finals == final.finals  # made once
    selected = loads_model(ws.store.read_artifact(records.get_candidate(ws.store, lightgbm.id).artifact_key))  # type: ignore[union-attr]
    refitted = loads_model(ws.store.read_artifact(final.finals[0].artifact_key))
    expected = max(1, round(selected.best_iteration_ * scale))  # type: ignore[attr-defined]
    assert refit_size("lightgbm", selected, scale) == expected
    # LightGBM stops early by itself once no split is left to make (small tables), never later
    assert 0 < refitted.best_iteration_ <= expected  # type: ignore[attr-defined]
    assert refitted.params == selected.params  # type: ignore[attr-defined]
    assert refitted.classes_ == selected.classes_ and refitted.problem_type == selected.problem_type
    X = ws.rows(ws.experiment(experiment.id)).X_test
    assert refitted.predict_proba(X).shape == selected.predict_proba(X).shape

    version = wb.register_model(autogluon.key, "pens-ag", finalize="train+valid")
    ag_final = final_rows.get_final(ws.store, autogluon.id, "train+valid")
    assert ag_final is not None and str(ag_final.model_in_artifact).endswith("_FULL")
    final_model = Registry(ws).load(version.ref).model
    proba = final_model.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1.0)
    # a small table's cross-validated AutoGluon model: its boosted bag refitted as a bag of as many children
    # when that is quick (`rebags`), else as one child on every row (a CatBoost bag of a thousand rounds can
    # be too slow here)
    row = records.get_candidate(ws.store, autogluon.id)
    assert row is not None and row.params["ag_cv_folds"] > 1
    folds = row.params["ag_cv_folds"] if rebags(row, scale) else 1
    trainer = final_model.predictor._trainer  # type: ignore[attr-defined]
    boosted = [m for m in trainer.get_model_names() if m.startswith(("LightGBM", "XGBoost", "CatBoost"))]
    assert boosted and all(trainer.load_model(m).n_children == folds for m in boosted)
    # and its final, the registry and the leaderboard say so
    assert ag_final.bag_folds == folds
    trained = {"mode": "train+valid", "rows": n_train + n_valid, **({"bag_folds": folds} if folds > 1 else {})}
    assert version.metrics["trained_on"] == trained
    bagged = f", bagged over {folds} folds" if folds > 1 else ""
    assert wb.final_note(trained) == bagged  # as `workbench models show` prints it
    finals = {autogluon.id: {"train+valid": ag_final}}
    assert trained_on_text(finals, [autogluon.id]) == f"train+valid: {n_train + n_valid} rows{bagged}"

    as_selected = wb.register_model(lightgbm.key, "pens-none", finalize="none")
    assert as_selected.metrics["trained_on"] == {"mode": "train", "rows": n_train}


def test_an_ensemble_is_finalized_member_by_member(searched: dict[str, Any]) -> None:
    experiment = searched["experiment"]
    board = wb.leaderboard(experiment.id)
    members = [r.key for r in board.rows if r.kind == "candidate" and r.engine == "optuna"][:2]
    built = wb.save_ensemble(experiment.id, dict.fromkeys(members, 0.5))
    version = wb.register_model(f"e{built.id}", "pens-ensemble")
    assert version.metrics["trained_on"] == {"mode": "all", "rows": PENGUINS_ROWS}
    assert wb.leaderboard(experiment.id).row(f"e{built.id}").trained_on == f"all: {PENGUINS_ROWS} rows"
    assert len(wb.predict(version.ref, wb.sample_rows(experiment.id, 5))) == 5


def test_a_quick_mlp_final_averages_several_seeds_and_registers_and_predicts(
    searched: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.model import EnsembleModel
    from workbench.search import final_data, refit_candidate
    from workbench.search._finalize import SEED_BAG_S
    from workbench.store import trial_data

    config = wb.search_config(
        engines=("optuna",), families=("mlp",), n_trials=2, cluster="local:1", finalize="none", ensemble=False
    )
    experiment = wb.prepare_search("pens", config)
    wb.run_search(experiment.id, config)
    ws = wb.open_workspace()
    best = wb.leaderboard(experiment.id).best
    assert best is not None and best.model_type == "mlp"
    candidate = records.get_candidate(ws.store, best.id)
    assert candidate is not None and candidate.artifact_key is not None

    # An MLP refit on 344 rows takes a fraction of a second: its final averages several seeds. Beside other
    # tests' searches one refit has taken longer than the SEED_BAG_S (3 s) the seeds after the first share,
    # so they get more here; the time rule itself is checked below with the seconds given.
    with monkeypatch.context() as patched:
        patched.setattr("workbench.search._finalize.SEED_BAG_S", 60.0)
        (final,) = wb.finalize_model(best.key).finals
    assert 2 <= final.seeds <= 5 and final.rows == PENGUINS_ROWS
    selected = loads_model(ws.store.read_artifact(candidate.artifact_key))
    bag = loads_model(ws.store.read_artifact(final.artifact_key))
    assert isinstance(bag, EnsembleModel) and len(bag.members_) == final.seeds
    for member in bag.members_:
        assert member.params == selected.params and member.classes_ == selected.classes_  # type: ignore[attr-defined]
    first, second = bag.members_[0].state_, bag.members_[1].state_  # type: ignore[attr-defined]
    assert any(not np.array_equal(first[name], second[name]) for name in first)  # seeds differ
    X = ws.rows(ws.experiment(experiment.id)).X_test
    proba = bag.predict_proba(X)
    assert np.allclose(proba, np.mean([m.predict_proba(X) for m in bag.members_], axis=0))
    assert list(bag.classes_ or ()) == list(selected.classes_ or ())

    version = wb.register_model(best.key, "pens-mlp")
    assert version.metrics["trained_on"] == {"mode": "all", "rows": PENGUINS_ROWS, "seeds": final.seeds}
    assert np.allclose(Registry(ws).load(version.ref).model.predict_proba(X), proba)
    assert len(wb.predict(version.ref, wb.sample_rows(experiment.id, 5))) == 5

    # The seeds after the first stop at their count or their time, whichever comes first.
    rows = final_data(trial_data(ws, ws.experiment(experiment.id)), "all")
    blob = ws.store.read_artifact(candidate.artifact_key)
    args = ("optuna", "mlp", candidate.params, None, blob, rows, 0, 1.25)
    assert refit_candidate(*args, seeds=3, seeds_s=600.0)[4] == 3
    once = refit_candidate(*args, seeds=5, seeds_s=0.0)
    assert once[4] == 1 and not isinstance(loads_model(once[0]), EnsembleModel)
    # The time kept for it: one refit, and the others within SEED_BAG_S (one refit when that is longer).
    quick, slow = replace(candidate, fit_time_s=0.1), replace(candidate, fit_time_s=30.0)
    one = 0.1 * 1.25 * 0.7
    assert estimated_refit_s(ws, quick, "all", 1.25) == pytest.approx(one + 4 * one + 2.0)
    assert estimated_refit_s(ws, slow, "all", 1.25) == pytest.approx(30.0 * 1.25 * 0.7 + 2.0)
    assert estimated_refit_s(ws, replace(candidate, fit_time_s=2.0), "all", 1.25) == pytest.approx(
        2.0 * 1.25 * 0.7 + SEED_BAG_S + 2.0
    )


@pytest.mark.timeout(240)
def test_members_refitted_one_after_another_on_a_cluster_each_get_their_rows(searched: dict[str, Any]) -> None:
    """The rows a refit sends to its worker are the same for every member of an ensemble: each refit's data
    is its own on the cluster, not released under the next one (Dask cancelled it: "lost dependencies")."""
    from workbench.compute import cluster
    from workbench.search import finalize_candidates

    experiment = searched["experiment"]
    ws = wb.open_workspace()
    board = wb.leaderboard(experiment.id)
    ids = [r.id for r in board.rows if r.kind == "candidate" and r.engine == "optuna"][:4]
    assert len(ids) == 4
    with cluster("local:2") as client:
        finals = finalize_candidates(ws, ids, "train+valid", client=client)
    n_train, n_valid, _ = _split_sizes(experiment.id)
    assert [f.candidate_id for f in finals] == ids
    assert {f.rows for f in finals} == {n_train + n_valid}


def test_a_failing_finalize_leaves_a_usable_version(searched: dict[str, Any]) -> None:
    experiment, root = searched["experiment"], searched["root"]
    board = wb.leaderboard(experiment.id)
    unfinalized = next(r for r in board.rows if r.trained_on == "train")  # not finalized yet in any mode
    rows = wb.sample_rows(experiment.id, 10)
    frame = pd.read_csv(root / "pens.csv")
    frame.iloc[::-1].to_csv(root / "pens.csv", index=False)  # the dataset changed: its rows cannot be read back
    try:
        version = wb.register_model(unfinalized.key, "pens-unfinalized")
    finally:
        frame.to_csv(root / "pens.csv", index=False)
    assert version.metrics["trained_on"]["mode"] == "train"
    assert "finalize_error" in version.metrics and "changed" in version.metrics["finalize_error"]
    assert len(wb.predict(version.ref, rows)) == 10


@pytest.mark.timeout(300)
def test_a_refit_on_a_cluster_runs_on_the_worker_its_candidate_was_fitted_on(searched: dict[str, Any]) -> None:
    """That worker has imported what the refit imports (torch: seconds in a new process, more than a small
    table's MLP refit)."""
    from distributed import get_task_stream

    from workbench.compute import cluster
    from workbench.search import finalize_candidate

    ws = wb.open_workspace()
    with cluster("local:2") as client:
        address = client.scheduler.address
        config = wb.search_config(
            engines=("optuna",), families=("linear",), n_trials=8, cluster=address, finalize="none", ensemble=False
        )
        experiment = wb.prepare_search("pens", config)
        wb.run_search(experiment.id, config)
        candidates = records.list_candidates(ws.store, experiment.id)
        fitted_on = {c.id: records.get_trial(ws.store, c.trial_id).worker for c in candidates if c.trial_id}
        assert len(set(fitted_on.values())) == 2  # trials ran on both workers
        with get_task_stream(client) as stream:
            for candidate_id in fitted_on:
                finalize_candidate(ws, candidate_id, "all", client=client)
    ran_on = [task["worker"] for task in stream.data if "refit_candidate" in str(task["key"])]
    assert ran_on == list(fitted_on.values())


def _add_candidate(
    ws: Any, experiment_id: int, like: Any, name: str, valid_score: float, fit_time_s: float, valid: np.ndarray | None
) -> Any:
    """A candidate with `like`'s model and the given selection score and fit time; its selection predictions
    are `valid` (None: `like`'s)."""
    predictions_key = like.predictions_key
    if valid is not None:
        buffer = io.BytesIO()
        np.savez(buffer, valid=valid, test=np.zeros((0, *valid.shape[1:])))
        predictions_key = ws.store.put_artifact(
            f"experiments/{experiment_id}/predictions/{name}.npz", buffer.getvalue()
        ).key
    row = {
        **{field: getattr(like, field) for field in ("engine", "model_type", "test_score", "params", "artifact_key")},
        **{field: getattr(like, field) for field in ("predict_row_ms", "predict_batch_ms", "size_bytes")},
        "name": name,
        "valid_score": valid_score,
        "fit_time_s": fit_time_s,
        "model_in_artifact": like.model_in_artifact,
        "predictions_key": predictions_key,
    }
    trial = records.create_trial(
        ws.store, experiment_id, "optuna", 9000 + len(records.list_trials(ws.store, experiment_id)), {}
    )
    assert records.finish_trial(ws.store, trial.id, "COMPLETE", values=[valid_score], candidates=[row])
    return next(c for c in records.list_candidates(ws.store, experiment_id) if c.name == name)


def test_a_winner_whose_refit_does_not_fit_gives_way_to_a_model_the_selection_rows_cannot_tell_from_it(
    searched: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model found as the trials end (an AutoGluon fit's best) can need a refit longer than the time left:
    the search finalizes the best candidate whose refit fits when the winner leads it by at most one
    standard error on the selection rows, and says which winner it passed over and why; else the winner
    stays as selected."""
    from workbench.cli._search import _finalize_line
    from workbench.search._finalize import best_candidate
    from workbench.search._run import _finalize_winner

    shutil.copytree(searched["root"] / "home", tmp_path / "home")  # this test adds candidates: to a copy
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    ws = wb.open_workspace()
    experiment = ws.experiment(searched["experiment"].id)
    before = best_candidate(ws, experiment)
    assert before is not None and before.valid_score is not None and before.predictions_key
    step = 1e-6 if get_metric(experiment.metric, experiment.problem_type).greater_is_better else -1e-6
    # the same predictions as the best so far, scored a hair better, with a fit of 900 s: no refit fits
    slow = _add_candidate(ws, experiment.id, before, "late-and-slow", before.valid_score + step, 900.0, None)
    assert best_candidate(ws, experiment) == slow
    config = wb.search_config(time_limit_s=45)
    budget = config.budget_for(experiment)
    summary = replace(searched["summary"], ensemble=None)
    scale = 1.0 * PENGUINS_ROWS / _split_sizes(experiment.id)[0]

    def finalize(seconds_left: float) -> dict[str, Any] | None:
        return _finalize_winner(
            ws, experiment, config, budget, summary, None, time.monotonic() + seconds_left, scale, lambda: False
        )

    report = finalize(30.0)
    assert report is not None and report["finalized"], report
    assert report["key"] == f"c{before.id}" and report["rows"] == PENGUINS_ROWS
    assert report["instead_of"]["key"] == f"c{slow.id}" and report["instead_of"]["name"] == "late-and-slow"
    expected = estimated_refit_s(ws, slow, "all", scale)
    assert expected > 30 and f"its refit would take about {expected:.0f} s" in report["instead_of"]["reason"]
    assert report["why"] == f"the winner leads it by only 0 {experiment.metric} on the selection rows"
    assert final_rows.get_final(ws.store, before.id, "all") is not None
    line = _finalize_line(report, "all", 44.0)
    assert "Winner late-and-slow not finalized" in line and f"instead: {before.name}, the best" in line
    assert f"--candidate {before.id}" in line
    # the winner keeps its rank on the leaderboard (an ensemble the search kept may rank above it), trained
    # on the train rows; the one finalized says its rows
    board = wb.leaderboard(experiment.id)
    winner_row, finalized_row = board.row(f"c{slow.id}"), board.row(f"c{before.id}")
    assert winner_row.rank < finalized_row.rank and winner_row.trained_on == "train"
    assert finalized_row.trained_on.startswith(f"all: {PENGUINS_ROWS} rows")
    # when no candidate's refit fits either, the winner stays as selected and the summary says why
    none_fits = finalize(-100.0)
    assert none_fits is not None and not none_fits["finalized"] and "instead_of" not in none_fits
    assert none_fits["key"] == f"c{slow.id}" and "no other candidate's refit fits" in none_fits["reason"]

    # a slow winner that classifies every selection row right, and a quick one that gets every other row
    # wrong: the selection rows tell them apart, so the winner stays as selected
    targets = ws.targets(experiment)
    assert targets.classes is not None
    codes = np.searchsorted(np.asarray(targets.classes), np.asarray(targets.y_valid))
    right = np.eye(len(targets.classes))[codes]
    wrong = right.copy()
    wrong[::2] = np.eye(len(targets.classes))[(codes[::2] + 1) % len(targets.classes)]
    best = _add_candidate(ws, experiment.id, before, "right-and-slow", before.valid_score + 3 * step, 900.0, right)
    quick = _add_candidate(ws, experiment.id, before, "wrong-and-quick", before.valid_score + 2 * step, 0.01, wrong)
    stays = finalize(30.0)
    assert stays is not None and not stays["finalized"] and stays["key"] == f"c{best.id}", stays
    assert (
        f"the best model whose refit fits, {quick.name}, is not finalized instead: the winner leads it by 0.5"
        in stays["reason"]
    )
    assert "standard errors) on the selection rows" in stays["reason"]
