"""A module-level app factory for `uvicorn --factory` (CLI workers, contract checks, tests).

The source and settings travel in environment variables; the API key itself never does: only the name of
the variable that holds it.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.model import ModelSource
from workbench.serve._app import ServeSettings, create_app

__all__ = ["ENV_API_KEY_VAR", "ENV_SETTINGS", "ENV_SOURCE", "create_app_from_env", "factory_env"]

ENV_SOURCE = "WORKBENCH_SERVE_SOURCE"  # JSON: {"registry": home, "ref": ref} or {"pickle": path}
ENV_SETTINGS = "WORKBENCH_SERVE_SETTINGS"  # JSON: ServeSettings fields, api_key excluded
ENV_API_KEY_VAR = "WORKBENCH_SERVE_API_KEY_ENV"  # the name of the variable holding the API key


def factory_env(source: dict[str, str], settings: ServeSettings, api_key_env: str | None) -> dict[str, str]:
    fields = {k: v for k, v in asdict(settings).items() if k != "api_key"}
    env = {ENV_SOURCE: json.dumps(source), ENV_SETTINGS: json.dumps(fields)}
    if api_key_env:
        env[ENV_API_KEY_VAR] = api_key_env
    return env


def _source(spec: dict[str, str]) -> ModelSource:
    if "pickle" in spec:
        source: ModelSource = pickle.loads(Path(spec["pickle"]).read_bytes())
        return source
    from workbench.registry import RegistrySource  # type: ignore[attr-defined,unused-ignore]

    registry_source: ModelSource = RegistrySource(Path(spec["registry"]), spec["ref"])
    return registry_source


def create_app_from_env() -> Any:
    from pydantic.warnings import UnsupportedFieldAttributeWarning

    # pydantic's false positive on the alias FastAPI gives every path parameter (pydantic/pydantic#12356),
    # printed with some hash seeds when a route is built on its first request; the alias is applied
    warnings.filterwarnings(
        "ignore", message="The 'alias' attribute with value", category=UnsupportedFieldAttributeWarning
    )
    fields = json.loads(os.environ.get(ENV_SETTINGS, "{}"))
    key_var = os.environ.get(ENV_API_KEY_VAR)
    api_key = os.environ.get(key_var) if key_var else None
    if key_var and not api_key:
        raise SystemExit(f"the API key variable {key_var} is empty or unset")
    if "allowed_hosts" in fields:  # a list in JSON
        fields["allowed_hosts"] = tuple(fields["allowed_hosts"])
    settings = ServeSettings(**{**fields, "api_key": api_key})
    return create_app(_source(json.loads(os.environ[ENV_SOURCE])), settings)
