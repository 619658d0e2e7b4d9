"""A small torch MLP's fitted model on standardized, one-hot input.

The fitted model keeps its weights as numpy arrays plus the architecture, and rebuilds the torch module
on CPU when it first predicts, so it pickles without torch state and serves on CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.tabular._base import TabularModel, expand_proba, label_codes, thread_count
from workbench.model.tabular._prep import DensePrep

if TYPE_CHECKING:
    import torch

    from workbench.search._protocol import Reporter, TrialData, WorkerResources

__all__ = ["MLPModel"]


def _network(n_in: int, hidden: int, layers: int, dropout: float, n_out: int) -> torch.nn.Sequential:
    from torch import nn

    modules: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden
    modules.append(nn.Linear(width, n_out))
    return nn.Sequential(*modules)


class MLPModel(TabularModel):
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_network", None)  # rebuilt from state_ on first use
        return state

    def fit(self, data: TrialData, resources: WorkerResources, reporter: Reporter, seed: int) -> MLPModel:
        import torch

        from workbench.search.families._mlp import torch_device
        from workbench.search.families._reporting import ValidReporter
        from workbench.search.families._spaces import MAX_EPOCHS, MAX_STEPS, MIN_EPOCHS, PATIENCE_EPOCHS

        self._begin(data)
        self.prep_ = DensePrep().fit(data.X_train)
        torch.set_num_threads(thread_count(resources, data.X_train))
        torch.manual_seed(seed)
        device = torch.device(torch_device(resources))
        classification = data.problem_type != "regression"
        p = self.params
        self.y_mean_, self.y_scale_ = 0.0, 1.0
        if classification:
            y_train = torch.as_tensor(label_codes(data.y_train, data.classes or ()), device=device)
            y_valid = torch.as_tensor(label_codes(data.y_valid, data.classes or ()), device=device)
            loss_fn: torch.nn.Module = torch.nn.CrossEntropyLoss()
        else:
            target = data.y_train.astype(np.float64)
            self.y_mean_, self.y_scale_ = float(target.mean()), float(target.std() or 1.0)
            y_train = torch.as_tensor((target - self.y_mean_) / self.y_scale_, dtype=torch.float32, device=device)
            y_valid_np = (data.y_valid.astype(np.float64) - self.y_mean_) / self.y_scale_
            y_valid = torch.as_tensor(y_valid_np, dtype=torch.float32, device=device)
            loss_fn = torch.nn.MSELoss()
        X_train = self._tensor(data.X_train, device)
        X_valid = self._tensor(data.X_valid, device)
        self.architecture_: dict[str, Any] = {
            "n_in": self.prep_.n_features_,
            "hidden": int(p["hidden"]),
            "layers": int(p["layers"]),
            "dropout": float(p["dropout"]),
            "n_out": self.n_classes_ if classification else 1,
        }
        network = _network(**self.architecture_).to(device)
        optimizer = torch.optim.AdamW(
            network.parameters(), lr=float(p["learning_rate"]), weight_decay=float(p["weight_decay"])
        )
        generator = torch.Generator().manual_seed(seed)
        batch_size = int(p["batch_size"])
        steps_per_epoch = -(-len(X_train) // batch_size)
        max_epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, MAX_STEPS // steps_per_epoch))
        monitor = ValidReporter(reporter, data, every=1)
        best_loss, best_state, stale = float("inf"), self._weights(network), 0
        self.epochs_ = 0
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
            self.epochs_ = epoch
            if valid_loss < best_loss - 1e-6:
                best_loss, best_state, stale = valid_loss, self._weights(network), 0
            else:
                stale += 1
            monitor.report(epoch, self._to_prediction(output.cpu().numpy()))
            if stale >= PATIENCE_EPOCHS:
                break
        self.state_ = best_state
        return self

    def _tensor(self, X: pd.DataFrame, device: Any) -> torch.Tensor:
        import torch

        return torch.as_tensor(np.array(self.prep_.transform(X), dtype=np.float32), device=device)

    @staticmethod
    def _weights(network: torch.nn.Module) -> dict[str, np.ndarray]:
        return {name: value.detach().cpu().numpy().copy() for name, value in network.state_dict().items()}

    def _to_prediction(self, output: np.ndarray) -> np.ndarray:
        output = np.asarray(output, dtype=np.float64)
        if self.problem_type == "regression":
            return output[:, 0] * self.y_scale_ + self.y_mean_
        shifted = np.exp(output - output.max(axis=1, keepdims=True))
        return expand_proba(shifted / shifted.sum(axis=1, keepdims=True), range(self.n_classes_), self.n_classes_)

    def _module(self) -> torch.nn.Sequential:
        network: torch.nn.Sequential | None = self.__dict__.get("_network")
        if network is None:
            import torch

            network = _network(**self.architecture_)
            network.load_state_dict({name: torch.as_tensor(value) for name, value in self.state_.items()})
            network.eval()
            self._network = network
        return network

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        import torch

        network = self._module()
        with torch.inference_mode():
            output = network(torch.as_tensor(np.array(self.prep_.transform(X), dtype=np.float32)))
        return self._to_prediction(output.numpy())
