"""OIP v2's binary tensor data extension (Triton, KServe): a JSON header, then the tensors' raw bytes.

A request's header length is in its Inference-Header-Content-Length HTTP header; each binary input has
parameters.binary_data_size, and the inputs' bytes follow the header in input order. Elements are
little-endian and row-major; a BOOL is one byte, 0 or 1; a BYTES element is its length (4 bytes,
little-endian, unsigned) followed by its bytes. A response carries binary outputs the same way.

Every problem with the framing is a 400 in one sentence, built from the schema or the tensor's position, never
from the bytes sent.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from workbench.serve._errors import RequestError

__all__ = [
    "BINARY_NEEDS_HEADER",
    "HEADER",
    "NOT_BINARY_ROUTE",
    "OCTET_STREAM",
    "decode",
    "encode",
    "is_octet_stream",
    "parse_header_length",
    "split",
]

HEADER = b"inference-header-content-length"
OCTET_STREAM = b"application/octet-stream"
BINARY_NEEDS_HEADER = (
    "Binary tensor data needs an Inference-Header-Content-Length header; otherwise send the body as JSON "
    "(Content-Type: application/json)."
)
NOT_BINARY_ROUTE = (
    "Binary tensor data is taken only by the OIP v2 inference routes; send this body as JSON "
    "(Content-Type: application/json)."
)

_LENGTH = struct.Struct("<I")
_NUMPY: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in {
        "BOOL": "u1",
        "INT8": "i1",
        "INT16": "<i2",
        "INT32": "<i4",
        "INT64": "<i8",
        "UINT8": "u1",
        "UINT16": "<u2",
        "UINT32": "<u4",
        "UINT64": "<u8",
        "FP16": "<f2",
        "FP32": "<f4",
        "FP64": "<f8",
    }.items()
}


def is_octet_stream(content_type: bytes) -> bool:
    """Whether a Content-Type value names application/octet-stream (parameters and case aside)."""
    if content_type in (b"", b"application/json"):  # the common answers, without parsing
        return False
    return content_type.split(b";", 1)[0].strip().lower() == OCTET_STREAM


def parse_header_length(value: bytes) -> int:
    """The Inference-Header-Content-Length value as a byte count; anything but decimal digits is a 400."""
    if not value.isdigit() or len(value) > 15:
        raise RequestError(400, "Inference-Header-Content-Length must be a byte count in decimal digits.")
    return int(value)


def split(body: bytes, length: int) -> tuple[bytes, memoryview]:
    """The JSON header and the binary data after it."""
    if length > len(body):
        raise RequestError(400, "Inference-Header-Content-Length is larger than the body.")
    return body[:length], memoryview(body)[length:]


def decode(datatype: str, raw: memoryview, n: int, label: str) -> list[Any]:
    """`n` elements of `datatype` that fill `raw` exactly, as Python values (what JSON data would give)."""
    if datatype == "BYTES":
        return _strings(raw, n, label)
    dtype = _NUMPY.get(datatype)
    if dtype is None:
        raise RequestError(400, f"{label} has a datatype without a binary form; use {', '.join(_NUMPY)} or BYTES.")
    if len(raw) != n * dtype.itemsize:
        raise RequestError(400, f"{label}: binary_data_size does not match its shape and datatype.")
    values = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL":
        if n and int(values.max()) > 1:
            raise RequestError(400, f"{label} is BOOL: each element is one byte, 0 or 1.")
        flags: list[Any] = values.astype(bool).tolist()
        return flags
    result: list[Any] = values.tolist()
    return result


def _strings(raw: memoryview, n: int, label: str) -> list[str]:
    out: list[str] = []
    pos, end = 0, len(raw)
    for _ in range(n):  # every element takes at least 4 bytes: bounded by the body whatever n says
        if end - pos < 4:
            break
        (size,) = _LENGTH.unpack_from(raw, pos)
        pos += 4
        if size > end - pos:
            break
        try:
            out.append(str(raw[pos : pos + size], "utf-8"))
        except UnicodeDecodeError:
            raise RequestError(400, f"{label} holds BYTES elements that are not valid UTF-8.") from None
        pos += size
    if len(out) != n or pos != end:
        raise RequestError(
            400, f"{label}: its BYTES elements (a 4-byte length, then the bytes) do not fill binary_data_size."
        )
    return out


def encode(datatype: str, values: Any) -> bytes:
    """An output's values in binary: FP64 from a float array or list, BYTES from a list of labels."""
    if datatype != "BYTES":
        data: bytes = np.ascontiguousarray(values, dtype=_NUMPY[datatype]).tobytes()
        return data
    parts = []
    for value in values:
        item = (value if isinstance(value, str) else json.dumps(value)).encode()
        parts.append(_LENGTH.pack(len(item)))
        parts.append(item)
    return b"".join(parts)
