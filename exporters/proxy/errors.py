"""The proxy's own answers (limits, upstream failures), in the OpenAI error shape clients parse."""

from __future__ import annotations

import json

from starlette.types import Send


class StreamAborted(Exception):
    """Raised out of the ASGI app to make uvicorn drop the client connection after the response
    started (the upstream broke mid-stream, or the client stopped reading): the client must see an
    incomplete response, not a clean end. The log filter in `protocol` keeps this out of the logs."""


def error_body(status: int, message: str, kind: str) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": kind, "param": None, "code": status}}, separators=(",", ":")
    ).encode()


async def send_error(send: Send, status: int, message: str, kind: str, *, close: bool = False) -> None:
    body = error_body(status, message, kind)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
