"""AutoGluon runs a full garbage collection for every model it fits, refits or loads: what the process has
imported is frozen out of those passes, and nothing that is garbage is frozen with it."""

from __future__ import annotations

import gc
import importlib
import weakref
from pathlib import Path

import pytest

from workbench.model._autogluon import tabular_predictor


class Node:
    def __init__(self) -> None:
        self.itself = self  # a reference cycle: only the cyclic collector frees it


def test_imports_are_frozen_when_new_and_garbage_never_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    predictor_class = tabular_predictor()
    assert predictor_class.__name__ == "TabularPredictor"
    assert gc.get_freeze_count() > 50_000  # AutoGluon and what it imports
    freezes: list[int] = []
    freeze = gc.freeze

    def counted_freeze() -> None:
        freezes.append(1)
        freeze()

    monkeypatch.setattr(gc, "freeze", counted_freeze)
    assert tabular_predictor() is predictor_class and not freezes  # nothing imported since: nothing frozen

    gc.disable()  # no automatic collection in between: only `tabular_predictor` may free the cycle
    try:
        garbage = Node()
        gone = weakref.ref(garbage)
        del garbage
        kept = Node()
        (tmp_path / "workbench_newly_imported.py").write_text("TABLE = [{'row': n} for n in range(1000)]\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        importlib.import_module("workbench_newly_imported")
        assert gone() is not None
        tabular_predictor()
    finally:
        gc.enable()
    assert freezes == [1]  # a module was imported: frozen once
    assert gone() is None and kept.itself is kept  # the cycle that was garbage collected, not frozen
    tabular_predictor()
    assert freezes == [1]
