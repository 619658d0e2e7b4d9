"""Serving one model over HTTP: Open Inference Protocol v2, MLflow scoring, records, metrics.

FastAPI is imported on first use, so `workbench` commands that do not serve start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.serve._app import ServeSettings, create_app
    from workbench.serve._contract import ContractReport, contract_check

__all__ = ["ContractReport", "ServeSettings", "contract_check", "create_app"]


def __getattr__(name: str) -> Any:
    if name in ("ServeSettings", "create_app"):
        from workbench.serve import _app

        return getattr(_app, name)
    if name in ("ContractReport", "contract_check"):
        from workbench.serve import _contract

        return getattr(_contract, name)
    raise AttributeError(name)
