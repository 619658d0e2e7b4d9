"""API-key authentication as an ASGI middleware: `Authorization: Bearer KEY` or `X-API-Key: KEY`."""

from __future__ import annotations

import hmac

from workbench.serve._asgi import ASGIApp, Receive, Scope, Send, send_json

__all__ = ["OPEN_PATHS", "ApiKeyMiddleware"]

# Probes and the API description stay open; everything else needs the key.
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/openapi.json", "/docs"})


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    def _authorised(self, scope: Scope) -> bool:
        supplied = b""
        for name, value in scope.get("headers", []):
            if name == b"x-api-key":
                supplied = value.strip()
            elif name == b"authorization" and value[:7].lower() == b"bearer ":
                supplied = value[7:].strip()
        return hmac.compare_digest(supplied, self.key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        await send_json(send, 401, {"error": "A valid API key is required."}, [(b"www-authenticate", b"Bearer")])
