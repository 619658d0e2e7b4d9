"""The fitted model: the one unit that search makes, compare combines, the registry stores and servers load."""

from __future__ import annotations

import abc
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model._calibration import Calibration
from workbench.model._schema import InputSchema

if TYPE_CHECKING:
    from workbench.model._columns import Columns, FastPredict

__all__ = ["FittedModel", "dumps_model", "loads_model"]


class FittedModel(abc.ABC):
    """A fitted model that predicts from raw feature frames.

    problem_type: binary, multiclass or regression.
    classes_: the class labels in the column order of `predict_proba` (None for regression).
    input_schema_: the feature columns the model expects.
    calibration_: the calibration decided for its probabilities on the valid rows (`choose_calibration`),
        or None (never decided: regression, other metrics, models pickled before calibration existed).
        Candidate models (family and AutoGluon) apply it in `predict_proba` and in their fast path
        through `calibrated` and `calibrated_path`.
    """

    problem_type: str
    classes_: Sequence[Any] | None
    input_schema_: InputSchema
    calibration_: Calibration | None = None  # a class default: old pickles load uncalibrated

    @abc.abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, len(classes_)) class probabilities; classification only."""

    @abc.abstractmethod
    def predict_values(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted values; regression only."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.problem_type == "regression":
            return self.predict_values(X)
        assert self.classes_ is not None
        labels: np.ndarray = np.asarray(self.classes_, dtype=object)[np.argmax(self.predict_proba(X), axis=1)]
        return labels

    def prediction(self, X: pd.DataFrame) -> np.ndarray:
        """What candidates store and scores use: probabilities for classifiers, values for regressors."""
        return self.predict_values(X) if self.problem_type == "regression" else self.predict_proba(X)

    def calibrated(self, proba: np.ndarray) -> np.ndarray:
        """`proba` through the model's calibration (itself when there is none)."""
        calibration = self.calibration_
        return proba if calibration is None else calibration.apply(proba)

    def calibrated_path(self, fast: FastPredict) -> FastPredict:
        """A classifier's uncalibrated fast path `fast` with the model's calibration applied after it."""
        calibration = self.calibration_
        if calibration is None or not calibration.active or self.problem_type == "regression":
            return fast

        def predict(columns: Columns, n: int) -> np.ndarray:
            return calibration.apply(np.asarray(fast(columns, n), dtype=np.float64))

        return predict

    def fast_path(self) -> FastPredict | None:
        """A predictor from Columns (one array per input column) that skips pandas, or None.

        It returns what `prediction` returns for the same rows. Servers take it through
        `workbench.model.verified_fast_path`, which checks that on probe rows first.
        """
        return None


def dumps_model(model: FittedModel) -> bytes:
    import cloudpickle

    buffer = io.BytesIO()
    cloudpickle.dump(model, buffer)
    return buffer.getvalue()


def loads_model(data: bytes) -> FittedModel:
    import pickle

    model = pickle.loads(data)
    if not isinstance(model, FittedModel):
        raise TypeError(f"expected a FittedModel, got {type(model).__name__}")
    return model
