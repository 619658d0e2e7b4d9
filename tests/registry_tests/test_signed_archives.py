"""Model archives are untrusted code: exports are signed, imports check the signature from the header
before anything is unpacked, and whatever is imported without a trusted signature stays marked untrusted."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import REPO, Searched, settings_for
from typer.testing import CliRunner

from workbench.cli import app
from workbench.cli._util import console
from workbench.errors import InvalidInputError
from workbench.registry import Keyring, Registry, SignatureError, UntrustedArchiveError
from workbench.registry._bundle import write_manifest
from workbench.registry._signing import KEY_FILE
from workbench.store import Workspace

pytestmark = pytest.mark.slow
runner = CliRunner()


class _RunsCode:
    """Unpickling this makes a folder: proof that code from the archive ran."""

    def __init__(self, proof: Path) -> None:
        self.proof = proof

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.proof),))


def _members(archive_path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    with tarfile.open(archive_path) as archive:
        header = json.loads(archive.extractfile("header.json").read())  # type: ignore[union-attr]
        files = {
            m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile() and m.name != "header.json"
        }
    return header, files


def _write(path: Path, header: dict[str, Any], files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in [("header.json", json.dumps(header).encode()), *files.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _malicious(good: Path, folder: Path, proof: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The archive's bundle with model.pkl swapped for a pickle that runs code, its manifest rewritten to
    match and the header's sha256 updated: everything consistent except the signature."""
    header, files = _members(good)
    bundle = folder / "bundle"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (bundle / "model.pkl").write_bytes(pickle.dumps(_RunsCode(proof)))
    (bundle / "manifest.json").unlink()
    sha = write_manifest(bundle)
    files = {f"bundle/{p.relative_to(bundle).as_posix()}": p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    return {**header, "manifest_sha256": sha}, files


def _state(workspace: Workspace) -> tuple[list[str], list[tuple[Any, ...]]]:
    root = workspace.settings.home / "registry"
    folders = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    rows = workspace.store.conn.execute("SELECT name, version FROM registry_versions ORDER BY name, version")
    return folders, [tuple(r) for r in rows]


@pytest.fixture
def exported(searched: Searched, tmp_path: Path) -> Path:
    registry = Registry(searched.workspace)
    registry.register("signed", candidate_id=searched.candidates["linear"])
    return registry.export("signed", tmp_path / "signed.tar.gz")


def test_export_is_signed_with_the_workspace_key(searched: Searched, exported: Path) -> None:
    header, _ = _members(exported)
    own = Keyring(searched.workspace).own()
    assert header["signature"]["algorithm"] == "ed25519"
    assert header["signature"]["key_id"] == own.key_id
    key_file = searched.home / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert own.public_key.startswith("workbench-ed25519 ") and "PRIVATE" not in own.public_key
    # importing into the workspace that signed it needs nothing more
    again = Registry(searched.workspace).import_archive(exported, name="signed-again")
    assert again.trusted and again.provenance["signed_by"] == own.name


def test_unknown_signer_is_refused_until_its_key_is_trusted(searched: Searched, exported: Path, tmp_path: Path) -> None:
    with Workspace(settings_for(tmp_path / "other")) as other:
        target = Registry(other)
        with pytest.raises(UntrustedArchiveError, match=r"does not trust.*workbench keys trust"):
            target.import_archive(exported)
        assert _state(other) == ([], [])
        key = Keyring(other).trust(Keyring(searched.workspace).own().public_key, "alice")
        imported = target.import_archive(exported)
        assert imported.trusted
        assert imported.provenance == {
            "origin": "imported",
            "trusted": True,
            "signed_by": "alice",
            "key_id": key.key_id,
            "reason": "signed",
        }
        assert imported.to_dict()["trusted"] is True
        Keyring(other).untrust(key.key_id)
        with pytest.raises(UntrustedArchiveError):
            target.import_archive(exported)
        assert [v.ref for v in target.list()] == ["signed@1"]


def test_a_changed_archive_fails_its_signature_even_with_trust(
    searched: Searched, exported: Path, tmp_path: Path
) -> None:
    proof = tmp_path / "code-ran"
    header, files = _malicious(exported, tmp_path / "work", proof)
    forged = _write(tmp_path / "forged.tar.gz", header, files)  # the old signature over a new sha256
    renamed = _write(
        tmp_path / "renamed.tar.gz", {**_members(exported)[0], "name": "other-name"}, _members(exported)[1]
    )
    registry = Registry(searched.workspace)
    before = _state(searched.workspace)
    for archive in (forged, renamed):
        for trust in (False, True):
            with pytest.raises(SignatureError, match="changed after it was signed"):
                registry.import_archive(archive, trust=trust)
    garbage = {**header["signature"], "value": "A" * 86 + "=="}  # well formed, signs nothing
    with pytest.raises(SignatureError):
        registry.import_archive(_write(tmp_path / "garbage.tar.gz", {**header, "signature": garbage}, files))
    with pytest.raises(InvalidInputError, match="signature that cannot be read"):
        registry.import_archive(_write(tmp_path / "odd.tar.gz", {**header, "signature": "yes"}, files), trust=True)
    assert _state(searched.workspace) == before
    assert not proof.exists()


def test_unsigned_code_is_imported_only_with_trust_and_stays_untrusted(
    searched: Searched, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = tmp_path / "code-ran"
    header, files = _malicious(exported, tmp_path / "work", proof)
    header.pop("signature")
    unsigned = _write(tmp_path / "unsigned.tar.gz", header, files)
    with Workspace(settings_for(tmp_path / "other")) as other:
        registry = Registry(other)
        with pytest.raises(UntrustedArchiveError, match=r"not signed.*--trust"):
            registry.import_archive(unsigned)
        assert _state(other) == ([], [])
        imported = registry.import_archive(unsigned, trust=True)
        assert not proof.exists(), "importing must not unpickle anything"
        assert not imported.trusted and imported.provenance["reason"] == "unsigned"
        assert imported.pickled_files is None or "model.pkl" in imported.pickled_files
        assert not registry.resolve("signed@1").trusted
        # exported again, it is not signed: this workspace cannot vouch for it
        again = registry.export("signed@1", tmp_path / "again.tar.gz")
        assert "signature" not in _members(again)[0]

        monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "other"))
        monkeypatch.setenv("WORKBENCH_DATASETS_DIR", str(REPO / "datasets"))
        monkeypatch.setattr(console, "width", 200)
        listed = runner.invoke(app, ["models", "list"])
        assert listed.exit_code == 0 and "UNTRUSTED" in listed.stdout
        shown = runner.invoke(app, ["models", "show", "signed@1", "--json"])
        assert json.loads(shown.stdout)["trusted"] is False
        exported_again = runner.invoke(app, ["models", "export", "signed@1", str(tmp_path / "third.tar.gz")])
        assert exported_again.exit_code == 0 and "not signed" in exported_again.stderr
        refused = runner.invoke(app, ["models", "import", str(unsigned), "--name", "again"])
        assert refused.exit_code == 2 and "--trust" in refused.stderr and "Traceback" not in refused.stderr
    assert not proof.exists()


def test_keys_cli(searched: Searched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = Keyring(searched.workspace).own()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("WORKBENCH_DATASETS_DIR", str(REPO / "datasets"))
    monkeypatch.chdir(tmp_path)

    def keys(*args: str) -> Any:
        return runner.invoke(app, ["keys", *args], terminal_width=200)

    shown = keys("show")
    assert shown.exit_code == 0 and shown.stdout.startswith("workbench-ed25519 ")
    (tmp_path / "alice.pub").write_text(own.public_key + "\n")
    trusted = keys("trust", "alice.pub", "--name", "alice", "--json")
    assert trusted.exit_code == 0 and json.loads(trusted.stdout)["key_id"] == own.key_id
    listed = keys("list", "--json")
    assert [(k["name"], k["own"]) for k in json.loads(listed.stdout)][1:] == [("alice", False)]
    for bad in ("not a key", "workbench-ed25519 AAAA", f"{own.public_key.rsplit(' ', 1)[0]} bad[name]"):
        result = keys("trust", bad)
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) <= 3
    assert keys("trust", shown.stdout.strip()).exit_code == 2  # its own key
    assert keys("remove", own.key_id).exit_code == 0
    assert keys("remove", own.key_id).exit_code == 2
    assert len(json.loads(keys("list", "--json").stdout)) == 1
