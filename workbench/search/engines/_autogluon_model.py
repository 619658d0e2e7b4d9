"""Moved to `workbench.model._autogluon` (the model layer); re-exported here for existing imports."""

from workbench.model._autogluon import META_NAME, AutoGluonModel, predictor_to_zip, reorder_proba

__all__ = ["META_NAME", "AutoGluonModel", "predictor_to_zip", "reorder_proba"]
