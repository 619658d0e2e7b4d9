"""The registry on a real search's candidates and ensemble: bundles, loading, aliases, integrity, archives."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from registry_helpers import Searched, settings_for

from workbench.compare import load_candidate_model, load_ensemble_model
from workbench.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.model import LoadedModel
from workbench.registry import (
    BundleIntegrityError,
    Keyring,
    Registry,
    RegistrySource,
    UnsafeRegistryError,
    load_bundle,
    parse_ref,
)
from workbench.store import Workspace
from workbench.store import trials as records

pytestmark = pytest.mark.slow


def candidate_row(searched: Searched, family: str) -> records.CandidateRow:
    rows = records.list_candidates(searched.workspace.store, searched.experiment.id)
    return next(c for c in rows if c.id == searched.candidates[family])


@pytest.mark.parametrize("family", ["linear", "lightgbm"])
def test_register_and_load_candidate(searched: Searched, family: str) -> None:
    registry = Registry(searched.workspace)
    info = registry.register(f"cand-{family}", candidate_id=searched.candidates[family], description="first")
    assert (info.name, info.version, info.aliases) == (f"cand-{family}", 1, [])
    assert info.source == {"kind": "candidate", "id": searched.candidates[family], "experiment_id": 1}
    files = sorted(p.name for p in info.path.iterdir())
    model_files = {"linear": ["model.pkl"], "lightgbm": ["model.txt", "prep.json", "model-meta.json"]}[family]
    assert files == sorted(
        [*model_files, "model.json", "schema.json", "output.json", "metrics.json", "lineage.json", "manifest.json"]
    )
    assert oct(info.path.stat().st_mode & 0o777) == oct(0o750)
    manifest = json.loads((info.path / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and len(manifest["files"]) == len(model_files) + 5
    lineage = json.loads((info.path / "lineage.json").read_text())
    assert lineage["dataset"] == "penguins" and lineage["split_hash"] == searched.experiment.split_hash
    assert lineage["engine"] == "optuna" and lineage["packages"]["numpy"] and lineage["description"] == "first"
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert metrics["metric"] == "accuracy" and metrics["valid_score"] is not None and metrics["size_bytes"] > 0
    output = json.loads((info.path / "output.json").read_text())
    assert output == {"problem_type": "multiclass", "classes": ["Adelie", "Chinstrap", "Gentoo"]}

    loaded = registry.load(f"cand-{family}")
    assert isinstance(loaded, LoadedModel) and (loaded.name, loaded.version) == (f"cand-{family}", 1)
    assert loaded.input_schema.names == list(searched.data.X_train.columns)
    assert loaded.manifest["sha256"] == info.manifest_sha256
    original = load_candidate_model(searched.workspace, candidate_row(searched, family))
    X = searched.data.X_test
    np.testing.assert_array_equal(loaded.model.predict_proba(X), original.predict_proba(X))
    np.testing.assert_array_equal(loaded.model.predict(X), original.predict(X))


def test_ensemble_bundle_round_trip(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("ens", ensemble_id=searched.ensemble_id)
    assert info.source["kind"] == "ensemble"
    ensemble = json.loads((info.path / "ensemble.json").read_text())
    assert ensemble["method"] == "stacking" and ensemble["meta"] == "meta.pkl"
    assert all((info.path / m["file"]).is_file() for m in ensemble["members"])
    loaded = registry.load("ens@1")
    original = load_ensemble_model(searched.workspace, searched.ensemble_id)
    X = searched.data.X_test
    np.testing.assert_array_equal(loaded.model.predict_proba(X), original.predict_proba(X))
    # Through the light source a server uses, too.
    served = RegistrySource(searched.home, "ens").load()
    np.testing.assert_array_equal(served.model.predict_proba(X), original.predict_proba(X))


def test_resolve_forms_and_aliases_move(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    for _ in range(3):
        registry.register("aliased", candidate_id=searched.candidates["linear"])
    assert registry.resolve("aliased").version == 3
    assert registry.resolve("aliased@2").version == 2
    registry.set_alias("aliased", "production", 1)
    registry.set_alias("aliased", "staging", 2)
    assert registry.resolve("aliased@production").version == 1
    assert registry.resolve("aliased@1").aliases == ["production"]
    registry.set_alias("aliased", "production", 3)
    assert registry.resolve("aliased@production").version == 3
    assert registry.resolve("aliased@1").aliases == []
    source = RegistrySource(searched.home / "registry", "aliased@production")
    assert source.load().version == 3 and "aliased@production" in source.describe()
    registry.set_alias("aliased", "production", 2)
    assert source.load().version == 2  # a reload follows the moved alias
    registry.remove_alias("aliased", "staging")
    assert registry.resolve("aliased@2").aliases == ["production"]
    with pytest.raises(NotFoundError):
        registry.resolve("aliased@staging")
    with pytest.raises(NotFoundError):
        registry.resolve("aliased@9")
    with pytest.raises(NotFoundError):
        registry.set_alias("aliased", "x", 9)
    for bad in ("a@@b", "a@", "@x", "../x", "a@0", "a@b/c"):
        with pytest.raises(InvalidInputError):
            parse_ref(bad)
    with pytest.raises(InvalidInputError):
        registry.set_alias("aliased", "latest", 1)


def test_record_metrics_and_delete(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    registry.register("deleting", candidate_id=searched.candidates["linear"])
    second = registry.register("deleting", candidate_id=searched.candidates["linear"])
    updated = registry.record_metrics("deleting", 2, {"served_p50_ms": 1.5, "served_p99_ms": 4.0})
    assert updated.metrics["served_p99_ms"] == 4.0 and updated.metrics["metric"] == "accuracy"
    assert registry.load("deleting@2").metrics["served_p50_ms"] == 1.5
    assert not (second.path / "serving.json").exists()
    registry.set_alias("deleting", "production", 2)
    with pytest.raises(InvalidInputError, match="production"):
        registry.delete("deleting@2")
    assert second.path.is_dir()
    registry.delete("deleting@2", force=True)
    assert not second.path.exists()
    with pytest.raises(NotFoundError):
        registry.resolve("deleting@production")
    assert registry.resolve("deleting").version == 1
    assert registry.register("deleting", candidate_id=searched.candidates["linear"]).version == 3  # never reused


def _marker_pickle(marker: Path) -> bytes:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (Path.write_text, (str(marker), "unpickled"))  # type: ignore[return-value]

    return pickle.dumps(Evil())


def test_tampered_file_refused_before_unpickling(searched: Searched, tmp_path: Path) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("tampered", candidate_id=searched.candidates["linear"])
    marker = tmp_path / "marker"
    model = info.path / "model.pkl"
    model.write_bytes(_marker_pickle(marker))  # a pickle that would write the marker when loaded
    with pytest.raises(BundleIntegrityError, match=r"model\.pkl"):
        registry.load("tampered")
    with pytest.raises(BundleIntegrityError, match=r"model\.pkl"):
        load_bundle(info.path)
    assert not marker.exists()


def test_changed_byte_and_extra_file_refused(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("changed", candidate_id=searched.candidates["linear"])
    model = info.path / "model.pkl"
    original = model.read_bytes()
    model.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    with pytest.raises(BundleIntegrityError, match=r"model\.pkl"):
        registry.load("changed")
    model.write_bytes(original)
    assert registry.load("changed").version == 1
    (info.path / "extra.pkl").write_bytes(b"x")
    with pytest.raises(BundleIntegrityError, match=r"extra\.pkl"):
        registry.load("changed")
    (info.path / "extra.pkl").unlink()
    (info.path / "link.pkl").symlink_to(model)
    with pytest.raises(BundleIntegrityError, match=r"link\.pkl"):
        registry.load("changed")
    (info.path / "link.pkl").unlink()
    registry.load("changed")


def test_schema_read_alone_and_checked_against_the_manifest(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("schema-check", candidate_id=searched.candidates["linear"])
    schema = registry.schema("schema-check")
    assert "island" in schema.names and "species" not in schema.names
    (info.path / "model.pkl").write_bytes(b"not read for the schema")
    assert registry.schema("schema-check") == schema
    original = (info.path / "schema.json").read_bytes()
    (info.path / "schema.json").write_bytes(original.replace(b"Biscoe", b"Biscuit"))
    with pytest.raises(BundleIntegrityError, match=r"schema\.json"):
        registry.schema("schema-check")
    (info.path / "schema.json").write_bytes(original)
    (info.path / "manifest.json").write_bytes((info.path / "manifest.json").read_bytes() + b" ")
    with pytest.raises(BundleIntegrityError, match="not the one registered"):
        registry.schema("schema-check")


def test_world_writable_folder_refused(searched: Searched) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("writable", candidate_id=searched.candidates["linear"])
    for folder in (info.path, info.path.parent):
        os.chmod(folder, 0o777)
        with pytest.raises(UnsafeRegistryError, match="world-writable"):
            registry.load("writable")
        with pytest.raises(UnsafeRegistryError):
            RegistrySource(searched.home, "writable").load()
        os.chmod(folder, 0o750)
    registry.load("writable")


REGISTER = """
import sys
from pathlib import Path
from workbench.config import Settings
from workbench.registry import Registry
from workbench.store import Workspace
home, candidate = Path(sys.argv[1]), int(sys.argv[2])
with Workspace(Settings(home=home, data_roots=(home,), datasets_dir=Path(sys.argv[3]))) as ws:
    registry = Registry(ws)
    print(" ".join(str(registry.register("concurrent", candidate_id=candidate).version) for _ in range(5)))
"""


def test_concurrent_registration_gets_distinct_contiguous_versions(searched: Searched) -> None:
    args = [str(searched.home), str(searched.candidates["linear"]), str(searched.workspace.settings.datasets_dir)]
    procs = [
        subprocess.Popen([sys.executable, "-c", REGISTER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        outputs.append([int(v) for v in out.split()])
    assert sorted(outputs[0] + outputs[1]) == list(range(1, 11))
    versions = [v.version for v in Registry(searched.workspace).list("concurrent")]
    assert versions == list(range(1, 11))
    folders = sorted(p.name for p in (searched.home / "registry" / "concurrent").iterdir())
    assert folders == sorted(str(v) for v in range(1, 11))  # no staging folder left behind


def test_export_import_into_another_workspace(searched: Searched, tmp_path: Path) -> None:
    registry = Registry(searched.workspace)
    info = registry.register("exported", ensemble_id=searched.ensemble_id)
    archive = registry.export("exported@1", tmp_path)
    assert archive.name == "exported-1.tar.gz"
    with Workspace(settings_for(tmp_path / "other")) as other:
        Keyring(other).trust(Keyring(searched.workspace).own().public_key)
        imported = Registry(other).import_archive(archive)
        assert (imported.name, imported.version) == ("exported", 1) and imported.trusted
        assert imported.manifest_sha256 == info.manifest_sha256
        assert imported.source["kind"] == "import"
        renamed = Registry(other).import_archive(archive, name="renamed")
        assert renamed.ref == "renamed@1" and renamed.manifest_sha256 == info.manifest_sha256
        again = Registry(other).import_archive(archive)
        assert again.version == 2
        X = searched.data.X_test
        np.testing.assert_array_equal(
            Registry(other).load("exported").model.predict_proba(X), registry.load("exported").model.predict_proba(X)
        )


def _tar(path: Path, members: list[tuple[str, bytes | None, str]]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as archive:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                archive.addfile(info)
            else:
                assert data is not None
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def test_bad_archives_refused(searched: Searched, tmp_path: Path) -> None:
    import tarfile

    registry = Registry(searched.workspace)
    registry.register("arch", candidate_id=searched.candidates["linear"])
    good = registry.export("arch", tmp_path / "good.tar.gz")
    with tarfile.open(good) as archive:
        members = [(m.name, archive.extractfile(m).read(), "") for m in archive.getmembers()]  # type: ignore[union-attr]
    cases = {
        "absolute": [*members, ("/etc/evil", b"x", "")],
        "dotdot": [*members, ("bundle/../evil", b"x", "")],
        "symlink": [*members, ("bundle/link", None, "/etc/passwd")],
        "extra": [*members, ("bundle/extra.bin", b"x", "")],
        "changed": [(n, d + b"x" if n == "bundle/model.pkl" and d else d, link) for n, d, link in members],
    }
    with Workspace(settings_for(tmp_path / "other")) as other:
        target = Registry(other)
        for case, content in cases.items():
            archive_path = _tar(tmp_path / f"{case}.tar.gz", content)
            with pytest.raises(WorkbenchError):
                target.import_archive(archive_path, trust=True)  # past the signature: the content checks refuse
        assert target.list() == []
        folder = tmp_path / "other" / "registry" / "arch"
        assert not folder.exists() or list(folder.iterdir()) == []
        (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
        with pytest.raises(InvalidInputError):
            target.import_archive(tmp_path / "junk.tar.gz")


def test_source_reads_the_registry_tables_only(searched: Searched) -> None:
    """A server loads its model without the dataset catalog, the workspace, search or compare."""
    Registry(searched.workspace).register("light", candidate_id=searched.candidates["lightgbm"])
    code = (
        "import sys\nfrom workbench.registry._source import RegistrySource\n"
        f"m = RegistrySource({str(searched.home)!r}, 'light').load()\n"
        "bad = ('workbench.search', 'workbench.compare', 'workbench.store.', 'workbench.data')\n"
        "print(m.version, sorted(x for x in sys.modules if x.startswith(bad) and x != 'workbench.store._registry'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "1 []"


def test_serving_a_family_model_loads_no_search_stack(searched: Searched) -> None:
    """What an endpoint's process imports (the job runner, the server, the model) leaves Dask, Optuna,
    AutoGluon and torch out: serving a LightGBM candidate needs none of them."""
    Registry(searched.workspace).register("lean", candidate_id=searched.candidates["lightgbm"])
    records = searched.data.X_test.head(3).to_json(orient="records")
    code = (
        "import json, os, sys, time\n"
        "import workbench.jobs._runner, workbench.serve._run\n"
        "from fastapi.testclient import TestClient\n"
        "from workbench.serve import ServeSettings\n"
        "from workbench.serve._factory import create_app_from_env, factory_env\n"
        f"os.environ.update(factory_env({{'registry': {str(searched.home)!r}, 'ref': 'lean'}}, ServeSettings(), None))\n"
        'with TestClient(create_app_from_env(), base_url="http://127.0.0.1") as client:\n'
        "    for _ in range(600):\n"
        "        if client.get('/v2/health/ready').status_code == 200: break\n"
        "        time.sleep(0.05)\n"
        f"    answer = client.post('/predict', json=json.loads({records!r})).json()\n"
        "heavy = {'dask', 'distributed', 'optuna', 'autogluon', 'torch'}\n"
        "print(json.dumps({'predictions': answer['predictions'],"
        " 'loaded': sorted(heavy & {m.split('.')[0] for m in sys.modules})}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["predictions"]) == 3
    assert report["loaded"] == []
