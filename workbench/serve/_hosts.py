"""A Host allow-list as an ASGI middleware: a web page the user opens cannot reach a loopback server by
pointing a name of its own at 127.0.0.1 (DNS rebinding), because the browser then sends that name."""

from __future__ import annotations

from collections.abc import Iterable

from workbench.serve._asgi import ASGIApp, Receive, Scope, Send, send_json
from workbench.serve._metrics import Metrics

__all__ = ["LOOPBACK_HOSTS", "HostMiddleware", "allowed_hosts_for", "host_name"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def allowed_hosts_for(listen: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The Host names a server listening on `listen` answers: loopback's, `listen` itself and `extra`. On
    every interface (0.0.0.0, ::) clients name the machine as they know it, so there any name is answered
    unless `extra` lists them."""
    given = tuple(extra)
    listened: tuple[str, ...] = (listen,)
    if listen in ("0.0.0.0", "::", ""):
        listened = () if given else ("*",)
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, *listened, *given]))


def host_name(header: bytes) -> str:
    """The name in a Host header, without its port: "[::1]:8000" -> "::1", "Example:80" -> "example"."""
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class HostMiddleware:
    """400 for a request whose Host is not in `allowed` ("*" allows any); health probes included, since a
    rebinding page could read them too. The answer never repeats the Host sent."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], metrics: Metrics) -> None:
        self.app = app
        self.allowed = frozenset(h.strip().lower().strip("[]") for h in allowed)
        self.any = "*" in self.allowed
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((value for name, value in scope.get("headers", []) if name == b"host"), b"")
        if host_name(host) in self.allowed:
            await self.app(scope, receive, send)
            return
        self.metrics.rejected_host += 1
        error = "This server does not answer to that Host name; add it with --allowed-host if it is yours."
        await send_json(send, 400, {"error": error}, [(b"connection", b"close")])
