"""Calibrating a candidate's probabilities: by temperature when the experiment's metric is log loss, by a
moved decision threshold when it is a binary metric of labels (balanced accuracy, F1).

Both engines call `calibrate_candidate` once a candidate is fitted, with its uncalibrated predictions:
the decision (`workbench.model.choose_calibration`) looks at the valid rows only, out of fold; the test
rows are calibrated with it, never used to decide. The model keeps the decision as `calibration_`, so its
`predict_proba`, fast path, pickle and native files apply the same map.
"""

from __future__ import annotations

import numpy as np

from workbench.model import THRESHOLD_METRICS, Calibration, FittedModel, choose_calibration, choose_threshold
from workbench.model.tabular._base import label_codes
from workbench.search._protocol import TrialData

__all__ = ["CALIBRATED_METRICS", "calibrate_candidate"]

# Metrics whose scores reward calibrated probabilities: temperature scaling leaves every argmax (so
# accuracy, F1 and the ranking behind ROC AUC) as it was.
CALIBRATED_METRICS = frozenset({"log_loss"})


def calibrate_candidate(
    model: FittedModel, data: TrialData, valid_pred: np.ndarray, test_pred: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, Calibration | None]:
    """The valid and test predictions after the calibration decided for `model` (set as its
    `calibration_`), and that decision; for other metrics, the predictions unchanged and None.

    valid_pred, test_pred: the model's uncalibrated predictions on data's selection rows (the valid rows, or
    out of fold the train and valid rows: `TrialData.y_selection`) and test rows.
    """
    if data.problem_type == "regression" or data.classes is None:
        return valid_pred, test_pred, None
    codes = label_codes(np.asarray(data.y_selection), data.classes)
    if data.metric in CALIBRATED_METRICS:
        calibration = choose_calibration(valid_pred, codes, seed)
    elif data.metric in THRESHOLD_METRICS and data.problem_type == "binary":
        calibration = choose_threshold(valid_pred, codes, data.metric, seed)
    else:
        return valid_pred, test_pred, None
    model.calibration_ = calibration
    return calibration.apply(valid_pred), calibration.apply(test_pred), calibration
