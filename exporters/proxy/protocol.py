"""uvicorn's httptools protocol with what a proxy facing clients needs before the app runs.

uvicorn has no limit on a request head and no timeout for receiving one: a client can keep a
connection (and a file descriptor) forever by sending a header byte now and then (slowloris), or
send megabytes of headers. This subclass answers 408 when the head has not arrived within
`head_timeout` seconds (also on a fresh connection that sends nothing) and 431 when the URL and
header fields exceed `max_head_bytes`, then closes the connection. The ASGI app still checks the
complete head (field count, exact size), so either layer alone keeps the limit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from exporters.proxy.errors import StreamAborted, error_body


class HeadTooLargeError(Exception):
    """Raised from a parser callback to stop parsing a head over the limit."""


def _response(status: int, reason: bytes, message: str, kind: str) -> bytes:
    body = error_body(status, message, kind)
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, reason, len(body))) + body


class GuardedProtocol(HttpToolsProtocol):
    head_timeout: float = 10.0
    max_head_bytes: int = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_response(408, b"Request Timeout",
                                           f"request head not received within {self.head_timeout:g} s",
                                           "request_timeout"))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.max_head_bytes:
            self._too_large = True
            raise HeadTooLargeError

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's head is timed from its first byte (on_message_begin); an idle
        # keep-alive connection is closed by uvicorn's timeout_keep_alive meanwhile.

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        if self._too_large:
            self.transport.write(_response(431, b"Request Header Fields Too Large",
                                           f"request head over {self.max_head_bytes} bytes",
                                           "request_header_fields_too_large"))
            self.transport.close()
            return
        super().send_400_response(msg)


def guarded_protocol(head_timeout: float, max_head_bytes: int) -> type[GuardedProtocol]:
    return type("GuardedProtocol", (GuardedProtocol,),
                {"head_timeout": head_timeout, "max_head_bytes": max_head_bytes})


class DropStreamAborted(logging.Filter):
    """uvicorn logs every exception out of the app with a traceback; an aborted stream is expected
    (and logged by the proxy in one line), so those records are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamAborted)
