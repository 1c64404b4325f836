"""A minimal HTTP front for a sidecar: GET /metrics and /healthz, nothing else.

The standard library's threading server accepts connections (one thread per connection, none
per request: Prometheus keeps its connection alive) and costs no CPU when idle. The request
handling itself is a small HTTP/1.1 reader rather than `BaseHTTPRequestHandler`, whose header
parsing (the email package) and per-response logging and date formatting cost more CPU than
rendering the answer: this path runs once per scrape for the sidecar's whole life.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from contextlib import suppress
from http.server import ThreadingHTTPServer

from slo.metrics.write import TEXT_CONTENT_TYPE

logger = logging.getLogger("llmslo.exporter.http")

_MAX_LINE = 65536
_MAX_HEADERS = 100
_MAX_REQUEST_BODY = 1 << 20
_REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large",
    414: "URI Too Long", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
    505: "HTTP Version Not Supported",
}


def _response(status: int, body: bytes, content_type: str, *, close: bool, head_only: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nServer: llmslo-exporter\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if status == 405:
        head += "Allow: GET\r\n"
    if close:
        head += "Connection: close\r\n"
    data = (head + "\r\n").encode("latin-1")
    return data if head_only else data + body


class _Handler(socketserver.StreamRequestHandler):
    render: Callable[[], str]  # set on the subclass made per server

    def handle(self) -> None:
        try:
            while self._one():
                pass
        except (ConnectionError, TimeoutError):  # the scraper went away mid-request: nothing to answer
            pass

    def _one(self) -> bool:
        """Answer one request; False when the connection is to be closed."""
        rfile = self.rfile
        line = rfile.readline(_MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # stray empty lines between requests are allowed (RFC 9112)
            line = rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        if len(line) > _MAX_LINE:
            return self._send(414, b"request line too long\n", "text/plain", close=True)
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            if len(parts) == 3 and parts[2].startswith(b"HTTP/"):
                return self._send(505, b"only HTTP/1.x is served\n", "text/plain", close=True)
            return self._send(400, b"malformed request line\n", "text/plain", close=True)
        method, target, version = parts
        close = version == b"HTTP/1.0"
        length = 0
        for _ in range(_MAX_HEADERS + 1):
            header = rfile.readline(_MAX_LINE + 1)
            if not header:
                return False
            if header in (b"\r\n", b"\n"):
                break
            if len(header) > _MAX_LINE:
                return self._send(431, b"header line too long\n", "text/plain", close=True)
            name, sep, value = header.partition(b":")
            if not sep:
                return self._send(400, b"malformed header line\n", "text/plain", close=True)
            key = name.strip().lower()
            if key == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                if b"close" in tokens:
                    close = True
                elif b"keep-alive" in tokens:
                    close = False
            elif key == b"content-length":
                text = value.strip()
                if not text.isdigit():
                    return self._send(400, b"bad Content-Length\n", "text/plain", close=True)
                length = int(text)
            elif key == b"transfer-encoding":
                return self._send(400, b"request bodies are not accepted\n", "text/plain", close=True)
        else:
            return self._send(431, b"too many header lines\n", "text/plain", close=True)
        if length:
            if length > _MAX_REQUEST_BODY:
                return self._send(413, b"request body too large\n", "text/plain", close=True)
            rfile.read(length)  # a GET has no use for a body; read it so the next request parses
        path = target.split(b"?", 1)[0]
        if method != b"GET":
            return self._send(405, b"only GET is served\n", "text/plain", close=close, head_only=method == b"HEAD")
        if path == b"/metrics":
            try:
                body = type(self).render().encode("utf-8")
            except Exception:  # never answer a scrape with a dropped connection
                logger.exception("rendering /metrics failed")
                return self._send(500, b"internal error; see the exporter log\n", "text/plain", close=close)
            return self._send(200, body, TEXT_CONTENT_TYPE, close=close)
        if path in (b"/healthz", b"/livez", b"/readyz"):
            return self._send(200, b"ok\n", "text/plain", close=close)
        return self._send(404, b"not found: try /metrics\n", "text/plain", close=close)

    def _send(self, status: int, body: bytes, content_type: str, *, close: bool, head_only: bool = False) -> bool:
        self.wfile.write(_response(status, body, content_type, close=close, head_only=head_only))
        logger.debug("%s %d", self.client_address[0], status)
        return not close


class _Server(ThreadingHTTPServer):
    """Waits for connections without a polling timeout, so an idle sidecar never wakes up;
    `shutdown` wakes the wait by connecting to the server itself."""

    daemon_threads = True

    def serve_forever(self, poll_interval: float | None = None) -> None:
        super().serve_forever(poll_interval)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        waiter = threading.Thread(target=super().shutdown, name="llmslo-exporter-shutdown", daemon=True)
        waiter.start()
        host, port = self.server_address[:2]
        while waiter.is_alive():
            with suppress(OSError):
                socket.create_connection((str(host), int(port)), timeout=0.2).close()
            waiter.join(0.05)


def make_server(host: str, port: int, render: Callable[[], str]) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"render": staticmethod(render)})
    return _Server((host, port), handler)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="llmslo-exporter-http", daemon=True)
    thread.start()
    return thread
