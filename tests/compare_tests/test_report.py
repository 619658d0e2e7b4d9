"""The HTML comparison report: sections, self-contained, escaped, written atomically."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.compare import ComparisonData, ModelPredictions, views
from workbench.compare import _report as report
from workbench.compare._report import SECTIONS, write_report
from workbench.config import Settings
from workbench.model import FittedModel, InputSchema, score_predictions
from workbench.store import ExperimentSpec, Workspace, trial_data
from workbench.store._trials import TrialRow

REPO = Path(__file__).resolve().parents[2]
XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def _prediction(
    rng: np.random.Generator, y: np.ndarray, classes: tuple[object, ...] | None, quality: float
) -> np.ndarray:
    if classes is None:
        return y + rng.normal(scale=float(np.std(y)) / quality, size=len(y))
    logits = quality * np.column_stack([y == c for c in classes]).astype(float) + rng.normal(
        size=(len(y), len(classes))
    )
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def build(ws: Workspace, dataset: str, metric: str | None = None) -> ComparisonData:
    """Synthetic models (one named with an HTML payload, one ensemble) on a real experiment's rows."""
    experiment = ws.create_experiment(ExperimentSpec(dataset, metric=metric))
    rows = trial_data(ws, experiment)
    rng = np.random.default_rng(0)
    specs = [
        ("optuna", "lightgbm-3", 3.0),
        ("autogluon", XSS, 2.0),
        ("optuna", "linear-1", 1.0),
        ("workbench", "ens", 3.5),
    ]
    models = []
    for i, (engine, name, quality) in enumerate(specs):
        valid = _prediction(rng, rows.y_selection, rows.classes, quality)
        test = _prediction(rng, rows.y_test, rows.classes, quality)
        models.append(
            ModelPredictions(
                id=i + 1,
                kind="ensemble" if engine == "workbench" else "candidate",
                name=name,
                engine=engine,
                model_type=name,
                valid=valid,
                test=test,
                valid_score=score_predictions(
                    experiment.metric, experiment.problem_type, rows.y_selection, valid, rows.classes
                ),
                test_score=score_predictions(
                    experiment.metric, experiment.problem_type, rows.y_test, test, rows.classes
                ),
                predict_row_ms=0.5 * (i + 1),
                predict_batch_ms=5.0 * (i + 1),
                size_bytes=1_000_000 * (4 - i),
                fit_time_s=float(i),
            )
        )
    plan = [("optuna", 0, "COMPLETE"), ("optuna", 1, "FAILED"), ("optuna", 2, "COMPLETE"), (XSS, 0, "COMPLETE")]
    trials = tuple(
        TrialRow(
            id=i + 1,
            experiment_id=experiment.id,
            engine=engine,
            number=n,
            state=state,
            params={},
            values=[0.5 + 0.1 * n] if state == "COMPLETE" else None,
            error=XSS if state == "FAILED" else None,
            worker=None,
            attempts=1,
            created_at=0.0,
            started_at=1.0,
            finished_at=2.0 + i,
        )
        for i, (engine, n, state) in enumerate(plan)
    )
    return ComparisonData.from_rows(experiment, rows.targets(), models, trials)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ComparisonData]]:
    home = tmp_path_factory.mktemp("report")
    with Workspace(Settings(home=home, data_roots=(home,), datasets_dir=REPO / "datasets")) as ws:
        yield {
            "binary": build(ws, "breast_cancer"),
            "multiclass": build(ws, "penguins", metric="log_loss"),
            "regression": build(ws, "grunfeld"),
        }


class UsesA(FittedModel):
    problem_type = "regression"
    classes_ = None
    input_schema_ = InputSchema(())

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return X["a"].to_numpy(dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError


def _importance() -> views.PermutationImportanceInfo:
    X = pd.DataFrame({"a": np.arange(50.0), XSS: np.ones(50)})
    return views.get_permutation_importance_info(
        UsesA(), X, X["a"].to_numpy(), "mae", "regression", None, n_repeats=2, name=XSS
    )


def _check_self_contained(text: str) -> None:
    js = views._plotly.get_plotlyjs()
    assert text.count(js) == 1  # plotly.js inlined exactly once
    rest = text.replace(js, "")
    # Outside the inlined plotly.js bundle nothing points to the network. (The bundle itself holds two
    # default URLs, https://cdn.plot.ly/un/ for geo topojson and a jsdelivr icon set for map traces,
    # only fetched by geo and map traces, which the report never draws.)
    assert "https://cdn" not in rest
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", rest, flags=re.IGNORECASE)
    assert "<link" not in rest and "@import" not in rest
    assert "<script src" not in text.lower()


@pytest.mark.parametrize("case", ["binary", "multiclass", "regression"])
def test_report_has_every_section_and_is_self_contained(
    cases: dict[str, ComparisonData], case: str, tmp_path: Path
) -> None:
    data = cases[case]
    ensembles = [("ens", ["lightgbm-3", XSS], [0.7, 0.3])]
    path = write_report(
        tmp_path / "report.html", data, ensembles=ensembles, importance=_importance(), title=f"{XSS} report"
    )
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    for key, heading in SECTIONS.items():
        assert f'<section id="{key}"><h2>{heading}</h2>' in text
    _check_self_contained(text)
    assert "<img src=x" not in text
    assert XSS_ESCAPED in text  # in the HTML tables and (plotly JSON) the figure labels
    assert f"<title>{XSS_ESCAPED} report</title>" in text
    figures = text.replace(views._plotly.get_plotlyjs(), "").count("Plotly.newPlot(")
    # The header
    exp = data.experiment
    assert f"{exp.id}: {exp.name}" in text and exp.dataset in text and data.metric in text
    for split, size in exp.split_sizes.items():
        assert f"{split} {size}" in text
    assert "Needs at least two models" not in text
    # leaderboard, history, pareto, weights, top models, importance, diff (+ confusion, calibration)
    if case == "regression":
        assert "Classification only." in text
        assert figures == 7
    else:
        assert figures == 9
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_diff_pair_and_class_names_are_escaped(cases: dict[str, ComparisonData], tmp_path: Path) -> None:
    data = cases["multiclass"]
    assert data.classes is not None
    renamed = {data.classes[0]: XSS}
    relabel = np.vectorize(lambda c: renamed.get(c, c), otypes=[object])
    data = replace(
        data,
        classes=tuple(renamed.get(c, c) for c in data.classes),
        y_valid=relabel(data.y_valid),
        y_test=relabel(data.y_test),
    )
    text = write_report(tmp_path / "r.html", data, diff_pair=("linear-1", "c1")).read_text(encoding="utf-8")
    assert "<img src=x" not in text
    assert "linear-1 (c3) vs lightgbm-3 (c1) on test rows." in text
    assert "No ensembles given." in text and "Not computed" in text


def test_report_without_models_or_trials(cases: dict[str, ComparisonData], tmp_path: Path) -> None:
    empty = replace(cases["binary"], models=(), trials=())
    text = write_report(tmp_path / "empty.html", empty).read_text(encoding="utf-8")
    assert "No models yet" in text and "No trials recorded." in text and "Needs at least two models." in text
    _check_self_contained(text)


def test_a_failed_render_writes_nothing(
    cases: dict[str, ComparisonData], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.html"

    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "plot_diff", boom)
    with pytest.raises(RuntimeError):
        write_report(path, cases["binary"])
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(
    cases: dict[str, ComparisonData], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.html"
    real_fsync = os.fsync

    def fsync_then_fail(fd: int) -> None:  # the temp file is fully written, then the write "crashes"
        real_fsync(fd)
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "fsync", fsync_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, cases["regression"])
    assert list(tmp_path.iterdir()) == []

    path.write_text("old report")
    monkeypatch.setattr(report.os, "fsync", real_fsync)

    def no_replace(src: object, dst: object) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(report.os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_report(path, cases["regression"])
    assert path.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_path_mistakes(cases: dict[str, ComparisonData], tmp_path: Path) -> None:
    from workbench.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        write_report(tmp_path, cases["binary"])
    with pytest.raises(InvalidInputError):
        write_report(tmp_path / "missing" / "r.html", cases["binary"])
