"""Moved to `workbench.model.tabular._prep` (the model layer); re-exported here for existing imports."""

from workbench.model.tabular._prep import DensePrep, OrdinalPrep, TablePrep, is_datetime_like

__all__ = ["DensePrep", "OrdinalPrep", "TablePrep", "is_datetime_like"]
