"""Body-size, body-time and in-flight limits as one ASGI middleware, applied before any route reads a byte.

A request counts as in flight only once its whole body is in: a client that sends headers and then a byte
a second holds no inference slot, and is cut off when its body has not arrived within `body_timeout_s`.
One client (by address) may hold at most `client_share` of the slots while others wait.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from workbench.serve._asgi import ASGIApp, Message, Receive, Scope, Send, send_json
from workbench.serve._metrics import Metrics

__all__ = ["UNLIMITED_PATHS", "BodyTooLarge", "LimitsMiddleware"]

# Health and metrics answer even under overload, so probes and scrapers see the truth.
UNLIMITED_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/metrics"})

# What a browser may send cross-site without asking first (a CORS "simple request"): never JSON, so a web
# page cannot post to a loopback server's JSON routes behind the user's back.
FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data", b"text/plain")
_CLOSE = [(b"connection", b"close")]


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes the limit; this middleware turns it into a 413."""


class _Disconnected(Exception):
    pass


class LimitsMiddleware:
    """413 for bodies over `max_body_bytes` (counted on the bytes received, so chunked uploads too); 408 for
    a body not in after `body_timeout_s`; 415 for form and text bodies; 400 for a body framed both by
    Content-Length and Transfer-Encoding; 503 with Retry-After at once when `max_in_flight` requests (or
    this client's share of them) are already running. Refusals before the body is read close the
    connection, so an unread body is never taken for the next request."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_in_flight: int,
        metrics: Metrics,
        body_timeout_s: float = 30.0,
        client_share: float = 0.75,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.per_client = max(1, int(max_in_flight * client_share))
        self.body_timeout_s = body_timeout_s
        self.metrics = metrics
        self.in_flight = 0
        self.by_client: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        content_type = b""
        lengths = encodings = 0
        for name, value in scope.get("headers", []):
            if name == b"transfer-encoding":
                encodings += 1
            elif name == b"content-length":
                lengths += 1
                try:
                    declared = int(value)
                except ValueError:
                    await send_json(send, 400, {"error": "Content-Length is not a number."}, _CLOSE)
                    return
                if declared > limit:
                    await send_json(send, 413, {"error": f"The body is larger than {limit} bytes."}, _CLOSE)
                    return
            elif name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
        if encodings and lengths:
            # Two framings of one body are how requests are smuggled past proxies: refused, and the
            # connection closed (RFC 9112, 6.1), so nothing after this request is read as another one.
            error = "Send Content-Length or Transfer-Encoding, not both."
            await send_json(send, 400, {"error": error}, _CLOSE)
            return
        if content_type in FORM_TYPES:
            await send_json(send, 415, {"error": "Send the body as JSON (Content-Type: application/json)."}, _CLOSE)
            return
        if scope["path"] in UNLIMITED_PATHS:
            await self._run(scope, receive, send, limit)
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            try:
                async with asyncio.timeout(self.body_timeout_s):  # a timer, not a task: cheap per request
                    body = await self._read_body(receive, limit)
            except TimeoutError:
                self.metrics.rejected_slow_body += 1
                error = f"The body did not arrive within {self.body_timeout_s:g} s."
                await send_json(send, 408, {"error": error}, _CLOSE)
                return
            except BodyTooLarge:
                await send_json(send, 413, {"error": f"The body is larger than {limit} bytes."}, _CLOSE)
                return
            except _Disconnected:
                return
            receive = _replay(body, receive)
        client = str((scope.get("client") or ("unknown",))[0])
        if self.in_flight >= self.max_in_flight or (
            self.by_client[client] >= self.per_client and self.in_flight > self.by_client[client]
        ):
            self.metrics.rejected_overload += 1
            await send_json(send, 503, {"error": "The server is busy; retry shortly."}, [(b"retry-after", b"1")])
            return
        self.in_flight += 1
        self.by_client[client] += 1
        self.metrics.in_flight = self.in_flight
        try:
            await self._run(scope, receive, send, limit)
        finally:
            self.in_flight -= 1
            self.by_client[client] -= 1
            if not self.by_client[client]:
                del self.by_client[client]
            self.metrics.in_flight = self.in_flight

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _run(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await send_json(send, 413, {"error": f"The body is larger than {limit} bytes."}, _CLOSE)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then waits on the connection (for its disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
