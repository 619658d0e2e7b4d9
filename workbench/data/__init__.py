"""Datasets: the catalog (bundled, files, SQL), loading, profiling, problem inference and splits."""

from workbench.data._entries import (
    WORKSPACE_DATASETS,
    DatasetEntry,
    bundled_datasets,
    bundled_datasets_dir,
    content_hash,
    file_entry,
    load_entry,
    source_fingerprint,
    sql_entry,
    with_shape,
)
from workbench.data._paths import check_name, check_relative_key, resolve_within
from workbench.data._problem import check_target, infer_problem_type, resolve_problem
from workbench.data._profile import ColumnProfile, Profile, profile_frame
from workbench.data._split import MAX_CV_FOLDS, Split, SplitSpec, choose_cv_folds, make_split, split_hash
from workbench.data._sql import read_sql
from workbench.data._tables import FILE_FORMATS, detect_format, read_file

__all__ = [
    "FILE_FORMATS",
    "MAX_CV_FOLDS",
    "WORKSPACE_DATASETS",
    "ColumnProfile",
    "DatasetEntry",
    "Profile",
    "Split",
    "SplitSpec",
    "bundled_datasets",
    "bundled_datasets_dir",
    "check_name",
    "check_relative_key",
    "check_target",
    "choose_cv_folds",
    "content_hash",
    "detect_format",
    "file_entry",
    "infer_problem_type",
    "load_entry",
    "make_split",
    "profile_frame",
    "read_file",
    "read_sql",
    "resolve_problem",
    "resolve_within",
    "source_fingerprint",
    "split_hash",
    "sql_entry",
    "with_shape",
]
