"""Every bundled dataset loads, matches its manifest, profiles, and the set covers what it must."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from workbench.config import Settings
from workbench.data import bundled_datasets, content_hash, infer_problem_type, load_entry, profile_frame
from workbench.metrics import get_metric

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / "datasets"
MANIFEST = tomllib.loads((DATASETS / "manifest.toml").read_text())["dataset"]
NAMES = [d["name"] for d in MANIFEST]
ALLOWED_LICENCES = {"CC0-1.0", "CC-BY-4.0", "CC-BY-3.0", "public-domain"}


@pytest.fixture(scope="module")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("home")
    return Settings(home=home, data_roots=(home,), datasets_dir=DATASETS)


def _entry(settings: Settings, name: str):  # type: ignore[no-untyped-def]
    return next(e for e in bundled_datasets(settings) if e.name == name)


def test_manifest_is_complete() -> None:
    required = {"name", "file", "task", "target", "metric", "licence", "source", "description", "rows", "columns"}
    assert len(MANIFEST) >= 6
    for item in MANIFEST:
        assert required <= item.keys(), item["name"]
        assert item["licence"] in ALLOWED_LICENCES, item["name"]
        assert item["task"] in {"binary", "multiclass", "regression"}
        get_metric(item["metric"], item["task"])
        assert len(item["description"].splitlines()) == 1


def test_folder_is_small() -> None:
    total = sum(p.stat().st_size for p in DATASETS.rglob("*") if p.is_file())
    assert total < 15 * 1024 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_bundled_dataset_loads_profiles_and_infers_its_task(bundled_settings: Settings, name: str) -> None:
    entry = _entry(bundled_settings, name)
    item = next(d for d in MANIFEST if d["name"] == name)
    assert hashlib.sha256(Path(entry.location).read_bytes()).hexdigest() == item["sha256"]
    frame = load_entry(entry, bundled_settings)
    assert frame.shape == (item["rows"], item["columns"])
    assert infer_problem_type(frame[entry.target]) == item["task"]
    profile = profile_frame(frame, name, content_hash(frame), entry.target, metric=entry.metric)
    assert profile.problem_type == item["task"]
    assert profile.metric == item["metric"]
    assert profile.rows == item["rows"]
    assert not profile.leakage, f"bundled dataset {name} should not ship a leaking column"
    for column in (item.get("time_column"), item.get("group_column")):
        assert column is None or column in frame.columns


def test_bundled_datasets_cover_the_required_cases(bundled_settings: Settings) -> None:
    tasks, categorical, missing, imbalanced, large = set(), False, False, False, False
    for entry in bundled_datasets(bundled_settings):
        frame = load_entry(entry, bundled_settings)
        tasks.add(entry.task)
        features = frame.drop(columns=[entry.target])
        categorical |= any(features[c].dtype == object for c in features.columns)
        missing |= bool(frame.isna().any().any())
        if entry.task != "regression":
            imbalanced |= frame[entry.target].value_counts(normalize=True).min() < 0.10
        large |= len(frame) > 20_000
    assert tasks == {"binary", "multiclass", "regression"}
    assert categorical and missing and imbalanced and large


def test_same_dataset_loaded_twice_has_the_same_hash(bundled_settings: Settings) -> None:
    entry = _entry(bundled_settings, NAMES[0])
    first = content_hash(load_entry(entry, bundled_settings))
    second = content_hash(load_entry(entry, bundled_settings))
    assert first == second
    changed = load_entry(entry, bundled_settings)
    changed.iloc[0, 0] = changed.iloc[1, 0] if changed.iloc[0, 0] != changed.iloc[1, 0] else None
    assert content_hash(changed) != first
