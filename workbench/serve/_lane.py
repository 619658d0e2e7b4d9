"""The inference lane: inference POSTs go straight to their handlers, everything else to FastAPI.

FastAPI's routing, dependency solving and response classes cost about 250 µs a request on this machine,
more than a served row's parsing, validation and prediction together. The inference routes read their
bodies themselves and answer bytes, so nothing of that machinery is needed for them; the FastAPI routes
with the same paths stay, and describe these endpoints in the OpenAPI document.

Bodies are JSON, except on the OIP inference routes, which also take binary tensor data (a JSON header of
Inference-Header-Content-Length bytes, then the tensors; see `_binary`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from workbench.serve._asgi import ASGIApp, Receive, Scope, Send, send_json
from workbench.serve._binary import HEADER, NOT_BINARY_ROUTE, OCTET_STREAM, is_octet_stream
from workbench.serve._errors import RequestError
from workbench.serve._limits import BodyTooLarge
from workbench.serve._metrics import Metrics
from workbench.serve._mlflow import invocations_body, predict_body
from workbench.serve._oip import check_model, infer_body, infer_handler
from workbench.serve._state import ModelHolder, Prepared, run_request

__all__ = ["InferenceLane"]

log = logging.getLogger("workbench.serve")

Handler = Callable[[Prepared, bytes, int], bytes]

_JSON_TYPES = frozenset({b"", b"application/json"})  # Content-Type values that need no parsing
_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


@dataclass(frozen=True)
class _Route:
    """What the metrics middleware reads from `scope["route"]`: the route's path template."""

    path: str


_RECORDS: dict[str, tuple[Handler, _Route]] = {
    "/predict": (predict_body, _Route("/predict")),
    "/invocations": (invocations_body, _Route("/invocations")),
}
_INFER_ROUTE = _Route("/v2/models/{name}/infer")
_INFER_VERSION_ROUTE = _Route("/v2/models/{name}/versions/{version}/infer")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _framing(scope: Scope) -> tuple[bytes, bytes | None]:
    """The request's Content-Type and Inference-Header-Content-Length values (None: not sent)."""
    content_type = b""
    binary: bytes | None = None
    for key, value in scope["headers"]:
        if key == b"content-type":
            content_type = value
        elif key == HEADER:
            if binary is not None:
                raise RequestError(400, "Send one Inference-Header-Content-Length header.")
            binary = value
        elif key == b"content-encoding" and value.strip().lower() != b"identity":
            # tritonclient can gzip a request; read as is, it would fail as JSON with a misleading message.
            raise RequestError(415, "Compressed request bodies are not supported; send the body uncompressed.")
    return content_type, binary


class InferenceLane:
    """Innermost middleware: answers POSTs to the inference paths; passes every other request on."""

    def __init__(self, app: ASGIApp, holder: ModelHolder, max_depth: int, metrics: Metrics) -> None:
        self.app = app
        self.holder = holder
        self.max_depth = max_depth
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        records: Handler | None = None
        name: str | None = None
        version: str | None = None
        if path in _RECORDS:
            records, route = _RECORDS[path]
        else:
            match = _INFER.fullmatch(path)
            if match is None:
                await self.app(scope, receive, send)
                return
            name, version = match[1], match[2]
            route = _INFER_ROUTE if version is None else _INFER_VERSION_ROUTE
        scope["route"] = route
        json_length: int | None = None
        try:
            content_type, binary = _framing(scope)
            plain = binary is None and content_type in _JSON_TYPES  # a JSON body, as nearly every request
            if records is not None:
                if not plain and (binary is not None or is_octet_stream(content_type)):
                    raise RequestError(415, NOT_BINARY_ROUTE)
                prepared = self.holder.require()
                body = await _read_body(receive)
                content = await run_request(prepared, records, body, self.max_depth)
            else:
                infer = infer_body if plain else infer_handler(content_type, binary)
                prepared = self.holder.require()
                check_model(prepared, name or "", version)
                body = await _read_body(receive)
                content, json_length = await run_request(prepared, infer, body, self.max_depth)
        except RequestError as exc:
            headers = [(b"retry-after", b"1")] if exc.status == 503 else None
            await send_json(send, exc.status, {"error": exc.message}, headers)
            return
        except ConnectionResetError:
            return
        except BodyTooLarge:  # the limits middleware answers 413
            raise
        except Exception as exc:
            self.metrics.unhandled_errors += 1
            log.error("unhandled error on POST %s", path, exc_info=exc)
            await send_json(send, 500, {"error": "Internal server error."})
            return
        length = (b"content-length", str(len(content)).encode())
        if json_length is None:
            headers = [(b"content-type", b"application/json"), length]
        else:  # binary outputs after a JSON header of json_length bytes, as Triton answers them
            headers = [(b"content-type", OCTET_STREAM), (HEADER, str(json_length).encode()), length]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})
