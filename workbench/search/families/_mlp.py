"""A small torch MLP on standardized, one-hot input: early stopping on the valid loss, a report per epoch.

The fitted model keeps its weights as numpy arrays plus the architecture, and rebuilds the torch module
on CPU when it first predicts, so it pickles without torch state and serves on CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.tabular._base import label_codes
from workbench.model.tabular._mlp import MLPModel, mlp_network, mlp_prediction
from workbench.model.tabular._prep import DensePrep
from workbench.search._protocol import Reporter, WorkerResources
from workbench.search.families._base import model_fields, own_params, thread_count
from workbench.search.families._reporting import ValidReporter
from workbench.search.families._spaces import DEFAULTS, MAX_EPOCHS, MAX_STEPS, MIN_EPOCHS, PATIENCE_EPOCHS
from workbench.store import TrialData

if TYPE_CHECKING:
    import torch

__all__ = ["MLPModel", "fit_mlp", "torch_device"]


def torch_device(resources: WorkerResources) -> str:
    """CUDA on a GPU worker: its own GPU is device 0 of those visible to it (dask-cuda lists it first)."""
    return "cuda" if resources.gpus > 0 else "cpu"


def _tensor(prep: DensePrep, X: pd.DataFrame, device: Any) -> torch.Tensor:
    import torch

    return torch.as_tensor(np.array(prep.transform(X), dtype=np.float32), device=device)


def _weights(network: torch.nn.Module) -> dict[str, np.ndarray]:
    return {name: value.detach().cpu().numpy().copy() for name, value in network.state_dict().items()}


def fit_mlp(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> MLPModel:
    """Train the MLP with AdamW for up to MAX_EPOCHS epochs (about MAX_STEPS steps, at least MIN_EPOCHS),
    stopped after PATIENCE_EPOCHS epochs without a better valid loss; the model keeps the best weights.
    Reports every epoch."""
    import torch

    p = own_params("mlp", params, DEFAULTS["mlp"])
    fields = model_fields(p, data)
    n_classes = len(data.classes or ())
    prep = DensePrep().fit(data.X_train)
    torch.set_num_threads(thread_count(resources, data.X_train))
    torch.manual_seed(seed)
    device = torch.device(torch_device(resources))
    classification = data.problem_type != "regression"
    y_mean, y_scale = 0.0, 1.0
    if classification:
        y_train = torch.as_tensor(label_codes(data.y_train, data.classes or ()), device=device)
        y_valid = torch.as_tensor(label_codes(data.y_valid, data.classes or ()), device=device)
        loss_fn: torch.nn.Module = torch.nn.CrossEntropyLoss()
    else:
        target = data.y_train.astype(np.float64)
        y_mean, y_scale = float(target.mean()), float(target.std() or 1.0)
        y_train = torch.as_tensor((target - y_mean) / y_scale, dtype=torch.float32, device=device)
        y_valid_np = (data.y_valid.astype(np.float64) - y_mean) / y_scale
        y_valid = torch.as_tensor(y_valid_np, dtype=torch.float32, device=device)
        loss_fn = torch.nn.MSELoss()
    X_train = _tensor(prep, data.X_train, device)
    X_valid = _tensor(prep, data.X_valid, device)
    architecture: dict[str, Any] = {
        "n_in": prep.n_features_,
        "hidden": int(p["hidden"]),
        "layers": int(p["layers"]),
        "dropout": float(p["dropout"]),
        "n_out": n_classes if classification else 1,
    }
    network = mlp_network(**architecture).to(device)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=float(p["learning_rate"]), weight_decay=float(p["weight_decay"])
    )
    generator = torch.Generator().manual_seed(seed)
    batch_size = int(p["batch_size"])
    steps_per_epoch = -(-len(X_train) // batch_size)
    max_epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, MAX_STEPS // steps_per_epoch))
    monitor = ValidReporter(reporter, data, every=1)
    best_loss, best_state, stale = float("inf"), _weights(network), 0
    epochs = 0
    for epoch in range(1, max_epochs + 1):
        network.train()
        order = torch.randperm(len(X_train), generator=generator).to(device)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            if len(batch) < 2 and len(order) > 1:
                continue  # a one-row batch carries little signal
            optimizer.zero_grad()
            output = network(X_train[batch])
            loss = loss_fn(output if classification else output.squeeze(1), y_train[batch])
            loss.backward()
            optimizer.step()
        network.eval()
        with torch.no_grad():
            output = network(X_valid)
            valid_loss = float(loss_fn(output if classification else output.squeeze(1), y_valid))
        epochs = epoch
        if valid_loss < best_loss - 1e-6:
            best_loss, best_state, stale = valid_loss, _weights(network), 0
        else:
            stale += 1
        prediction = mlp_prediction(output.cpu().numpy(), data.problem_type, n_classes, y_mean, y_scale)
        monitor.report(epoch, prediction)
        if stale >= PATIENCE_EPOCHS:
            break
    return MLPModel(
        **fields,
        prep=prep,
        architecture=architecture,
        state=best_state,
        epochs=epochs,
        y_mean=y_mean,
        y_scale=y_scale,
    )
