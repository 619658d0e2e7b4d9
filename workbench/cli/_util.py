"""What every command group shares: user errors as one sentence, JSON output, the --json flag."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from workbench.errors import InvalidInputError, WorkbenchError

__all__ = ["JSON_OPTION", "console", "error_console", "parse_id", "print_json", "split_list", "styled", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON with stable keys.")

# No console markup: user data (names, columns, messages) is printed as it is, so "[/x]" cannot break a
# line and "[link=...]" cannot hide a link. Styles are given as values (`styled`, `style=`), never as markup.
console = Console(markup=False)


def error_console() -> Console:
    return Console(stderr=True, soft_wrap=True, markup=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text from plain pieces and (text, style) pairs: e.g. styled("Registered ", (name, "bold"), ".")."""
    return Text.assemble(*parts)


def user_errors(func: F) -> F:
    """Turn a WorkbenchError into one sentence on stderr and exit code 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WorkbenchError as exc:
            error_console().print(styled(("Error:", "bold red"), " ", exc.message), highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def print_json(value: Any) -> None:
    """Stable keys (sorted). Values come from the API's `to_dict()`, already plain JSON."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def parse_id(text: str, what: str = "experiment") -> int:
    if not text.strip().isdigit():
        raise InvalidInputError(f"{text!r} is not an {what} id; ids are numbers.")
    return int(text)


def split_list(text: str | None) -> tuple[str, ...] | None:
    """ "a, b" -> ("a", "b"); None stays None."""
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


CV_FOLDS_HELP = (
    "Score candidates by K-fold cross-validation over the train and valid rows (fold 1 is the valid rows), "
    "1 for the valid rows only, or auto: from the row count and the time limit."
)


def parse_cv_folds(text: str) -> int | None:
    """`--cv-folds`: "auto" (None: chosen when the experiment is created) or a whole number."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"--cv-folds must be auto or a whole number such as 4 or 1, not {text!r}.") from None
