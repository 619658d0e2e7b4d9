"""A scikit-learn forest's fitted model (random forest or extra trees) on ordinal codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.model._schema import InputSchema
from workbench.model.tabular._base import SklearnModel
from workbench.model.tabular._prep import OrdinalPrep

__all__ = ["ForestModel"]


class ForestModel(SklearnModel):
    """A fitted random forest or extra trees `estimator` on `prep`'s ordinal codes; missing values go to
    sklearn's native NaN splits. For classification the estimator was fitted on label codes."""

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        prep: OrdinalPrep,
        estimator: Any,
    ) -> None:
        super().__init__(
            params=params, problem_type=problem_type, classes=classes, input_schema=input_schema, estimator=estimator
        )
        self.prep_ = prep

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return self.prep_.transform(X)
