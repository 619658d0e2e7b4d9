"""A small torch MLP's fitted model on standardized, one-hot input.

The fitted model keeps its weights as numpy arrays plus the architecture, and rebuilds the torch module
on CPU when it first predicts, so it pickles without torch state and serves on CPU. The fit code
(the search layer's `families` package) trains the same network (`mlp_network`) and scores its epochs with the same
output conversion (`mlp_prediction`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model._schema import InputSchema
from workbench.model.tabular._base import TabularModel, expand_proba
from workbench.model.tabular._prep import DensePrep

if TYPE_CHECKING:
    import torch

__all__ = ["MLPModel", "mlp_network", "mlp_prediction"]


def mlp_network(n_in: int, hidden: int, layers: int, dropout: float, n_out: int) -> torch.nn.Sequential:
    """The MLP: `layers` blocks of Linear(width, hidden), ReLU and Dropout(dropout), then Linear to `n_out`
    outputs (one per class, or one value). Its keyword arguments are an MLPModel's `architecture_`."""
    from torch import nn

    modules: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden
    modules.append(nn.Linear(width, n_out))
    return nn.Sequential(*modules)


def mlp_prediction(
    output: np.ndarray, problem_type: str, n_classes: int, y_mean: float = 0.0, y_scale: float = 1.0
) -> np.ndarray:
    """The network's (n, n_out) output as the stored prediction: for regression the single output mapped
    back to the target's scale (`* y_scale + y_mean`), otherwise the softmax of the class logits."""
    output = np.asarray(output, dtype=np.float64)
    if problem_type == "regression":
        return output[:, 0] * y_scale + y_mean
    shifted = np.exp(output - output.max(axis=1, keepdims=True))
    return expand_proba(shifted / shifted.sum(axis=1, keepdims=True), range(n_classes), n_classes)


class MLPModel(TabularModel):
    """A trained `mlp_network(**architecture)` on `prep`'s matrix, kept as its `state` (state-dict names to
    numpy arrays). `epochs` is how many epochs training ran; regression targets were standardized with
    `y_mean` and `y_scale` (0 and 1 for classification)."""

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        problem_type: str,
        classes: Sequence[Any] | None,
        input_schema: InputSchema,
        prep: DensePrep,
        architecture: Mapping[str, Any],
        state: Mapping[str, np.ndarray],
        epochs: int,
        y_mean: float = 0.0,
        y_scale: float = 1.0,
    ) -> None:
        super().__init__(params=params, problem_type=problem_type, classes=classes, input_schema=input_schema)
        self.prep_ = prep
        self.y_mean_, self.y_scale_ = float(y_mean), float(y_scale)
        self.architecture_: dict[str, Any] = dict(architecture)
        self.epochs_ = int(epochs)
        self.state_: dict[str, np.ndarray] = dict(state)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_network", None)  # rebuilt from state_ on first use
        return state

    def _module(self) -> torch.nn.Sequential:
        network: torch.nn.Sequential | None = self.__dict__.get("_network")
        if network is None:
            import torch

            network = mlp_network(**self.architecture_)
            network.load_state_dict({name: torch.as_tensor(value) for name, value in self.state_.items()})
            network.eval()
            self._network = network
        return network

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        import torch

        network = self._module()
        with torch.inference_mode():
            output = network(torch.as_tensor(np.array(self.prep_.transform(X), dtype=np.float32)))
        return mlp_prediction(output.numpy(), self.problem_type, self.n_classes_, self.y_mean_, self.y_scale_)
