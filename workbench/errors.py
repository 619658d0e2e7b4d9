"""User-facing errors.

Every `WorkbenchError` carries one sentence that says what is wrong and how to fix it. Front ends print
that sentence without a traceback (the CLI exits with code 2); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = [
    "DataFormatError",
    "FileTooLargeError",
    "InvalidInputError",
    "NotFoundError",
    "StoreError",
    "UnsafePathError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """A problem with the user's input or environment, explained in one sentence."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidInputError(WorkbenchError, ValueError):
    """An argument, column or option that cannot be used as given."""


class NotFoundError(WorkbenchError, LookupError):
    """A dataset, experiment, file or artifact that does not exist."""


class UnsafePathError(InvalidInputError):
    """A path or name that would reach outside the folders the workbench may read or write."""


class FileTooLargeError(InvalidInputError):
    """A file over the configured size cap, refused before parsing."""


class DataFormatError(InvalidInputError):
    """A file or query result that cannot be read as a table."""


class StoreError(WorkbenchError):
    """The workspace store cannot be opened or written."""
