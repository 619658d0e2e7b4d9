"""`workbench models ...` through typer's CliRunner, on the real search's candidates and ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registry_helpers import REPO, Searched
from typer.testing import CliRunner

from workbench.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def env(searched: Searched, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Searched:
    monkeypatch.setenv("WORKBENCH_HOME", str(searched.home))
    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_DATASETS_DIR", str(REPO / "datasets"))
    monkeypatch.chdir(tmp_path)
    return searched


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["models", *args])
    return result.exit_code, result.stdout, result.stderr


def _fields(text: str) -> dict[str, str]:
    """The field -> value rows of a `models show` table, a value's folded lines joined (without spaces)."""
    fields: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        cells = line.split("│")
        if len(cells) == 4:
            field = cells[1].strip() or field
            fields[field] = fields.get(field, "") + cells[2].strip()
    return fields


def registry_state(searched: Searched) -> tuple[list[str], list[tuple[object, ...]]]:
    folders = sorted(str(p.relative_to(searched.home)) for p in (searched.home / "registry").rglob("*"))
    conn = searched.workspace.store.conn
    rows = conn.execute("SELECT name, version, deleted_at FROM registry_versions ORDER BY name, version").fetchall()
    aliases = conn.execute("SELECT name, alias, version FROM registry_aliases ORDER BY name, alias").fetchall()
    return folders, [tuple(r) for r in rows] + [tuple(a) for a in aliases]


def test_register_list_show_alias_export_import_delete(env: Searched, tmp_path: Path) -> None:
    code, out, err = run("register", "cli-model", "--candidate", str(env.candidates["lightgbm"]), "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["ref"] == "cli-model@1" and shown["source"]["kind"] == "candidate"
    code, out, err = run("register", "cli-model", "--ensemble", str(env.ensemble_id))
    assert code == 0, err
    code, out, _ = run("list", "--json")
    refs = [v["ref"] for v in json.loads(out)]
    assert {"cli-model@1", "cli-model@2"} <= set(refs)
    assert run("list")[0] == 0
    code, out, _ = run("alias", "cli-model", "1", "production")
    assert code == 0 and "cli-model@1" in out
    code, out, _ = run("show", "cli-model@production", "--json")
    assert code == 0 and json.loads(out)["version"] == 1 and json.loads(out)["aliases"] == ["production"]
    assert run("show", "cli-model")[0] == 0
    code, text, _ = run("show", "cli-model@1")
    fields, record = _fields(text), json.loads(run("show", "cli-model@1", "--json")[1])
    assert code == 0 and fields["source"] == f"candidate {env.candidates['lightgbm']} of experiment {env.experiment.id}"
    assert fields["manifest sha256"] == record["manifest_sha256"]  # whole, folded on an 80-column terminal
    assert fields["valid_score"] == f"{record['metrics']['valid_score']:.4f}"
    assert fields["predict_row_ms"] == f"{record['metrics']['predict_row_ms']:.2f} ms"
    archive = tmp_path / "cli-model.tar.gz"
    code, out, err = run("export", "cli-model@2", str(archive))
    assert code == 0 and archive.is_file(), err
    code, out, err = run("import", str(archive), "--name", "cli-imported", "--json")
    assert code == 0, err
    assert json.loads(out)["ref"] == "cli-imported@1"
    code, out, _ = run("delete", "cli-model@2")
    assert code == 0 and "deleted cli-model@2" in out
    code, _, err = run("delete", "cli-model@production", "--force")
    assert code == 0, err


def test_user_mistakes_exit_2_and_write_nothing(env: Searched, tmp_path: Path) -> None:
    assert run("register", "cli-mistakes", "--candidate", str(env.candidates["linear"]))[0] == 0
    assert run("alias", "cli-mistakes", "1", "production")[0] == 0
    before = registry_state(env)
    cases = [
        ("show", "no-such-model"),
        ("show", "a@@b"),
        ("show", "cli-mistakes@7"),
        ("register", "cli-mistakes"),
        ("register", "cli-mistakes", "--candidate", "99999"),
        ("register", "cli-mistakes", "--candidate", "1", "--ensemble", "1"),
        ("register", "bad/name", "--candidate", str(env.candidates["linear"])),
        ("alias", "cli-mistakes", "5", "production"),
        ("alias", "cli-mistakes", "1", "latest"),
        ("delete", "cli-mistakes@1"),
        ("delete", "cli-mistakes@production"),
        ("export", "no-such-model", str(tmp_path / "x.tar.gz")),
        ("export", "cli-mistakes", str(tmp_path / "missing" / "x.tar.gz")),
        ("import", str(tmp_path / "missing.tar.gz")),
    ]
    for args in cases:
        code, out, err = run(*args)
        assert code == 2, (args, out, err)
        assert "Error:" in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) <= 3, err
    assert registry_state(env) == before
    assert not (tmp_path / "x.tar.gz").exists()


def _archive(path: Path, header: dict[str, object] | None, members: list[tuple[str, bytes]]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as archive:
        for name, data in ([("header.json", json.dumps(header).encode())] if header is not None else []) + members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_hostile_archives_are_one_sentence_and_leave_nothing(
    env: Searched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tarfile

    from workbench.registry._bundle import write_manifest

    assert run("register", "cli-hostile", "--candidate", str(env.candidates["linear"]))[0] == 0
    good = tmp_path / "good.tar.gz"
    assert run("export", "cli-hostile", str(good))[0] == 0
    with tarfile.open(good) as archive:
        header = json.loads(archive.extractfile("header.json").read())  # type: ignore[union-attr]
        bundle = [(m.name, archive.extractfile(m).read()) for m in archive.getmembers() if m.name != "header.json"]  # type: ignore[union-attr]
    unpacked = tmp_path / "unpacked"
    for name, data in bundle:
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_bytes(data)
    (unpacked / "bundle" / "lineage.json").unlink()
    (unpacked / "bundle" / "manifest.json").unlink()
    no_lineage_sha = write_manifest(unpacked / "bundle")
    no_lineage = [
        (f"bundle/{p.relative_to(unpacked / 'bundle').as_posix()}", p.read_bytes())
        for p in sorted((unpacked / "bundle").rglob("*"))
        if p.is_file()
    ]
    (tmp_path / "truncated.tar.gz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _archive(tmp_path / "format.tar.gz", {**header, "format_version": 99}, bundle)
    _archive(tmp_path / "version.tar.gz", {**header, "version": "abc"}, bundle)
    unsigned = {k: v for k, v in header.items() if k != "signature"}  # its content changed: imported with --trust
    _archive(tmp_path / "lineage.tar.gz", {**unsigned, "manifest_sha256": no_lineage_sha}, no_lineage)
    _archive(tmp_path / "bomb.tar.gz", header, [*bundle, ("bundle/pad.bin", b"\0" * 30_000_000)])
    _archive(tmp_path / "members.tar.gz", header, [*bundle, *((f"bundle/e{i}", b"") for i in range(10_001))])
    _archive(tmp_path / "clash.tar.gz", header, [("bundle/a", b"x"), ("bundle/a/b", b"y"), *bundle])
    cases = {
        "truncated.tar.gz": "damaged or truncated",
        "format.tar.gz": "archive format",
        "version.tar.gz": "not valid",
        "lineage.tar.gz": "lineage.json",
        "bomb.tar.gz": "unpacks to more than",
        "members.tar.gz": "more than 10,000 files",
        "clash.tar.gz": "also holds as a file",
    }
    monkeypatch.setenv("WORKBENCH_MAX_FILE_BYTES", "20MB")
    before = registry_state(env)
    for name, message in cases.items():
        code, out, err = run("import", str(tmp_path / name), "--name", "cli-imported-hostile", "--trust")
        assert code == 2, (name, out, err)
        assert message in err and "Traceback" not in err + out and "Aborted" not in err + out, (name, err)
        assert len(err.strip().splitlines()) <= 3, err
    assert registry_state(env) == before
