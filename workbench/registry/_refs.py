"""Model references: `name` (latest), `name@3` (a version) or `name@alias`; names and aliases are plain."""

from __future__ import annotations

import re

from workbench.errors import InvalidInputError

__all__ = ["LATEST", "check_alias", "check_model_name", "format_ref", "parse_ref", "selector_of"]

LATEST = "latest"
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _PLAIN.fullmatch(name) or ".." in name:
        raise InvalidInputError(
            f"Model name {name!r} is not a plain name; use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_alias(alias: str) -> str:
    """An alias is a plain name that is not a number (numbers are versions) and not `latest`."""
    if not isinstance(alias, str) or not _PLAIN.fullmatch(alias) or ".." in alias or alias.isdigit():
        raise InvalidInputError(
            f"Alias {alias!r} is not a plain name; use letters, digits, '_', '.' or '-', not only digits."
        )
    if alias == LATEST:
        raise InvalidInputError("'latest' always means the newest version; choose another alias.")
    return alias


def parse_ref(ref: str) -> tuple[str, int | str]:
    """(name, selector): the selector is a version number, an alias, or LATEST."""
    name, sep, selector = ref.partition("@")
    if sep and not selector:
        raise InvalidInputError(f"Model reference {ref!r} ends with '@'; use name, name@VERSION or name@ALIAS.")
    if "@" in selector:
        raise InvalidInputError(f"Model reference {ref!r} has more than one '@'; use name, name@VERSION or name@ALIAS.")
    check_model_name(name)
    if not sep or selector == LATEST:
        return name, LATEST
    if selector.isdigit():
        version = int(selector)
        if version < 1:
            raise InvalidInputError(f"Versions start at 1, not {selector!r}.")
        return name, version
    return name, check_alias(selector)


def format_ref(name: str, version: int) -> str:
    return f"{name}@{version}"


def selector_of(selector: int | str) -> int | str | None:
    """A `parse_ref` selector as the store reads it: None for the latest version."""
    return None if selector == LATEST else selector
