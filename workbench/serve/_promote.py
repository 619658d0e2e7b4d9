"""Promotion: an alias moves to a version only after a real server of that version passed its contract."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError
from workbench.serve._contract import ContractReport, contract_check

if TYPE_CHECKING:
    from workbench.registry import Registry, VersionInfo

__all__ = ["ContractFailedError", "promote"]


class ContractFailedError(WorkbenchError):
    """The served version answered differently from the in-process model."""


def promote(
    registry: Registry, name: str, version: int, alias: str, check: bool = True
) -> tuple[VersionInfo, ContractReport | None]:
    """Run the contract check on `name@version` (unless `check=False`), store its p50/p99 latencies with the
    version, then move `alias` to it. Returns the version info and the report."""
    from workbench.registry import RegistrySource

    registry.info(name, version)
    report = None
    if check:
        source = RegistrySource(registry.workspace.settings.home, f"{name}@{version}")
        report = contract_check(source, source.load())
        if not report.passed:
            first = report.mismatches[0] if report.mismatches else "unknown difference"
            raise ContractFailedError(
                f"{name}@{version} failed its contract check ({first}; {len(report.mismatches)} in all); "
                f"the alias {alias!r} was not moved."
            )
        registry.record_metrics(name, version, {"serving_latency_ms": report.latency_ms})
    return registry.set_alias(name, alias, version), report
