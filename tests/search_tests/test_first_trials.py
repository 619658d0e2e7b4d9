"""An Optuna study starts from each family's defaults, cheapest family first, before any random draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.search import OptunaEngine
from workbench.search.families import DEFAULTS, FIRST_TRIALS


def own(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "family" and not k.startswith("_")}


def test_a_new_study_asks_every_familys_defaults_first_then_draws(tmp_path: Path) -> None:
    engine = OptunaEngine(f"sqlite:///{tmp_path / 'optuna.db'}", "study", "accuracy", "binary", seed=0)
    asked = [engine.ask(number) for number in range(10)]
    engine.close()
    assert [p["family"] for p in asked[: len(FIRST_TRIALS)]] == list(FIRST_TRIALS)
    assert FIRST_TRIALS[0] == "linear"  # the cheapest
    for params in asked[: len(FIRST_TRIALS)]:
        assert own(params) == DEFAULTS[params["family"]]
    assert all(own(params) != DEFAULTS[params["family"]] for params in asked[len(FIRST_TRIALS) :])


def test_a_resumed_study_goes_on_from_where_it_stopped_with_the_families_searched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = OptunaEngine(url, "study", "rmse", "regression", seed=0, families=["mlp", "xgboost"])
    asked = first.ask(0)
    first.tell(0, "COMPLETE", [1.0])
    first.close()
    assert asked["family"] == "xgboost" and own(asked) == DEFAULTS["xgboost"]  # FIRST_TRIALS' order
    again = OptunaEngine(url, "study", "rmse", "regression", seed=0, families=["mlp", "xgboost"])
    second, third = again.ask(1), again.ask(2)
    again.close()
    assert second["family"] == "mlp" and own(second) == DEFAULTS["mlp"]
    assert own(third) != DEFAULTS[third["family"]]  # both families had their defaults: drawn now
