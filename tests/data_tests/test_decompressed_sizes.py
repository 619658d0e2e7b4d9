"""The file-size cap counts bytes once decompressed: small files that expand (a .csv.gz, an .xlsx, a
dictionary-encoded Parquet) are refused while they are read, before their rows are kept."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from workbench.data import read_file
from workbench.errors import DataFormatError, FileTooLargeError

CAP = 2_000_000


def _wide_rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"note": ["x" * 1000] * n, "y": [0, 1] * (n // 2)})


def test_a_gzipped_csv_is_counted_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wt") as out:
        _wide_rows(20_000).to_csv(out, index=False)  # 20 MB of text
    assert path.stat().st_size < CAP / 10
    with pytest.raises(FileTooLargeError, match=r"more than 1\.9 MB once decompressed, over the 1\.9 MB cap"):
        read_file(path, CAP)
    small = tmp_path / "small.csv.gz"
    with gzip.open(small, "wt") as out:
        _wide_rows(100).to_csv(out, index=False)
    assert len(read_file(small, CAP)) == 100


def test_a_parquet_file_is_counted_as_decoded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.parquet"
    _wide_rows(20_000).to_parquet(path)  # one dictionary entry, 20 MB once decoded
    assert path.stat().st_size < CAP / 10
    with pytest.raises(FileTooLargeError, match="once decompressed"):
        read_file(path, CAP)
    _wide_rows(100).to_parquet(tmp_path / "small.parquet")
    pd.testing.assert_frame_equal(read_file(tmp_path / "small.parquet", CAP), _wide_rows(100))


def test_an_xlsx_is_counted_inflated_and_by_members(tmp_path: Path) -> None:
    workbook = tmp_path / "book.xlsx"
    _wide_rows(10).to_excel(workbook, index=False)
    assert len(read_file(workbook, CAP)) == 10
    padded = tmp_path / "padded.xlsx"
    with zipfile.ZipFile(workbook) as source, zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            out.writestr(item, source.read(item))
        out.writestr("xl/media/pad.bin", b"\0" * 50_000_000)
    assert padded.stat().st_size < CAP
    with pytest.raises(FileTooLargeError, match=r"47\.7 MB once decompressed"):
        read_file(padded, CAP)
    many = tmp_path / "many.xlsx"
    with zipfile.ZipFile(many, "w") as out:
        for i in range(10_001):
            out.writestr(f"part{i}", b"")
    with pytest.raises(DataFormatError, match="10,001 files"):
        read_file(many, CAP)


def test_a_table_wider_than_the_column_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(100_000))
    wide = tmp_path / "wide.csv"
    wide.write_text(header + "\n" + ",".join("1" for _ in range(100_000)) + "\n")
    with pytest.raises(DataFormatError, match="100,000 columns, more than the 5,000"):
        read_file(wide, CAP * 10)
    pd.DataFrame({f"c{i}": [1] for i in range(60)}).to_parquet(tmp_path / "wide.parquet")
    with pytest.raises(DataFormatError, match="WORKBENCH_MAX_COLUMNS"):
        read_file(tmp_path / "wide.parquet", CAP, max_columns=50)
    assert read_file(tmp_path / "wide.parquet", CAP, max_columns=60).shape == (1, 60)


def test_an_autogluon_predictor_zip_past_its_caps_is_not_extracted(tmp_path: Path) -> None:
    import io

    from workbench.errors import InvalidInputError
    from workbench.model._autogluon import _extract

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("predictor/pad.bin", b"\0" * 5_000_000)
    with pytest.raises(InvalidInputError, match="not extracted"):
        _extract(buffer.getvalue(), tmp_path / "cache", max_bytes=1_000_000)
    with pytest.raises(InvalidInputError, match="not extracted"):
        _extract(buffer.getvalue(), tmp_path / "cache", max_files=0)
    assert not (tmp_path / "cache").exists()  # nothing written
