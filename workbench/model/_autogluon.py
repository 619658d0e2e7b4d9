"""One model (or the weighted ensemble) inside a zipped AutoGluon predictor, as a FittedModel."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._json import to_jsonable
from workbench.errors import InvalidInputError
from workbench.model._base import FittedModel
from workbench.model._columns import FastPredict, UnverifiedFastPath
from workbench.model._schema import InputSchema

__all__ = [
    "META_NAME",
    "VERIFIED_AUTOGLUON_VERSIONS",
    "AutoGluonModel",
    "autogluon_cache_dir",
    "autogluon_version",
    "predictor_to_zip",
    "reorder_proba",
    "tabular_predictor",
]

META_NAME = "workbench.json"  # beside the predictor's files in the zip: problem type, classes, input schema
# The fast path reads about 25 private attributes of AutoGluon's learner, feature generators and models;
# it runs only on the versions whose internals it was checked against. Others predict through AutoGluon.
VERIFIED_AUTOGLUON_VERSIONS = ("1.6.3",)


def autogluon_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("autogluon.tabular")
    except metadata.PackageNotFoundError:
        return None


def reorder_proba(proba: pd.DataFrame, classes: Sequence[Any]) -> np.ndarray:
    """AutoGluon's probability frame as an (n, k) matrix whose columns follow `classes`.

    AutoGluon orders columns by its own label encoding, which need not be sorted. Labels are matched as
    they are, then by their text (AutoGluon may hand back labels of another type, e.g. numpy scalars vs
    str); a class AutoGluon never saw in training gets probability 0.
    """
    columns = list(proba.columns)
    by_text = {str(c): i for i, c in enumerate(columns)}
    values = proba.to_numpy(dtype=float)
    out = np.zeros((len(proba), len(classes)), dtype=float)
    for j, label in enumerate(classes):
        if label in columns:
            out[:, j] = values[:, columns.index(label)]
        elif str(label) in by_text:
            out[:, j] = values[:, by_text[str(label)]]
    return out


def predictor_to_zip(
    folder: Path, problem_type: str, classes: Sequence[Any] | None, input_schema: InputSchema
) -> bytes:
    """Zip a saved predictor folder, with the metadata `AutoGluonModel.from_zip` needs beside it."""
    meta = {
        "problem_type": problem_type,
        "classes": None if classes is None else to_jsonable(list(classes)),
        "input_schema": input_schema.to_dict(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META_NAME, json.dumps(meta))
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def autogluon_cache_dir(home: Path | None = None) -> Path:
    """Where zipped predictors are extracted: the workspace's cache (`home/cache/autogluon`), or a folder in
    the system's temp folder when no workspace is given."""
    if home is None:
        return Path(tempfile.gettempdir()) / "workbench-autogluon"
    return Path(home) / "cache" / "autogluon"


# A predictor folder holds hundreds of files and up to a few GB; a zip past these is refused unextracted.
MAX_PREDICTOR_FILES = 50_000
MAX_PREDICTOR_BYTES = 16 * 1024**3


def _extract(
    data: bytes, cache_dir: Path, max_files: int = MAX_PREDICTOR_FILES, max_bytes: int = MAX_PREDICTOR_BYTES
) -> Path:
    """Extract the zip once into a folder named by its content hash; concurrent extractions are safe. Its
    member count and inflated size are checked first (zipfile stops a member at its declared size)."""
    target = cache_dir / hashlib.sha256(data).hexdigest()
    if (target / META_NAME).is_file():
        return target
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        inflated = sum(m.file_size for m in members)
    if len(members) > max_files or inflated > max_bytes:
        raise InvalidInputError(
            f"The AutoGluon predictor holds {len(members):,} files, {inflated:,} bytes once inflated: over the "
            f"{max_files:,} files / {max_bytes:,} bytes a predictor may; it is not extracted."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(staging)  # zipfile drops absolute paths and ".." from member names
        try:
            os.rename(staging, target)
        except OSError:  # another process extracted the same bytes first
            if not (target / META_NAME).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


_modules_when_frozen = 0


def tabular_predictor() -> Any:
    """AutoGluon's `TabularPredictor` class, with what this process has imported kept out of the garbage
    collector's full passes.

    AutoGluon runs a full `gc.collect()` for every model it fits, refits or loads (to measure its size), and
    each walks every object the process holds: with AutoGluon, pandas and torch imported, about 300,000,
    0.3 s a pass, 16 passes in a trial of its default models on penguins. `gc.freeze()` moves the objects
    alive now out of those passes. It runs when modules were imported since it last did (AutoGluon imports
    each model's library at its first fit), so that a task's own objects are seldom frozen with them; a
    collection first, so that no garbage is.
    """
    global _modules_when_frozen
    from autogluon.tabular import TabularPredictor

    if len(sys.modules) > _modules_when_frozen:
        gc.collect()
        gc.freeze()
        _modules_when_frozen = len(sys.modules)
    return TabularPredictor


class AutoGluonModel(FittedModel):
    """A single model of an AutoGluon predictor (or its WeightedEnsemble), by name.

    The predictor is loaded lazily on first prediction, with the model and its ancestors persisted in
    memory (as a server would). Pickling keeps only the folder path, the model name and the metadata; the
    predictor is reloaded from the folder after unpickling, so the folder must still be there.
    """

    def __init__(
        self,
        path: Path,
        model_name: str,
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        predictor: Any = None,
    ) -> None:
        self.path = Path(path)
        self.model_name = model_name
        self.problem_type = problem_type
        self.classes_ = None if classes is None else tuple(classes)
        self.input_schema_ = input_schema
        self._predictor = predictor

    @classmethod
    def from_zip(cls, data: bytes, model_name: str, cache_dir: Path | None = None) -> AutoGluonModel:
        """The model `model_name` of a zipped predictor (`TrialResult.artifacts["predictor.zip"]`)."""
        folder = _extract(data, cache_dir or autogluon_cache_dir())
        meta = json.loads((folder / META_NAME).read_text())
        classes = meta["classes"]
        return cls(
            folder,
            model_name,
            meta["problem_type"],
            None if classes is None else tuple(classes),
            InputSchema.from_dict(meta["input_schema"]),
        )

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            TabularPredictor = tabular_predictor()
            if not self.path.is_dir():
                raise FileNotFoundError(f"The AutoGluon predictor folder {self.path} is gone; load the model again.")
            # AutoGluon warns about its own internals on load/persist (third-party noise).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predictor = TabularPredictor.load(str(self.path), verbosity=0, require_py_version_match=False)
                predictor.persist(models=[self.model_name], with_ancestors=True)
            self._predictor = predictor
        return self._predictor

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type == "regression" or self.classes_ is None:
            raise TypeError("predict_proba is for classifiers; this model is a regressor")
        predictor = self.predictor
        # Feature generators and models emit sklearn/pandas warnings on small or odd batches (third-party noise).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = predictor.predict_proba(X, model=self.model_name, as_multiclass=True)
        return self.calibrated(reorder_proba(proba, self.classes_))

    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type != "regression":
            raise TypeError("predict_values is for regressors; use predict_proba")
        predictor = self.predictor
        with warnings.catch_warnings():  # third-party noise, as in predict_proba
            warnings.simplefilter("ignore")
            values = predictor.predict(X, model=self.model_name)
        return np.asarray(values, dtype=float)

    def fast_path(self) -> FastPredict:
        from workbench.model._autogluon_fast import compile_autogluon

        version = autogluon_version()
        if version not in VERIFIED_AUTOGLUON_VERSIONS:
            raise UnverifiedFastPath(
                f"AutoGluon {version} is not a version the fast path was verified with "
                f"({', '.join(VERIFIED_AUTOGLUON_VERSIONS)}); requests go through AutoGluon's own predict"
            )
        return self.calibrated_path(
            compile_autogluon(self.predictor, self.model_name, self.problem_type, self.classes_)
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_predictor"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"AutoGluonModel({self.model_name!r}, {self.problem_type}, path={str(self.path)!r})"
