"""The API's surface: every exported name resolves, every step returns a typed result with `to_dict()`."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

import workbench.api as wb
from workbench.compare import views

PLAIN = (type(None), str, int, float, bool, Path, typing.Any)


def _namespace() -> dict[str, object]:
    names: dict[str, object] = {name: getattr(wb, name) for name in wb.__all__}
    import pandas as pd

    from workbench.compare import Weights

    names.update(pd=pd, v=views, Path=Path, Any=typing.Any, Weights=Weights)
    return names


def _result_classes(annotation: object) -> list[type]:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, dict) or str(origin) == "<class 'types.UnionType'>":
        return [c for arg in typing.get_args(annotation) for c in _result_classes(arg)]
    return [annotation] if isinstance(annotation, type) else []


def test_every_exported_name_resolves_and_is_documented() -> None:
    doc = wb.__doc__ or ""
    assert len(wb.__all__) == len(set(wb.__all__))
    assert sorted(wb._HOMES) == sorted(wb.__all__)
    for name in wb.__all__:
        assert getattr(wb, name) is not None
        if inspect.isfunction(getattr(wb, name)):
            assert f"`{name}`" in doc, f"{name} is missing from the API table"
            assert getattr(wb, name).__doc__ or name.startswith(("list_", "show_")), f"{name} has no docstring"


def test_every_step_returns_a_typed_result_with_to_dict() -> None:
    namespace = _namespace()
    checked = set()
    functions = [getattr(wb, n) for n in wb.__all__ if inspect.isfunction(getattr(wb, n))]
    methods = [m for _, m in inspect.getmembers(wb.Comparison, inspect.isfunction) if not m.__name__.startswith("_")]
    methods += [m for _, m in inspect.getmembers(wb.SearchHandle, inspect.isfunction) if not m.__name__.startswith("_")]
    for function in functions + methods:
        hints = typing.get_type_hints(function, globalns={**function.__globals__, **namespace})
        assert "return" in hints, f"{function.__qualname__} has no return type"
        for cls in _result_classes(hints["return"]):
            if cls in PLAIN or not cls.__module__.startswith("workbench"):
                continue
            if cls in (wb.Comparison, wb.ClusterHandle, wb.Workspace, wb.SearchConfig):
                continue  # handles and inputs, not results
            assert callable(getattr(cls, "to_dict", None)), (
                f"{function.__qualname__} returns {cls.__name__} without to_dict"
            )
            checked.add(cls.__name__)
    assert {
        "DatasetEntry",
        "Profile",
        "Experiment",
        "SearchProgress",
        "SearchEvent",
        "Leaderboard",
        "VersionInfo",
    } <= checked
    assert {"Endpoint", "Job", "BuiltEnsemble", "EnsemblePreview", "Promotion", "HistoryInfo", "DiffInfo"} <= checked


def test_importing_the_api_is_light() -> None:
    code = (
        "import sys, workbench.api\n"
        "heavy = ('pandas', 'dask', 'distributed', 'optuna', 'autogluon', 'torch', 'plotly', 'fastapi')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout.replace("'", '"')) == []
