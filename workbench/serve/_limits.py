"""Body-size and in-flight limits as one ASGI middleware, applied before any route reads a byte."""

from __future__ import annotations

from workbench.serve._asgi import ASGIApp, Message, Receive, Scope, Send, send_json
from workbench.serve._metrics import Metrics

__all__ = ["UNLIMITED_PATHS", "BodyTooLarge", "LimitsMiddleware"]

# Health and metrics answer even under overload, so probes and scrapers see the truth.
UNLIMITED_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/metrics"})


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes the limit; this middleware turns it into a 413."""


class LimitsMiddleware:
    """413 for bodies over `max_body_bytes` (counted on the bytes received, so chunked uploads too);
    503 with Retry-After at once when `max_in_flight` requests are already running."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_in_flight: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.metrics = metrics
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_json(send, 400, {"error": "Content-Length is not a number."})
                    return
                if declared > limit:
                    await send_json(send, 413, {"error": f"The body is larger than {limit} bytes."})
                    return
        counted = scope["path"] not in UNLIMITED_PATHS
        if counted and self.in_flight >= self.max_in_flight:
            self.metrics.rejected_overload += 1
            await send_json(send, 503, {"error": "The server is busy; retry shortly."}, [(b"retry-after", b"1")])
            return
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

        if counted:
            self.in_flight += 1
            self.metrics.in_flight = self.in_flight
        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await send_json(send, 413, {"error": f"The body is larger than {limit} bytes."})
        finally:
            if counted:
                self.in_flight -= 1
                self.metrics.in_flight = self.in_flight
