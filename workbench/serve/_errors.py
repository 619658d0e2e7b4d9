"""The one error type request handling raises: a status code and a message that never echoes the payload."""

from __future__ import annotations

__all__ = ["RequestError"]


class RequestError(Exception):
    """A client mistake: answered with `status` and `message` (written by us, never copied from the body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
