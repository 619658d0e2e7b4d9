"""Serving one model over HTTP: Open Inference Protocol v2, MLflow scoring, records, metrics; the contract
check a version passes before an alias moves to it; batch scoring of files on a Dask cluster.

FastAPI and uvicorn are imported on first use, so `workbench` commands that do not serve start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._lazy import lazy_getattr

if TYPE_CHECKING:
    from workbench.serve._app import FAST_PATH_ENV, ServeSettings, create_app
    from workbench.serve._batch import BatchInputError, BatchPlan, BatchPrediction, plan_batch, score_file
    from workbench.serve._contract import ContractReport, contract_check, free_port
    from workbench.serve._hosts import LOOPBACK_HOSTS, allowed_hosts_for
    from workbench.serve._promote import ContractFailedError, promote
    from workbench.serve._run import serve_registered

__all__ = [
    "FAST_PATH_ENV",
    "LOOPBACK_HOSTS",
    "BatchInputError",
    "BatchPlan",
    "BatchPrediction",
    "ContractFailedError",
    "ContractReport",
    "ServeSettings",
    "allowed_hosts_for",
    "contract_check",
    "create_app",
    "free_port",
    "plan_batch",
    "promote",
    "score_file",
    "serve_registered",
]

_HOMES = {
    "FAST_PATH_ENV": "_app",
    "ServeSettings": "_app",
    "create_app": "_app",
    "BatchInputError": "_batch",
    "BatchPlan": "_batch",
    "BatchPrediction": "_batch",
    "plan_batch": "_batch",
    "score_file": "_batch",
    "ContractReport": "_contract",
    "contract_check": "_contract",
    "free_port": "_contract",
    "LOOPBACK_HOSTS": "_hosts",
    "allowed_hosts_for": "_hosts",
    "ContractFailedError": "_promote",
    "promote": "_promote",
    "serve_registered": "_run",
}


__getattr__ = lazy_getattr(globals(), _HOMES)
