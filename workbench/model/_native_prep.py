"""An OrdinalPrep as JSON (a native model's `prep.json`), and back without fitting.

    {"max_categories": 1000,
     "codes": [{"Biscoe": 0, "Dream": 1, ...}, ...],      # per categorical column: category -> code
     "n_numeric": 5, "categorical_indices": [5, 6], "feature_names": [...],
     "table": {"columns": [...], "numeric": [...], "datetime": [...], "categorical": [...],
               "numeric_names": [...], "categorical_names": [...]}}

Each key is the fitted attribute of the same name (with its trailing underscore) of OrdinalPrep or, under
"table", of its TablePrep. Column names must be plain strings (anything else is refused here); whether the
JSON holds everything else exactly is checked by the caller (`workbench.model._native`), which rebuilds
and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.model.tabular._prep import OrdinalPrep, TablePrep

__all__ = ["prep_from_json", "prep_to_json"]

_TABLE = ("columns_", "numeric_", "datetime_", "categorical_", "numeric_names_", "categorical_names_")
_ORDINAL = ("codes_", "n_numeric_", "categorical_indices_", "feature_names_")


def prep_to_json(prep: OrdinalPrep) -> dict[str, Any]:
    """The fitted prep's attributes as JSON values; refuses anything but a fitted OrdinalPrep and TablePrep."""
    if type(prep) is not OrdinalPrep or type(prep.table_) is not TablePrep:
        raise TypeError(f"not an OrdinalPrep on a TablePrep: {type(prep).__name__}")
    if any(type(name) is not str for name in prep.table_.columns_):
        raise TypeError("column names that are not strings are kept in the pickle")
    return {
        "max_categories": prep.max_categories,
        **{name.rstrip("_"): getattr(prep, name) for name in _ORDINAL},
        "table": {name.rstrip("_"): getattr(prep.table_, name) for name in _TABLE},
    }


def prep_from_json(data: Mapping[str, Any]) -> OrdinalPrep:
    """The fitted OrdinalPrep that `prep_to_json` described."""
    table = TablePrep()
    for name in _TABLE:
        setattr(table, name, data["table"][name.rstrip("_")])
    prep = OrdinalPrep(max_categories=data["max_categories"])
    prep.table_ = table
    for name in _ORDINAL:
        setattr(prep, name, data[name.rstrip("_")])
    return prep
