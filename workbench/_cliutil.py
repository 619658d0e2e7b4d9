"""What every command group of the CLI shares: user errors as one sentence, JSON output, the --json flag."""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from workbench.errors import WorkbenchError

__all__ = ["JSON_OPTION", "print_json", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON with stable keys.")


def user_errors(func: F) -> F:
    """Turn a WorkbenchError into one sentence on stderr and exit code 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WorkbenchError as exc:
            Console(stderr=True, soft_wrap=True).print(f"[bold red]Error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(value: Any) -> None:
    """Stable keys (sorted), NaN and infinities as null."""
    sys.stdout.write(json.dumps(_json_safe(value), indent=2, sort_keys=True, default=str) + "\n")
