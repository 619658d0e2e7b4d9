"""A small torch MLP on standardized, one-hot input: early stopping on the valid loss, a report per epoch.

The fitted model keeps its weights as numpy arrays plus the architecture, and rebuilds the torch module
on CPU when it first predicts, so it pickles without torch state and serves on CPU. The fit records on the
model the epoch whose weights it kept (`best_epoch_`), which a refit of fixed size repeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.tabular._base import label_codes
from workbench.model.tabular._mlp import MLPModel, mlp_network, mlp_prediction
from workbench.model.tabular._prep import DensePrep
from workbench.search._protocol import Reporter, WorkerResources
from workbench.search.families._base import ModelFields, model_fields, own_params, thread_count
from workbench.search.families._reporting import ValidReporter
from workbench.search.families._spaces import DEFAULTS, MAX_EPOCHS, MAX_STEPS, MIN_EPOCHS, PATIENCE_EPOCHS
from workbench.store import TrialData

if TYPE_CHECKING:
    import torch

__all__ = ["MLPModel", "best_epoch", "fit_mlp", "refit_mlp", "torch_device"]


def torch_device(resources: WorkerResources) -> str:
    """CUDA on a GPU worker: its own GPU is device 0 of those visible to it (dask-cuda lists it first)."""
    return "cuda" if resources.gpus > 0 else "cpu"


def _tensor(prep: DensePrep, X: pd.DataFrame, device: Any) -> torch.Tensor:
    import torch

    return torch.as_tensor(np.array(prep.transform(X), dtype=np.float32), device=device)


def _weights(network: torch.nn.Module) -> dict[str, np.ndarray]:
    return {name: value.detach().cpu().numpy().copy() for name, value in network.state_dict().items()}


@dataclass
class _Training:
    """A network, its optimizer and data on a device: what both the search's fit and a refit train."""

    prep: DensePrep
    architecture: dict[str, Any]
    network: torch.nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: torch.nn.Module
    X_train: torch.Tensor
    y_train: torch.Tensor
    classification: bool
    y_mean: float
    y_scale: float
    generator: torch.Generator
    batch_size: int
    device: torch.device

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(output if self.classification else output.squeeze(1), target)  # type: ignore[no-any-return]

    def targets(self, y: np.ndarray, data: TrialData) -> torch.Tensor:
        import torch

        if self.classification:
            return torch.as_tensor(label_codes(y, data.classes or ()), device=self.device)
        scaled = (y.astype(np.float64) - self.y_mean) / self.y_scale
        return torch.as_tensor(scaled, dtype=torch.float32, device=self.device)

    def epoch(self, resources: WorkerResources | None = None) -> bool:
        """One pass over the train rows in a random order; False when the deadline of `resources` cut it short."""
        import torch

        self.network.train()
        order = torch.randperm(len(self.X_train), generator=self.generator).to(self.device)
        for start in range(0, len(order), self.batch_size):
            if resources is not None and start and resources.out_of_time():
                return False
            batch = order[start : start + self.batch_size]
            if len(batch) < 2 and len(order) > 1:
                continue  # a one-row batch carries little signal
            self.optimizer.zero_grad()
            self.loss(self.network(self.X_train[batch]), self.y_train[batch]).backward()
            self.optimizer.step()
        return True

    def model(self, fields: ModelFields, state: dict[str, np.ndarray], epochs: int, best: int) -> MLPModel:
        model = MLPModel(
            **fields,
            prep=self.prep,
            architecture=self.architecture,
            state=state,
            epochs=epochs,
            y_mean=self.y_mean,
            y_scale=self.y_scale,
        )
        vars(model)["best_epoch_"] = int(best)  # pickled with the model; older pickles lack it (see best_epoch)
        return model


def _training(p: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int) -> _Training:
    import torch

    prep = DensePrep().fit(data.X_train)
    torch.set_num_threads(thread_count(resources, data.X_train))
    torch.manual_seed(seed)
    device = torch.device(torch_device(resources))
    classification = data.problem_type != "regression"
    y_mean, y_scale = 0.0, 1.0
    loss_fn: torch.nn.Module = torch.nn.CrossEntropyLoss()
    if not classification:
        target = data.y_train.astype(np.float64)
        y_mean, y_scale = float(target.mean()), float(target.std() or 1.0)
        # Mean absolute error is minimised by the median, which an L1 loss fits.
        loss_fn = torch.nn.L1Loss() if data.metric == "mae" else torch.nn.MSELoss()
    architecture: dict[str, Any] = {
        "n_in": prep.n_features_,
        "hidden": int(p["hidden"]),
        "layers": int(p["layers"]),
        "dropout": float(p["dropout"]),
        "n_out": len(data.classes or ()) if classification else 1,
    }
    network = mlp_network(**architecture).to(device)
    training = _Training(
        prep=prep,
        architecture=architecture,
        network=network,
        optimizer=torch.optim.AdamW(
            network.parameters(), lr=float(p["learning_rate"]), weight_decay=float(p["weight_decay"])
        ),
        loss_fn=loss_fn,
        X_train=_tensor(prep, data.X_train, device),
        y_train=torch.zeros(0),
        classification=classification,
        y_mean=y_mean,
        y_scale=y_scale,
        generator=torch.Generator().manual_seed(seed),
        batch_size=int(p["batch_size"]),
        device=device,
    )
    training.y_train = training.targets(data.y_train, data)
    return training


def fit_mlp(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int
) -> MLPModel:
    """Train the MLP with AdamW for up to MAX_EPOCHS epochs (about MAX_STEPS steps, at least MIN_EPOCHS),
    stopped after PATIENCE_EPOCHS epochs without a better valid loss or at the deadline of `resources`; the
    model keeps the best weights. Reports every epoch (an epoch the deadline cut short included)."""
    import torch

    p = own_params("mlp", params, DEFAULTS["mlp"])
    fields = model_fields(p, data)
    n_classes = len(data.classes or ())
    t = _training(p, data, resources, seed)
    X_valid = _tensor(t.prep, data.X_valid, t.device)
    y_valid = t.targets(data.y_valid, data)
    steps_per_epoch = -(-len(t.X_train) // t.batch_size)
    max_epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, MAX_STEPS // steps_per_epoch))
    monitor = ValidReporter(reporter, data, every=1)
    best_loss, best_state, best, stale = float("inf"), _weights(t.network), 0, 0
    epochs = 0
    for epoch in range(1, max_epochs + 1):
        complete = t.epoch(resources)
        t.network.eval()
        with torch.no_grad():
            output = t.network(X_valid)
            valid_loss = float(t.loss(output, y_valid))
        epochs = epoch
        if valid_loss < best_loss - 1e-6:
            best_loss, best_state, best, stale = valid_loss, _weights(t.network), epoch, 0
        else:
            stale += 1
        prediction = mlp_prediction(output.cpu().numpy(), data.problem_type, n_classes, t.y_mean, t.y_scale)
        monitor.report(epoch, prediction)
        if stale >= PATIENCE_EPOCHS or not complete or resources.out_of_time():
            break
    return t.model(fields, best_state, epochs, best)


def refit_mlp(
    params: Mapping[str, Any], data: TrialData, resources: WorkerResources, seed: int, epochs: int
) -> MLPModel:
    """The MLP with `params` trained for exactly `epochs` epochs on data's train rows (no valid rows); the
    model keeps the last weights."""
    p = own_params("mlp", params, DEFAULTS["mlp"])
    t = _training(p, data, resources, seed)
    epochs = max(1, int(epochs))
    for _ in range(epochs):
        t.epoch()
    t.network.eval()
    return t.model(model_fields(p, data), _weights(t.network), epochs, epochs)


def best_epoch(model: MLPModel) -> int:
    """The epoch whose weights `model` kept. Models pickled before it was recorded: their last epoch, less
    the PATIENCE_EPOCHS that early stopping waited when it stopped before MAX_EPOCHS (at least 1)."""
    recorded = getattr(model, "best_epoch_", None)
    if recorded is not None:
        return int(recorded)
    epochs = int(model.epochs_)
    return max(1, epochs - PATIENCE_EPOCHS) if epochs < MAX_EPOCHS else epochs
