from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import check_target, content_hash, infer_problem_type, profile_frame, resolve_problem
from workbench.errors import InvalidInputError


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "no", "yes"], "binary"),
        ([True, False, True], "binary"),
        ([0, 1, 1, 0], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([1, 2, 3, 4, 5, 3, 2], "multiclass"),
        ([1.0, 2.0, 3.0, 2.0], "multiclass"),
        (list(np.linspace(0, 1, 50)), "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_problem_type_inference(values: list, expected: str) -> None:
    assert infer_problem_type(pd.Series(values, name="y")) == expected


def test_default_metrics_and_metric_checks() -> None:
    assert resolve_problem(pd.Series([0, 1, 0]), None, None) == ("binary", "roc_auc")
    assert resolve_problem(pd.Series(["a", "b", "c"]), None, None) == ("multiclass", "accuracy")
    assert resolve_problem(pd.Series(np.linspace(0, 1, 40)), None, None) == ("regression", "rmse")
    with pytest.raises(InvalidInputError, match="does not apply to regression"):
        resolve_problem(pd.Series(np.linspace(0, 1, 40)), None, "roc_auc")
    with pytest.raises(InvalidInputError, match="Unknown metric"):
        resolve_problem(pd.Series([0, 1]), None, "auc-ish")
    with pytest.raises(InvalidInputError, match="not binary"):
        resolve_problem(pd.Series(["a", "b", "c"]), "binary", None)


def test_target_checks() -> None:
    frame = pd.DataFrame({"Label": [1, 1, 1], "x": [1, 2, 3]})
    with pytest.raises(InvalidInputError, match="Did you mean 'Label'"):
        check_target(frame, "label")
    with pytest.raises(InvalidInputError, match="only one value"):
        check_target(frame, "Label")


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    y = rng.choice(["no", "yes"], size=n, p=[0.95, 0.05])
    return pd.DataFrame(
        {
            "row_id": np.arange(n),
            "constant": 1,
            "mostly_missing": np.where(rng.random(n) < 0.7, np.nan, 1.0),
            "city": rng.choice(["x", "y", "z"], size=n),
            "score": rng.normal(size=n),
            "label_copy": np.where(y == "yes", "Y", "N"),
            "label": y,
        }
    )


def test_profile_reports_columns_target_and_warnings() -> None:
    frame = _frame()
    profile = profile_frame(frame, "toy", content_hash(frame), "label")
    by_name = {c.name: c for c in profile.column_profiles}
    assert profile.rows == 300 and profile.columns == 7
    assert profile.problem_type == "binary" and profile.metric == "roc_auc"
    assert by_name["row_id"].id_like and not by_name["score"].id_like
    assert by_name["constant"].constant
    assert by_name["mostly_missing"].missing_share == pytest.approx(frame["mostly_missing"].isna().mean())
    assert by_name["city"].kind == "categorical" and by_name["city"].n_unique == 3
    assert set(profile.target_distribution["classes"]) == {"no", "yes"}
    assert profile.leakage == ("label_copy",)
    text = " ".join(profile.warnings)
    for needle in ("'constant' is constant", "'row_id' looks like a row identifier", "imbalanced", "label_copy"):
        assert needle in text
    data = profile.to_dict()
    assert data["column_profiles"][0]["name"] == "row_id"


def test_regression_leak_is_found_by_correlation() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    frame = pd.DataFrame({"y": y, "y_scaled": 3 * y + 1 + rng.normal(scale=1e-3, size=200), "x": rng.normal(size=200)})
    profile = profile_frame(frame, "toy", content_hash(frame), "y")
    assert profile.problem_type == "regression"
    assert profile.leakage == ("y_scaled",)


def test_profile_without_target() -> None:
    frame = _frame()
    profile = profile_frame(frame, "toy", content_hash(frame))
    assert profile.target is None and profile.problem_type is None and profile.leakage == ()


def test_iso_date_strings_profile_as_datetime() -> None:
    frame = pd.DataFrame({"when": ["2024-01-01", "2024-01-02 06:00", "2024-02-01"], "y": [1.0, 2.5, 3.7]})
    profile = profile_frame(frame, "toy", content_hash(frame))
    assert profile.column_profiles[0].kind == "datetime"
