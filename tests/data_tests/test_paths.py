from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.data import check_name, resolve_within
from workbench.errors import NotFoundError, UnsafePathError


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    inside = tmp_path / "inside"
    outside = tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "ok.csv").write_text("a\n1\n")
    (outside / "secret.csv").write_text("a\n1\n")
    return inside, outside


def test_a_file_inside_the_root_resolves(roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inside, _ = roots
    monkeypatch.chdir(inside)
    assert resolve_within("ok.csv", [inside]) == (inside / "ok.csv").resolve()
    assert resolve_within(inside / "ok.csv", [inside]) == (inside / "ok.csv").resolve()


def test_dotdot_escape_is_refused(roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inside, _ = roots
    monkeypatch.chdir(inside)
    with pytest.raises(UnsafePathError, match="outside the folders"):
        resolve_within("../outside/secret.csv", [inside])


def test_symlink_that_escapes_is_refused(roots: tuple[Path, Path]) -> None:
    inside, outside = roots
    os.symlink(outside / "secret.csv", inside / "link.csv")
    os.symlink(outside, inside / "linkdir")
    with pytest.raises(UnsafePathError):
        resolve_within(inside / "link.csv", [inside])
    with pytest.raises(UnsafePathError):
        resolve_within(inside / "linkdir" / "secret.csv", [inside])


def test_absolute_path_outside_is_refused_without_saying_whether_it_exists(roots: tuple[Path, Path]) -> None:
    inside, outside = roots
    with pytest.raises(UnsafePathError):
        resolve_within(outside / "secret.csv", [inside])
    with pytest.raises(UnsafePathError):
        resolve_within(outside / "does-not-exist.csv", [inside])
    with pytest.raises(NotFoundError):
        resolve_within(inside / "does-not-exist.csv", [inside])


@pytest.mark.parametrize("name", ["../x", "a/b", "/etc", "..", ".hidden", "", "x" * 65, "a\\b", "a..b"])
def test_names_must_be_plain(name: str) -> None:
    with pytest.raises(UnsafePathError, match="not a plain name"):
        check_name(name)


@pytest.mark.parametrize("name", ["penguins", "my-data.v2", "Sales_2024"])
def test_plain_names_pass(name: str) -> None:
    assert check_name(name) == name
