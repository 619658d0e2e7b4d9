"""A small torch MLP on standardized, one-hot input: early stopping on the valid loss, a report per epoch.

The fitted model keeps its weights as numpy arrays plus the architecture, and rebuilds the torch module
on CPU when it first predicts, so it pickles without torch state and serves on CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workbench.model.tabular._mlp import MLPModel
from workbench.search._protocol import Reporter, TrialData, WorkerResources
from workbench.search.families._base import own_params
from workbench.search.families._spaces import DEFAULTS

if TYPE_CHECKING:
    pass

__all__ = ["MLPModel", "fit_mlp", "torch_device"]


def torch_device(resources: WorkerResources) -> str:
    """CUDA on a GPU worker: its own GPU is device 0 of those visible to it (dask-cuda lists it first)."""
    return "cuda" if resources.gpus > 0 else "cpu"


def fit_mlp(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> MLPModel:
    return MLPModel(own_params("mlp", params, DEFAULTS["mlp"])).fit(data, resources, reporter, seed)
