"""A fake upstream /metrics server whose misbehaviour a test switches at run time.

A real HTTP server (the standard library's threading server on 127.0.0.1, port chosen by the OS,
HTTP/1.1 with keep-alive like uvicorn behind vLLM), so the client under test meets real sockets,
real framing and real timeouts, not a mocked transport:

    with fake_upstream(capture) as upstream:
        ...                              # GET upstream.url answers the capture
        upstream.hang(5.0)               # answer only after 5 s
        upstream.status(500)             # answer HTTP 500
        upstream.truncate(capture)       # declare the full Content-Length, send half, hang up
        upstream.oversized(1 << 20)      # a valid exposition of more than 1 MiB
        upstream.invalid_utf8(capture)   # the capture with bytes that are not UTF-8
        upstream.serve(capture)          # healthy again

Every request reads the behaviour set at the moment it arrived. Switching the behaviour (or
closing) releases requests still hanging: they are dropped without an answer, so a test never
waits for a hang it has moved past. Closing also cuts every open connection and joins every
handler thread, so nothing outlives the `with` block.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "EXPOSITION_CONTENT_TYPE",
    "HANDLER_THREAD_NAME",
    "Behaviour",
    "FakeUpstream",
    "fake_upstream",
    "unused_port",
]

EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HANDLER_THREAD_NAME = "fake-upstream-handler"
_CHUNK = 16 * 1024


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the next requests are answered."""

    status: int = 200
    body: bytes = b""
    content_type: str = EXPOSITION_CONTENT_TYPE
    delay: float = 0.0  # seconds to wait before answering
    cut_after: int | None = None  # send only this many body bytes, then close the connection
    chunked: bool = False  # Transfer-Encoding: chunked instead of a Content-Length
    raw: bytes | None = None  # send these bytes instead of an HTTP response, then close


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are tracked and joined by server_close()
    block_on_close = True

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timed out, closed) is the normal case here, not a failure.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-vllm"
    sys_version = ""
    timeout = 10.0  # an idle keep-alive connection is dropped after this long
    server: _Server

    def setup(self) -> None:
        threading.current_thread().name = HANDLER_THREAD_NAME  # so a leak check can tell them apart
        super().setup()
        self.server.upstream._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.upstream._closed(self.connection)

    def do_GET(self) -> None:
        behaviour, released = self.server.upstream._begin()
        if behaviour.delay > 0 and released.wait(behaviour.delay):
            self.close_connection = True  # the test moved on: drop this request unanswered
            return
        try:
            self._answer(behaviour)
        except OSError:  # the client gave up first (a timeout on its side)
            self.close_connection = True

    def _answer(self, b: Behaviour) -> None:
        if b.raw is not None:
            self.wfile.write(b.raw)
            self.close_connection = True
            return
        self.send_response(b.status)
        self.send_header("Content-Type", b.content_type)
        if b.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            # With cut_after this still declares the whole body: what a server dying mid-write sends.
            self.send_header("Content-Length", str(len(b.body)))
        self.end_headers()
        if b.cut_after is not None:
            self.wfile.write(b.body[: b.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        if not b.chunked:
            self.wfile.write(b.body)
            return
        for start in range(0, len(b.body), _CHUNK):
            chunk = b.body[start : start + _CHUNK]
            self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeUpstream:
    """A running fake upstream; use `fake_upstream()` so it is always closed."""

    def __init__(self, body: bytes | str = b"") -> None:
        self._lock = threading.Lock()
        self._behaviour = Behaviour(body=_bytes(body))
        self._released = threading.Event()
        self._connections: set[socket.socket] = set()
        self._requests = 0
        self._closed_flag = False
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-upstream", daemon=True
        )
        self._thread.start()

    # -- what a test switches -------------------------------------------------------------------

    def set(self, behaviour: Behaviour) -> None:
        """Answer every later request this way; requests still hanging are dropped."""
        with self._lock:
            self._behaviour = behaviour
            self._released.set()
            self._released = threading.Event()

    def serve(self, body: bytes | str, *, chunked: bool = False, content_type: str = EXPOSITION_CONTENT_TYPE) -> None:
        """Answer 200 with `body` (Content-Length exact, or chunked framing)."""
        self.set(Behaviour(body=_bytes(body), chunked=chunked, content_type=content_type))

    def status(self, code: int, body: bytes | str = b"") -> None:
        """Answer HTTP `code` (with a short plain-text body unless one is given)."""
        payload = _bytes(body) or f"fake upstream says {code}\n".encode()
        self.set(Behaviour(status=code, body=payload, content_type="text/plain"))

    def hang(self, seconds: float, body: bytes | str | None = None) -> None:
        """Wait `seconds` before answering 200 with `body` (default: the body served so far)."""
        with self._lock:
            current = self._behaviour.body
        self.set(Behaviour(body=current if body is None else _bytes(body), delay=seconds))

    def truncate(self, body: bytes | str, *, send: int | None = None) -> None:
        """Declare `len(body)` as Content-Length, send only `send` bytes (default: half), hang up."""
        data = _bytes(body)
        cut = len(data) // 2 if send is None else send
        if not 0 <= cut < len(data):
            raise ValueError(f"send={cut} must be below the body length {len(data)}")
        self.set(Behaviour(body=data, cut_after=cut))

    def oversized(self, size: int, *, chunked: bool = False) -> None:
        """Answer a valid exposition of more than `size` bytes (comment padding after one gauge)."""
        head = b"# TYPE fake_padding gauge\nfake_padding 1\n"
        line = b"# " + b"x" * 77 + b"\n"
        body = head + line * (max(0, size - len(head)) // len(line) + 1)
        assert len(body) > size
        self.set(Behaviour(body=body, chunked=chunked))

    def invalid_utf8(self, body: bytes | str = b"", *, chunked: bool = False) -> None:
        """Answer `body` with a comment line of bytes that are not UTF-8 put in front of it."""
        self.set(Behaviour(body=b"# caf\xe9 \xff\xfe latin-1 and stray bytes\n" + _bytes(body), chunked=chunked))

    def garbage(self, data: bytes = b"SSH-2.0-OpenSSH_9.6\r\n") -> None:
        """Answer with bytes that are not an HTTP response at all, then close."""
        self.set(Behaviour(raw=data))

    @property
    def behaviour(self) -> Behaviour:
        with self._lock:
            return self._behaviour

    @property
    def requests(self) -> int:
        """GET requests received so far."""
        with self._lock:
            return self._requests

    # -- life cycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening, release hanging requests, cut open connections, join every thread."""
        with self._lock:
            if self._closed_flag:
                return
            self._closed_flag = True
            self._released.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the handler threads (block_on_close)
        self._thread.join()

    def __enter__(self) -> FakeUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the handler --------------------------------------------------------------------

    def _begin(self) -> tuple[Behaviour, threading.Event]:
        with self._lock:
            self._requests += 1
            return self._behaviour, self._released

    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
            closing = self._closed_flag
        if closing:  # accepted just before close(): cut it like the others
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)


@contextmanager
def fake_upstream(body: bytes | str = b"") -> Iterator[FakeUpstream]:
    """A running `FakeUpstream` serving `body`, closed (threads joined) on exit."""
    upstream = FakeUpstream(body)
    try:
        yield upstream
    finally:
        upstream.close()


@contextmanager
def unused_port() -> Iterator[int]:
    """A local port where nothing listens: bound (so no one else takes it) but not listening, so
    a connection attempt is refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()
